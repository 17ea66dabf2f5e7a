"""The first start of an agent (no checkpoint) reads every line written after it says it is
listening, and none of the history before (issue 12.3)."""

from __future__ import annotations

from pathlib import Path

from proof_kit import agent_config, console, running_agent, seed_line, wait_until

HISTORY = 50
NEW = 400


async def test_lines_appended_right_after_listening_are_read(tmp_path: Path) -> None:
    """Failed on e629b84 (all 400 new lines skipped): the tail took its start offset only
    when its task first ran, after ``start`` returned, so lines appended in between counted
    as history."""
    log = tmp_path / "app.log"
    log.write_bytes(b"".join(seed_line(n) for n in range(HISTORY)))
    async with running_agent(agent_config(tmp_path, tail=[str(log)])) as agent:
        # What a user does on "listening on": write at once, before anything else runs.
        with log.open("ab") as file:
            file.write(b"".join(seed_line(n) for n in range(HISTORY, HISTORY + NEW)))
        async with console(agent.url, since_seq=0) as (_ws, recorded):
            await wait_until(lambda: len(recorded.numbers()) >= NEW, what=f"{NEW} lines")
    assert recorded.numbers() == list(range(HISTORY, HISTORY + NEW))
