"""Hostile log lines travel the real path: websocket frame → AgentClient → EventBuffer → LogView."""

from __future__ import annotations

import asyncio

from injection_corpus import FORBIDDEN_CHARS, INJECTION_CORPUS
from textual.app import App, ComposeResult
from websockets.asyncio.server import ServerConnection, serve

from obsview.common.protocol import Events, Hello, LogEvent, Message, encode, encode_events
from obsview.tui.client import AgentClient, ConnectionState
from obsview.tui.model import EventBuffer
from obsview.tui.widgets.log_view import LogView


def _encodable(text: str) -> bool:
    # JSON (and so the wire) cannot carry lone surrogates; the agent never sends them.
    return not any(0xD800 <= ord(char) <= 0xDFFF for char in text)


WIRE_CORPUS = [text for _, text in INJECTION_CORPUS if _encodable(text)]


class WiredApp(App[None]):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.buffer = EventBuffer()
        self.states: list[ConnectionState] = []
        self.client = AgentClient(url, on_message=self.on_agent_message, on_state=self.states.append,
                                  since_seq=lambda: self.buffer.last_seq or None)

    def compose(self) -> ComposeResult:
        yield LogView(self.buffer, time_format=lambda ts: "00:00:00.000")

    def on_mount(self) -> None:
        self.run_worker(self.client.run(), exit_on_error=False)
        self.set_interval(0.05, self.query_one(LogView).refresh_from_buffer)

    def on_agent_message(self, message: Message) -> None:
        if isinstance(message, Events):
            self.buffer.append(message.events)


async def test_hostile_lines_from_the_wire_are_shown_literally() -> None:
    events = [
        LogEvent(ts=float(i), level="WARN", message=text, seq=i + 1, trace_id=text[:16], raw=text)
        for i, text in enumerate(WIRE_CORPUS)
    ]

    async def agent(ws: ServerConnection) -> None:
        await ws.send(encode(Hello(agent_version="0.1.0", host="[bold]h", service="\x1b]0;x\x07",
                                   seq=len(events), started_at=1.0)))
        await ws.recv()  # subscribe
        await ws.send(encode_events(events))
        await ws.wait_closed()

    async with serve(agent, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        app = WiredApp(url)
        async with app.run_test(size=(120, 60)) as pilot:
            async with asyncio.timeout(5):
                while app.buffer.total < len(events):
                    await pilot.pause(0.02)
            view = app.query_one(LogView)
            view.action_first()
            await pilot.pause()
            rows = [view.render_line(y).text for y in range(view.scrollable_content_region.height)]
            assert app.is_running
            assert any("[bold]not bold[/bold]" in row for row in rows)
            assert any("[@click=app.quit]click me[/]" in row for row in rows)
            for row in rows:
                assert not (set(row) & FORBIDDEN_CHARS), row
            await app.client.close()
    assert app.states[-1].status == "closed"
