"""Operator input and huge events are bounded, and no frame over the console's cap is sent.

Real agent, real websocket console (accepting frames up to the console's own cap, as the
console does): e629b84 accepted a silence of 1e308 s and 900 KB reasons, and sent a 9 MB
Alerts frame every console closed on (1009) and met again on every reconnect.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from proof_kit import agent_config, console, running_agent, wait_until

from obsview.backend.signals.alerts import MAX_NOTE_CHARS, MAX_SILENCE_S, MAX_SILENCES
from obsview.common.protocol import MAX_FRAME_BYTES, Ack, Alerts, Error, LogEvent, Silence, encode

MATCHERS = {"alertname": "HighErrorRate"}


async def command_errors(tmp_path: Path, commands: list[Ack | Silence]) -> tuple[list[str], Alerts | None]:
    """Send ``commands`` from one console; the errors it got back and the last Alerts frame."""
    async with running_agent(agent_config(tmp_path)) as agent:
        async with console(agent.url, max_size=MAX_FRAME_BYTES) as (ws, recorded):
            for command in commands:
                await ws.send(encode(command).decode())
            await wait_until(
                lambda: len([m for m in recorded.other if isinstance(m, Error)])
                + len(agent.alerts.silences()) >= len(commands),
                what="an answer to every command",
            )
            await asyncio.sleep(0.05)  # the Alerts broadcast after the last accepted command
            errors = [m.message for m in recorded.other if isinstance(m, Error)]
            alerts = [m for m in recorded.other if isinstance(m, Alerts)]
            return errors, alerts[-1] if alerts else None


async def test_a_silence_longer_than_the_bound_is_refused(tmp_path: Path) -> None:
    errors, _ = await command_errors(tmp_path, [
        Silence(matchers=MATCHERS, duration_s=1e308, by="ops"),
        Silence(matchers=MATCHERS, duration_s=MAX_SILENCE_S + 1, by="ops"),
    ])
    assert len(errors) == 2 and all("at most 90 days" in e for e in errors)


async def test_huge_reasons_and_notes_are_refused_and_the_alerts_frame_stays_small(tmp_path: Path) -> None:
    huge = "r" * 900_000
    commands: list[Ack | Silence] = [Silence(matchers=MATCHERS, duration_s=60, by="ops", reason=huge) for _ in range(10)]
    commands.append(Ack(fingerprint="whatever", by="ops", note=huge))
    commands.append(Silence(matchers=MATCHERS, duration_s=60, by="ops", reason="r" * MAX_NOTE_CHARS))
    errors, alerts = await command_errors(tmp_path, commands)
    assert len(errors) == 11 and all(f"at most {MAX_NOTE_CHARS}" in e for e in errors)
    assert alerts is not None and len(alerts.silences) == 1
    assert len(encode(alerts)) < 10_000


async def test_the_number_of_silences_is_bounded(tmp_path: Path) -> None:
    commands: list[Ack | Silence] = [
        Silence(matchers={"n": str(n)}, duration_s=60, by="ops") for n in range(MAX_SILENCES + 5)
    ]
    errors, alerts = await command_errors(tmp_path, commands)
    assert len(errors) == 5 and all(f"{MAX_SILENCES} silences are active" in e for e in errors)
    assert alerts is not None and len(alerts.silences) == MAX_SILENCES


async def test_an_event_too_big_for_a_frame_arrives_cut_down(tmp_path: Path) -> None:
    async with running_agent(agent_config(tmp_path)) as agent:
        async with console(agent.url, max_size=MAX_FRAME_BYTES) as (ws, recorded):
            await agent.ingest([
                LogEvent(ts=1.0, level="ERROR", message="m" * (MAX_FRAME_BYTES + 10), trace_id="t-1"),
                LogEvent(ts=2.0, level="INFO", message="after"),
            ])
            await wait_until(lambda: len(recorded.events) == 2, what="both events")
            assert not recorded.closed
    big, after = recorded.events
    assert (big.level, big.trace_id, big.truncated) == ("ERROR", "t-1", True)
    assert big.message.startswith("mmm") and len(big.message) < MAX_FRAME_BYTES // 8
    assert after.message == "after"
