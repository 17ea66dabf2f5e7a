"""Always-visible state: the connection, long work under way, the agent, stream losses, levels,
filter counts, follow."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar, Final

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from obsview.common.protocol import LEVELS, SOURCE_STATE_LABELS, CatchUp, Hello, SourceStatus
from obsview.tui.render import safe_text
from obsview.tui.widgets.quiet import show_text
from obsview.tui.widgets.units import counted, format_age, format_bytes, format_count

if TYPE_CHECKING:
    from obsview.tui.client import ConnectionState


#: Connection kinds the dashboard reports, and the CSS class that colours each.
CONNECTION_CLASSES: Final = {
    "connected": "-ok",
    "connecting": "-warn",
    "reconnecting": "-warn",
    "unreachable": "-bad",
    "auth": "-bad",
    "stopped": "-bad",
    "offline": "-muted",
}
_SYMBOLS: Final = {"-ok": "●", "-warn": "◌", "-bad": "✖", "-muted": "○"}
_SHORT_LEVELS: Final = {"ERROR": "ERR", "WARN": "WRN", "INFO": "INF", "DEBUG": "DBG", "TRACE": "TRC"}

#: The status line's shortenings (see StatusBar._fit_stream_line), by the stage that brings
#: each in: 0 is everything in full, 1 drops the levels' caption.
_SHORT_COUNT_AT: Final = 2
_SHORT_LEVELS_AT: Final = 3
_BARE_FIND_AT: Final = 4
_MATCH_ONLY_AT: Final = 5
_STAGES: Final = 6
#: A query shortened on the status line keeps this many cells (with its ellipsis).
_SHORT_QUERY: Final = 16
#: Each part of the status line is padded by one cell either side.
_PADDING: Final = 2
_SEP: Final = " · "


def _cells(parts: tuple[Text, ...]) -> int:
    """The cells ``parts`` take on the status line (an empty one is not shown)."""
    return sum(_PADDING + part.cell_len for part in parts if part)


#: The agent's counters (``MetricsSnapshot.agent``) that count something lost or unread, and
#: how the status bar names them (the thing counted, what befell it); shown only when not zero.
AGENT_LOSSES: Final = (
    ("notify_dropped", "notification", "dropped"),
    ("notify_gave_up", "notification", "undelivered"),
    ("store_evicted", "event", "evicted from its buffer"),
    ("journal_dropped", "event", "not written to history"),
    ("tail_rotations_lost", "rotated file", "not read"),
    ("otlp_records_rejected", "OTLP record", "rejected"),
    ("parse_errors", "line", "not parsed"),
    ("truncated", "line", "truncated"),
    ("too_deep", "line", "cut at its nesting limit"),
    ("normalize_failures", "line", "unreadable"),
    ("ingest_errors", "batch", "not fully ingested"),
    ("trace_spans_dropped", "span", "too big to keep"),
    ("otlp_spans_rejected", "OTLP span", "rejected"),
    ("tcp_auth_refused", "TCP sender", "refused without the token"),
    ("tcp_connections_refused", "TCP sender", "refused (too many)"),
    ("tcp_connections_evicted", "TCP sender", "cut off for a newer one"),
    ("otlp_connections_refused", "OTLP sender", "refused (too many)"),
    ("otlp_connections_evicted", "OTLP sender", "cut off for a newer one"),
    ("alert_state_write_failures", "alert state save", "failed"),
    ("notify_state_write_failures", "notification state save", "failed"),
    ("tail_checkpoint_write_failures", "file offset save", "failed"),
)
"""Counters the agent sends that are not here count what is not a loss, or not this
console's: events, requests and connections served, secrets redacted, retention (the history
screen says it), other consoles' slow links (this console's own drops come as ``Dropped``),
and frames a console sent too big (the agent refused them). tests/tui/app/test_agent_losses.py
holds the list, read off a real agent."""
#: An agent with a journal sends this counter: the events its RAM buffer evicts are still on
#: disk (H searches them), not lost; those its journal could not take are.
_JOURNALED: Final = "journal_written"


def describe_catch_up(progress: CatchUp, *, short: bool = False) -> str:
    """``agent catching up: 45 % of 338.0 MB · 180,512 lines/s · 4s left`` (``short``:
    ``catching up 45 %``)."""
    percent = 100 * progress.read_bytes // progress.total_bytes if progress.total_bytes else None
    if short:
        return "catching up" if percent is None else f"catching up {percent} %"
    text = "agent catching up"
    if percent is not None:
        text += f": {percent} % of {format_bytes(progress.total_bytes)}"
    text += f" · {format_count(round(progress.lines_per_s))} lines/s"
    if progress.eta_s is not None:
        text += f" · {format_age(progress.eta_s)} left"
    return text


def describe_connection(state: ConnectionState, *, demo_key: bool = False) -> tuple[str, str]:
    """(kind, one short line) for the status bar. An agent that never answered is
    "unreachable"; one that answered before is "reconnecting"."""
    url = state.url
    # Rounded up: "in 1s" until the attempt, never "in 0s" before it.
    retry = f"retrying in {math.ceil(state.retry_in)}s" if state.retry_in is not None else "retrying now"
    if state.status == "connected" and state.unanswered_s is not None:
        return "reconnecting", f"connected to {url}, agent not answering for {format_age(state.unanswered_s)}"
    if state.status == "connected":
        return "connected", f"connected to {url}"
    if state.status == "connecting":
        return "connecting", f"connecting to {url}…"
    if state.status == "reconnecting" and state.hello is not None:
        reason = f" ({state.last_error})" if state.last_error else ""
        return "reconnecting", f"lost {url}{reason}, {retry}"
    if state.status == "reconnecting":
        hint = " · d starts the demo" if demo_key else ""
        return "unreachable", f"cannot reach agent at {url}, {retry}{hint}"
    if state.status == "auth_failed":
        return "auth", f"{url} refused the token: {state.last_error} (not retrying)"
    return "offline", f"disconnected from {url}"


def connection_help(state: ConnectionState, *, demo_key: bool = False) -> str:
    """The longer explanation shown in place of the log while there is nothing to show."""
    if state.status == "auth_failed":
        return (
            f"The agent at {state.url} refused the token ({state.last_error}).\n\n"
            "Give the console the agent's token:  obsview --token-file FILE\n"
            "On the agent's machine:              obsview-agent --print-token"
        )
    if state.status == "connected":
        return f"Connected to {state.url}. Waiting for log events…"
    reason = f" ({state.last_error})" if state.last_error else ""
    lines = [
        f"Cannot reach agent at {state.url}{reason}.",
        "Retrying on its own; nothing else to do if it is starting.",
        "",
        "Start one:",
        "    obsview demo                     a demo service with live traffic",
        "    obsview-agent --tail app.log     your service's log file",
    ]
    if demo_key:
        lines += ["", "Or press d to start the demo inside this console."]
    return "\n".join(lines)


class StatusBar(Vertical):
    """Two lines docked at the bottom: the connection on top, the stream's state below."""

    DEFAULT_CSS = """
    StatusBar { height: 2; background: $panel; }
    StatusBar > Horizontal { height: 1; }
    StatusBar Static { width: auto; padding: 0 1; }
    StatusBar #sb-connection { width: 1fr; }
    StatusBar .-ok { color: $success; }
    StatusBar .-warn { color: $warning; }
    StatusBar .-bad { color: $error; text-style: bold; }
    StatusBar .-muted { color: $text-muted; }
    StatusBar #sb-agent { color: $text-muted; }
    StatusBar #sb-progress { color: $warning; display: none; }
    StatusBar #sb-sources { color: $text-muted; display: none; }
    StatusBar #sb-sources.-warn { color: $warning; }
    StatusBar #sb-sources.-bad { color: $error; text-style: bold; }
    StatusBar #sb-stream { width: 1fr; color: $warning; text-align: right; text-wrap: nowrap;
                           text-overflow: ellipsis; }
    StatusBar #sb-follow.-paused { color: $warning; text-style: bold; }
    """

    #: Narrower than this, the levels lose their "levels" caption so the filter stays visible.
    COMPACT_BELOW: ClassVar[int] = 100

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._levels: frozenset[str] = frozenset(LEVELS)
        self._count: tuple[int, int, str] | None = None
        self._find: tuple[str, int | None, int] = ("", None, 0)
        self._catch_up: CatchUp | None = None
        self._follow: tuple[bool, int] = (True, 0)
        self._held = ""

    def on_resize(self) -> None:
        self._fit_stream_line()

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static(Text("○ not connected"), id="sb-connection", classes="-muted")
            yield Static(Text(), id="sb-progress")
            yield Static(Text(), id="sb-sources")
            yield Static(Text(), id="sb-agent")
        with Horizontal():
            yield Static(self.levels_text(frozenset(LEVELS)), id="sb-levels")
            yield Static(Text(), id="sb-count")
            yield Static(Text(), id="sb-find")
            yield Static(Text(), id="sb-stream")
            yield Static(Text("following"), id="sb-follow")

    def show_connection(self, kind: str, message: str) -> None:
        """``kind`` is a key of :data:`CONNECTION_CLASSES`; ``message`` may contain a URL."""
        css = CONNECTION_CLASSES.get(kind, "-muted")
        label = self.query_one("#sb-connection", Static)
        show_text(label, Text(f"{_SYMBOLS[css]} ") + safe_text(message, max_len=300))
        label.remove_class(*_SYMBOLS)
        label.add_class(css)

    def show_progress(self, text: str) -> None:
        """Long work under way (the agent's replay arriving, a file being written); "" when
        there is none."""
        label = self.query_one("#sb-progress", Static)
        label.display = bool(text)
        show_text(label, text)

    def show_agent(self, hello: Hello | None) -> None:
        label = self.query_one("#sb-agent", Static)
        if hello is None:
            show_text(label, "")
            return
        text = Text("agent ")
        text.append_text(safe_text(hello.agent_version, max_len=32))
        text.append(" · ")
        if hello.service:
            text.append_text(safe_text(hello.service, max_len=40))
            text.append("@")
        text.append_text(safe_text(hello.host or "unknown host", max_len=60))
        show_text(label, text)

    def show_sources(self, sources: Sequence[SourceStatus]) -> None:
        """The agent's log sources: a count while all read; each one that does not, with
        its state (and why it restarts)."""
        label = self.query_one("#sb-sources", Static)
        idle = [source for source in sources if source.state != "reading"]
        label.set_class(any(s.state == "restarting" for s in idle), "-bad")
        label.set_class(bool(idle) and not label.has_class("-bad"), "-warn")
        label.display = bool(sources)
        if not idle:
            reading = len(sources)
            show_text(label, f"{counted(reading, 'source')} reading")
            return
        text = Text()
        for source in idle:
            if text:
                text.append(" · ")
            text.append_text(safe_text(source.name, max_len=120))
            text.append(" ")  # off the wire: cleaned like the name
            text.append_text(safe_text(SOURCE_STATE_LABELS.get(source.state, source.state), max_len=20))
            if source.state == "restarting":  # why, and how often (what it waits for is
                text.append(f" ({source.restarts}): ")  # its name: /api/health has both)
                text.append_text(safe_text(source.detail, max_len=80))
        show_text(label, text)

    def show_stream(self, *, gap: int, dropped: int, evicted: int, agent: Mapping[str, int] | None = None,
                    spans_lost: int = 0, catch_up: CatchUp | None = None, skipped: int = 0) -> None:
        """The agent's catch-up on a backlog (shown in the count's place) and the older events
        it holds (not lost: scroll back); then events lost on the way: resumed too late (gap), slow link (dropped),
        buffer full; spans lost either way; then what the agent itself lost or could not
        read (its own counters)."""
        self._catch_up = catch_up  # in the count's place (see _stream_line)
        parts = []
        if skipped:
            parts.append(f"{counted(skipped, 'older event')} at the agent (scroll up)")
        if gap:
            parts.append(f"gap of {counted(gap, 'event')}")
        if dropped:
            parts.append(f"{format_count(dropped)} dropped by a slow link")
        if evicted:
            parts.append(f"{format_count(evicted)} oldest evicted")
        if spans_lost:
            parts.append(f"{counted(spans_lost, 'span')} lost")
        counters = agent or {}
        journaled = _JOURNALED in counters
        losses = [f"{counted(counters[key], noun)} {what}" for key, noun, what in AGENT_LOSSES
                  if counters.get(key) and not (journaled and key == "store_evicted")]
        if losses:
            parts.append("agent: " + ", ".join(losses))
        # Shown even when empty: it is the room between the find and the follow state.
        show_text(self.query_one("#sb-stream", Static), " · ".join(parts))
        self._fit_stream_line()

    def show_levels(self, levels: frozenset[str]) -> None:
        self._levels = levels
        self._fit_stream_line()

    @staticmethod
    def levels_text(levels: frozenset[str], *, caption: bool = True, short: bool = False) -> Text:
        """``levels 1ERR 2WRN 3INF 4DBG 5TRC`` (``short``: ``1E 2W 3I 4D 5T``): active ones
        bold, inactive ones struck through."""
        text = Text("levels " if caption else "")
        for number, level in enumerate(LEVELS, start=1):
            if number > 1:
                text.append(" ")
            active = level in levels
            name = _SHORT_LEVELS[level][0] if short else _SHORT_LEVELS[level]
            text.append(f"{number}{name}", style="bold" if active else "dim strike")
        return text

    def show_count(self, matched: int, total: int, filter_text: str) -> None:
        self._count = (matched, total, filter_text)
        self._fit_stream_line()

    def show_find(self, query: str, rank: int | None, count: int) -> None:
        """``find timeout · match 3 of 41``: the find query and where the cursor is among its
        matches (``41 matches`` when the cursor is on none of them)."""
        self._find = (query, rank, count)
        self._fit_stream_line()

    def _fit_stream_line(self) -> None:
        """The second line, shortened in turn until it fits (at 80 columns it does not): the
        levels' caption goes, then the count's words, the levels' names, the find query, and
        the filter query is cut to the room left. The find's "match k of n" and the follow
        state ("paused · N new") stay whole; the stream's losses take what is left, cut with
        an ellipsis."""
        width = self.size.width
        follow = self.query_one("#sb-follow", Static).content
        # The follow state, and the stream's padding (its text takes what is left).
        fixed = 2 * _PADDING + (follow.cell_len if isinstance(follow, Text) else len(str(follow)))
        for stage in range(_STAGES):
            if stage == 0 and 0 < width < self.COMPACT_BELOW:
                continue  # the caption only where there is room to spare
            parts = self._stream_line(stage)
            if not width or fixed + _cells(parts) <= width:
                break
        else:
            # Still too wide: the filter query gets the room left (with none, the count still
            # says that the filter hides some).
            room = width - fixed - _cells(self._stream_line(stage, filter_cells=0)) - len(_SEP)
            parts = self._stream_line(stage, filter_cells=room if room >= _SHORT_QUERY // 2 else 0)
        levels, count, find = parts
        show_text(self.query_one("#sb-levels", Static), levels)
        show_text(self.query_one("#sb-count", Static), count)
        label = self.query_one("#sb-find", Static)
        show_text(label, find)
        label.display = bool(find)

    def _stream_line(self, stage: int, *, filter_cells: int | None = None) -> tuple[Text, Text, Text]:
        """The levels, the count and the find as shortened at ``stage`` (0: in full), the
        filter query cut at ``filter_cells`` if given (0: left out)."""
        levels = self.levels_text(self._levels, caption=stage == 0, short=stage >= _SHORT_LEVELS_AT)
        count = Text()
        if self._count is not None:
            matched, total, filter_text = self._count
            short = stage >= _SHORT_COUNT_AT
            if self._catch_up is not None:
                # The window of newest events is replaced as the agent reads on: its count
                # went 1,000, 0 (shown as "0 of 0 events"), 250, 1,000… The progress instead.
                count.append(describe_catch_up(self._catch_up, short=short))
            elif short:
                count.append(f"{format_count(matched)}/{format_count(total)}")
            else:
                count.append(f"{format_count(matched)} of {counted(total, 'event')}")
            cells = _SHORT_QUERY if filter_cells is None else filter_cells
            if filter_text and (cells or not short):
                count.append(_SEP if short else f"{_SEP}filter ")
                shown_filter = safe_text(filter_text, style="bold", max_len=120)
                if short:
                    shown_filter.truncate(cells, overflow="ellipsis")
                count.append_text(shown_filter)
        query, rank, found = self._find
        find = Text()
        if query:
            if stage < _BARE_FIND_AT:
                find.append("find ")
            if stage < _MATCH_ONLY_AT:
                shown = safe_text(query, style="bold", max_len=60)
                if stage >= _BARE_FIND_AT:
                    shown.truncate(_SHORT_QUERY, overflow="ellipsis")
                find.append_text(shown)
                find.append(" · ")
            if not found:
                find.append("no match")
            elif rank is None:
                find.append(counted(found, "match", "matches"))
            else:
                find.append(f"match {format_count(rank)} of {format_count(found)}")
        return levels, count, find

    def show_follow(self, *, following: bool, new: int) -> None:
        self._follow = (following, new)
        self._show_follow()

    def show_held(self, reason: str) -> None:
        """Why no events come (``replay paused``), or ``""`` once they come again. A log at
        its newest line then waits there: it says why rather than "following" (a paused
        replay's status said "paused" above "following")."""
        self._held = reason
        self._show_follow()

    def _show_follow(self) -> None:
        following, new = self._follow
        label = self.query_one("#sb-follow", Static)
        if not following:  # the log's own pause, held or not
            show_text(label, f"paused · {format_count(new)} new")
        else:
            show_text(label, self._held or "following")
        label.set_class(not following or bool(self._held), "-paused")
        self._fit_stream_line()
