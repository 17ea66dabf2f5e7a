"""A file tail whose offsets the journal commits: each batch is handed on with its position,
and a restart from the journal's copy reads on from exactly after the last event it holds,
a batch committed in part included. On real files, with numbered lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tail_files import append, entries, lines, run_until, tail

from obsview.backend.ingest.sources.checkpoint import Position
from obsview.common.protocol import LogEvent


class Positioned:
    """An ``emit`` that keeps each batch's position, as the agent hands it to the journal."""

    def __init__(self) -> None:
        self.events: list[LogEvent] = []
        self.batches: list[tuple[list[int], Position | None]] = []

    async def __call__(self, events: list[LogEvent], position: Position | None = None) -> None:
        self.events.extend(events)
        self.batches.append(([int(e.extra["n"]) for e in events], position))

    def numbers(self) -> list[int]:
        return [int(e.extra["n"]) for e in self.events]


async def test_a_batch_committed_in_part_is_read_again_without_what_was_stored(
    tmp_path: Path, wait_until: Any
) -> None:
    log, offsets = tmp_path / "app.log", tmp_path / "tail-offsets.json"
    log.write_bytes(lines(range(100)))
    first = Positioned()
    await run_until(tail(log, offsets, from_start=True, journaled=True, batch_lines=40), first,
                   wait_until, 100)
    assert first.numbers() == list(range(100))
    start, *batches = first.batches
    assert start[0] == [] and start[1] is not None, "where reading starts, before any line"
    assert [numbers[0] for numbers, _position in batches] == [0, 40, 80]
    assert entries(offsets)[0]["offset"] == log.stat().st_size
    # The journal holds lines 0-54: the first batch and 15 events of the second.
    (_numbers, second), = [batch for batch in batches if batch[0][0] == 40]
    assert second is not None
    committed = second.encode(15)
    assert committed is not None

    append(log, lines(range(100, 110)))  # written while the agent was down
    after = Positioned()
    await run_until(tail(log, offsets, journaled=True, journal_checkpoint=committed), after,
                   wait_until, 55)
    assert after.numbers() == list(range(55, 110)), "the journal's copy wins over the file's"
    assert entries(offsets)[0]["offset"] == log.stat().st_size
    assert "skip" not in entries(offsets)[0]


async def test_offsets_saved_since_by_an_agent_without_a_journal_win_over_the_journals(
    tmp_path: Path, wait_until: Any
) -> None:
    log, offsets = tmp_path / "app.log", tmp_path / "tail-offsets.json"
    log.write_bytes(lines(range(50)))
    journaled = Positioned()
    await run_until(tail(log, offsets, from_start=True, journaled=True), journaled, wait_until, 50)
    position = journaled.batches[-1][1]
    assert position is not None
    committed = position.encode(position.events)

    append(log, lines(range(50, 80)))
    unjournaled = Positioned()  # history = false for a while: the journal is not told
    await run_until(tail(log, offsets), unjournaled, wait_until, 30)
    assert unjournaled.numbers() == list(range(50, 80))
    assert all(position is None for _numbers, position in unjournaled.batches)

    append(log, lines(range(80, 90)))
    again = Positioned()
    await run_until(tail(log, offsets, journaled=True, journal_checkpoint=committed), again, wait_until, 10)
    assert again.numbers() == list(range(80, 90)), "not 50-89: the file is newer than the journal"


async def test_a_source_restarted_in_process_resumes_from_its_file_not_the_journals_first_copy(
    tmp_path: Path, wait_until: Any
) -> None:
    log, offsets = tmp_path / "app.log", tmp_path / "tail-offsets.json"
    log.write_bytes(lines(range(20)))
    emit = Positioned()
    seed = tail(log, offsets, from_start=True, journaled=True)
    await run_until(seed, emit, wait_until, 20)
    position = emit.batches[-1][1]
    assert position is not None
    committed = position.encode(position.events)

    append(log, lines(range(20, 40)))
    source = tail(log, offsets, journaled=True, journal_checkpoint=committed)
    emit = Positioned()
    await run_until(source, emit, wait_until, 20)
    append(log, lines(range(40, 45)))
    await run_until(source, emit, wait_until, 25)  # the supervisor runs it again after a failure
    assert emit.numbers() == list(range(20, 45))
