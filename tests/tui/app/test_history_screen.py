"""The history screen on pages made here (no agent): what its summary says and where its
keys go, query by query."""

from __future__ import annotations

from app_test_support import screen_lines
from textual.app import App

from obsview.common.filters import Filter
from obsview.common.protocol import LogEvent, Message, Query, QueryPage
from obsview.tui.screens.history import PAGE, HistoryScreen
from obsview.tui.widgets.units import format_progress


def events(first_seq: int, count: int) -> tuple[LogEvent, ...]:
    return tuple(LogEvent(ts=1_795_532_400.0 + seq, level="INFO", message=f"event {seq}", seq=seq)
                 for seq in range(first_seq, first_seq + count))


class Console(App[None]):
    """Only the history screen, over what it sends."""

    def __init__(self, *, before_seq: int | None = None) -> None:
        super().__init__()
        self.sent: list[Message] = []
        self.before_seq = before_seq

    def on_mount(self) -> None:
        self.push_screen(HistoryScreen(Filter(), before_seq=self.before_seq, send=self.sent.append,
                                       time_format=lambda ts: "10:00:00.000", title="History"))

    @property
    def history(self) -> HistoryScreen:
        assert isinstance(self.screen, HistoryScreen)
        return self.screen

    def last_query(self) -> Query:
        query = self.sent[-1]
        assert isinstance(query, Query)
        return query


def test_progress_never_reads_0_once_begun_nor_100_before_the_end() -> None:
    assert format_progress(0, 199_500) == "0 %"
    assert format_progress(500, 199_500) == "<1 %"
    assert format_progress(9_975, 199_500) == "5 %"
    assert format_progress(199_000, 199_500) == ">99 %"
    assert format_progress(199_500, 199_500) == "100 %"
    assert format_progress(5, 0) == "0 %"


async def test_the_summary_counts_what_every_page_scanned_with_an_honest_share() -> None:
    """Scrolling back read "1,000 shown · scanned 500 of 5,011 (10 %)": each page is its own
    query, and only the last one's figures were shown; a first page of a long history read
    "scanned 500 of 199,500 (0 %)"."""
    app = Console(before_seq=199_501)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        history = app.history
        query = app.last_query()
        assert query.before_seq == 199_501 and query.history
        history.receive(QueryPage(query.id, events(199_001, PAGE), next_seq=199_001, scanned=500,
                                  matched=500, to_scan=199_500, oldest_seq=1, done=True))
        await pilot.pause()
        assert "500 shown · scanned 500 of 199,500 (<1 %)" in screen_lines(app)[0]
        history.ask_older()
        query = app.last_query()
        assert query.before_seq == 199_001
        history.receive(QueryPage(query.id, events(198_501, PAGE), next_seq=198_501, scanned=500,
                                  matched=500, to_scan=199_000, oldest_seq=1, done=True))
        await pilot.pause()
        assert "1,000 shown · scanned 1,000 of 199,500 (<1 %)" in screen_lines(app)[0]
