"""One meaning of "the events of trace X" from the agent to the console (issue 12.15): the
filter language's ``trace:`` (the console's filter, and the agent's for a query) and the
console's trace timeline all match the trace or request ID exactly, so ``req-1`` never brings
``req-10`` or ``req-1234`` along."""

from __future__ import annotations

from pathlib import Path

from proof_kit import agent_config, console, running_agent, seed_line, wait_until

from obsview.common.filters import parse_filter
from obsview.tui.model import EventBuffer

NUMBERS = (1, 10, 1234, 2)


async def test_req_1_is_not_req_10_anywhere(tmp_path: Path) -> None:
    """Failed on e629b84: the console's filter matched a prefix (3 events for ``trace-1``)."""
    log = tmp_path / "app.log"
    log.touch()
    config = agent_config(tmp_path, tail=[str(log)], from_start=True)
    async with running_agent(config) as agent:
        async with console(agent.url) as (_ws, everything):
            with log.open("ab") as file:
                file.write(b"".join(seed_line(n) for n in NUMBERS))
            await wait_until(lambda: len(everything.events) == len(NUMBERS), what="all lines")
    assert [e.extra["n"] for e in everything.events if parse_filter("trace:req-1").matches(e)] == [1]
    buffer = EventBuffer(100)
    buffer.append(everything.events)
    exact = parse_filter("trace:trace-1")
    assert [e.extra["n"] for e in everything.events if exact.matches(e)] == [1]
    prefix = parse_filter("trace:trace-1*")
    assert [e.extra["n"] for e in everything.events if prefix.matches(e)] == [1, 10, 1234]
    assert [e.extra["n"] for e in buffer.trace("req-1")] == [1]
    assert [e.extra["n"] for e in buffer.trace("trace-10")] == [10]
