"""A console that stops reading costs the agent a bounded queue, costs the other consoles
nothing, and is told exactly how many events it lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

from proof_kit import Recorded, agent_config, console, make_events, record_into, running_agent, wait_until
from websockets.asyncio.client import connect

from obsview.common.protocol import Ping, Pong, Subscribe, decode, encode

QUEUE_BOUND = 1000
TOTAL = 12_000
BATCH = 250
PADDING = "x" * 1500  # big events fill the kernel's socket buffers quickly


async def test_stalled_console_is_bounded_and_told_and_others_get_everything(tmp_path: Path) -> None:
    config = agent_config(tmp_path, client_queue_events=QUEUE_BOUND, store_capacity=TOTAL)
    async with running_agent(config) as agent:
        # The stalled console: subscribes, then reads nothing (max_queue=1 makes the client
        # library stop reading the socket, so the kernel buffers fill and the agent's send blocks).
        async with connect(agent.url, max_queue=1, close_timeout=1) as stalled, \
                console(agent.url) as (_fast_ws, fast):
            await stalled.send(encode(Subscribe()).decode())
            await stalled.send(encode(Ping(nonce=7)).decode())
            # Read up to the pong: the subscribe is applied. From here on it reads nothing.
            while not isinstance(decode(await asyncio.wait_for(stalled.recv(), 5)), Pong):
                pass

            worst = 0
            for start in range(0, TOTAL, BATCH):
                events = make_events(BATCH, start)
                for event in events:
                    event.message += PADDING
                await agent.ingest(events)
                worst = max(worst, *agent.server.queued_events())
                # Paced by the healthy console: it keeps up, the stalled one cannot.
                done = start + BATCH
                await wait_until(lambda: len(fast.numbers()) >= done, what=f"fast console at {done}")

            assert worst <= QUEUE_BOUND, f"a console's queue grew to {worst} events"
            assert fast.numbers() == list(range(TOTAL))
            assert fast.dropped == []
            assert agent.server.dropped_total > 0, "the stalled console never filled its queue"

            # The stalled console reads again: what it receives plus what it is told it lost
            # is exactly what was sent — no silent loss.
            slow = Recorded()
            reader = asyncio.create_task(record_into(stalled, slow))
            try:
                await wait_until(
                    lambda: len(slow.numbers()) + sum(d.count for d in slow.dropped) >= TOTAL,
                    what="the stalled console to catch up",
                )
                received = slow.numbers()
                told = sum(d.count for d in slow.dropped)
                assert told > 0
                assert len(received) + told == TOTAL
                assert slow.dropped[-1].total == agent.server.dropped_total
                assert received == sorted(received), "drops must not reorder the stream"
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
