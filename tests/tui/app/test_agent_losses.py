"""Every counter a real agent sends its consoles either reaches the status bar when it is not
zero, or is on the list below with the reason it is not a loss of this console's: a counter
added to the agent and forgotten by the console fails here (issue 17: outbox drops were sent
every second and never shown)."""

from __future__ import annotations

from pathlib import Path

from test_widgets import Harness, assert_clean
from textual.widgets import Static

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.tui.widgets.status_bar import AGENT_LOSSES, StatusBar

NOT_LOSSES = {
    "events_ingested": "events read",
    "redacted": "secrets replaced: the events are kept",
    "source_restarts": "a source restarted: what it lost is counted by its own counters",
    "journal_written": "events kept on disk",
    "journal_retention_dropped": "the retention the user set: said on the history screen",
    "dropped_to_clients": "every console's slow-link drops: this console's come as Dropped",
    "skipped_to_clients": "a backlog not streamed: 'N older events at the agent (scroll up)'",
    "connections_total": "served", "connections_refused": "consoles refused (too many)",
    "connections_evicted": "consoles replaced by newer ones",
    "oversized_frames": "frames a console sent too big: refused, not events",
    "notify_sent": "delivered", "notify_repeats": "reminders sent",
    "notify_suppressed": "held back by silences and acks, as asked",
    "notify_failed_attempts": "retried: notify_gave_up counts the undelivered",
    "notify_task_restarts": "a restarted sender: notify_dropped counts what it lost",
    "trace_spans_duplicate": "a span received twice: kept once",
    "trace_spans_evicted": "old traces making room, as events are evicted",
    "trace_traces_evicted": "the same, counted by trace",
    "requests_seen_twice": "a request both logged and traced: counted once",
    "tcp_lines_read": "served", "tcp_connections_total": "served",
    "otlp_connections_total": "served", "otlp_requests": "served",
    "otlp_records_accepted": "served", "otlp_spans_accepted": "served",
    "otlp_requests_failed": "answered with an error: the sender retries (OTLP's rule)",
    "otlp_requests_throttled": "answered 429: the sender retries (OTLP's rule)",
}


async def test_every_counter_an_agent_sends_is_shown_or_said_to_be_no_loss(tmp_path: Path) -> None:
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", rules=[],
                         tail=[str(tmp_path / "app.log")], tcp=[("127.0.0.1", 0)], otlp=[("127.0.0.1", 0)])
    agent = Agent(config)
    await agent.start()
    try:
        counters = agent.counters()
    finally:
        await agent.stop()
    shown = {key for key, _noun, _what in AGENT_LOSSES}
    unclassified = sorted(set(counters) - shown - set(NOT_LOSSES))
    assert not unclassified, f"counters neither shown nor said to be no loss: {unclassified}"
    assert not shown & set(NOT_LOSSES)

    bar = StatusBar()
    app = Harness(bar)
    async with app.run_test(size=(200, 4)) as pilot:
        bar.show_stream(gap=0, dropped=0, evicted=0, agent=dict.fromkeys(shown - {"store_evicted"}, 2))
        await pilot.pause()
        assert_clean(app)
        text = str(bar.query_one("#sb-stream", Static).content)
    for key, noun, what in AGENT_LOSSES:
        if key != "store_evicted":
            assert f"2 {noun}" in text and what in text, key
