"""The alert feed: severity, name, value against threshold, peak, since when, state and who
acked. The value is live: now while the alert is pending or firing, ``end`` (its value at the
resolve) once resolved; the comparison shown is the one that holds for that value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from obsview.common.protocol import ALERT_STATES, SEVERITIES, AlertInfo
from obsview.tui.render import safe_text
from obsview.tui.widgets.columns import available_width, clipped, fit_widths, fits, natural_widths
from obsview.tui.widgets.units import format_age, format_ms, format_percent

_STATE_ORDER: Final = {"firing": 0, "pending": 1, "resolved": 2}
_SEVERITY_ORDER: Final = {severity: rank for rank, severity in enumerate(SEVERITIES)}
#: Labels that repeat a column (the rule name, the severity).
_SHOWN_ELSEWHERE: Final = frozenset({"alertname", "severity"})
_SEVERITY_LABELS: Final = {"critical": "CRIT", "warning": "WARN", "info": "INFO"}
#: The states in four letters, for the compact rows of a narrow table.
_SHORT_STATES: Final = {"firing": "FIRE", "pending": "PEND", "resolved": "OK"}
#: Column headers in order of importance: a narrow table cuts from the end of this list.
_COLUMNS: Final = {
    "severity": Text("Sev"),
    "rule": Text("Alert"),
    "value": Text("Now / threshold", justify="right", overflow="ellipsis", no_wrap=True),
    "peak": Text("Peak", justify="right"),
    "state": Text("State"),  # the state, then since when: cut from the right, since goes first
    "ack": Text("Ack"),
}
#: The headers when the value column is narrower than "Now / threshold" (the values show
#: the threshold themselves).
_SHORT_COLUMNS: Final = {**_COLUMNS, "value": Text("Now", justify="right")}
#: The row forms, roomiest first, as (tight numbers, short states, peak): the first whose
#: columns fit beside the name's minimum (:meth:`AlertFeed.name_min`) is shown. Tight
#: numbers lose their spaces in the value and the peak alike (one format in the panel);
#: short states are four letters and an ack a check mark. So the spaces go first, then the
#: peak (it is in /api/alerts and in the maximized panel), then the state words.
_FORMS: Final = (
    (False, False, True),
    (True, False, True),
    (False, False, False),
    (True, False, False),
    (True, True, True),
    (True, True, False),
)
#: A rule's name keeps this many cells, its label values after it, while the forms narrow.
_RULE_MIN: Final = 16
#: What is left of a rule's name that several listed alerts share, so that the label values
#: that tell them apart stay whole ("probe… database"): their rows read alike without them.
_RULE_STUB: Final = 6
#: Columns cut (ellipsis) in the last form when the table is still too narrow, first to last.
_SHRINK_ORDER: Final = (("rule", 8), ("state", 4))
#: Columns then left out altogether, first to last (only in panels narrower than 80×24 gives).
_DROP_ORDER: Final = ("ack", "state")
#: Each comparison as it reads, and the one that holds when it does not (the value is on
#: the other side).
_SYMBOLS: Final = {">": ">", ">=": "≥", "<": "<", "<=": "≤"}
_NEGATED: Final = {">": "≤", ">=": "<", "<": "≥", "<=": ">"}
#: Metrics whose values are states (1 or 0): the state is shown, not a comparison.
_STATE_METRICS: Final = {"probe_unhealthy": ("healthy", "unhealthy")}
_HOLDS: Final = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}


def format_metric_value(metric: str, value: float | None) -> str:
    """A metric value in its unit, guessed from the metric's name."""
    if value is None:
        return "—"
    if metric in _STATE_METRICS:
        return _STATE_METRICS[metric][value >= 1]
    if "error_rate" in metric:
        return format_percent(value)
    if metric.endswith("_ms") or "latency" in metric or "response_time" in metric:
        return format_ms(value)
    if metric.endswith("percent"):
        return f"{value:.0f} %"
    return f"{value:g}"


def sort_alerts(alerts: Sequence[AlertInfo]) -> list[AlertInfo]:
    """Firing first, then pending, then resolved; most severe first within each."""
    return sorted(
        alerts,
        key=lambda a: (
            _STATE_ORDER.get(a.state, 3),
            _SEVERITY_ORDER.get(a.severity, 9),
            -(a.fired_at or a.started_at),
        ),
    )


class AlertFeed(DataTable[Text]):
    """The agent's alerts, one row each; the cursor row is the alert keys act on."""

    ALLOW_MAXIMIZE = True

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        *(f"alert-feed--{severity}" for severity in SEVERITIES),
        *(f"alert-feed--{state}" for state in ALERT_STATES),
        "alert-feed--muted",
    }

    DEFAULT_CSS = """
    AlertFeed > .alert-feed--critical { color: $error; text-style: bold; }
    AlertFeed > .alert-feed--warning { color: $warning; }
    AlertFeed > .alert-feed--info { color: $accent; }
    AlertFeed > .alert-feed--firing { color: $error; text-style: bold; }
    AlertFeed > .alert-feed--pending { color: $warning; }
    AlertFeed > .alert-feed--resolved { color: $success; }
    AlertFeed > .alert-feed--muted { color: $text-muted; }
    """

    class Selected(Message):
        """The cursor moved onto an alert."""

        def __init__(self, alert: AlertInfo) -> None:
            super().__init__()
            self.alert = alert

    class LogsRequested(Message):
        """Enter on an alert: show the logs around it."""

        def __init__(self, alert: AlertInfo) -> None:
            super().__init__()
            self.alert = alert

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self.alerts: list[AlertInfo] = []
        self.compact = False
        """True while the rows show short states (the panel is too narrow for the words)."""
        self._now = 0.0

    def on_mount(self) -> None:
        self.border_title = "Alerts"
        self.show([], 0.0)

    def on_resize(self) -> None:
        self.show(self.alerts, self._now)  # the columns fit the new width

    @property
    def selected_alert(self) -> AlertInfo | None:
        if not self.alerts or not 0 <= self.cursor_row < len(self.alerts):
            return None
        return self.alerts[self.cursor_row]

    def show(self, alerts: Sequence[AlertInfo], now: float) -> None:
        """Replace the rows; the cursor stays on the same alert when it is still listed."""
        previous = self.selected_alert
        self.alerts = sort_alerts(alerts)
        self._now = now
        firing = sum(1 for alert in self.alerts if alert.state == "firing")
        self.border_title = f"Alerts · {firing} firing" if firing else "Alerts"
        self.set_class(firing > 0, "-firing")
        headers, rows, widths = self._layout(now)
        self.clear(columns=True)
        for key, width in widths.items():
            self.add_column(headers[key], key=key, width=width)
        for alert, row in zip(self.alerts, rows):
            self.add_row(*(row[key] for key in widths), key=alert.fingerprint)
        if previous is not None:
            keep = [i for i, alert in enumerate(self.alerts) if alert.fingerprint == previous.fingerprint]
            if keep:
                self.move_cursor(row=keep[0])

    def _layout(self, now: float) -> tuple[dict[str, Text], list[dict[str, Text]], dict[str, int]]:
        """Headers, rows and column widths that fit the panel: the first of :data:`_FORMS`
        whose columns are whole with the name at :meth:`name_min` cells at least, else the
        last one cut and left out as :data:`_SHRINK_ORDER` and :data:`_DROP_ORDER` say. The
        names are written for the width they get."""
        rules = [alert.rule for alert in self.alerts]
        shared = {rule for rule in rules if rules.count(rule) > 1}
        # Rows of one rule cut its name alike, to what the longest label values leave: "probe_un…
        # redis" above "probe… blog-api" read as two rules.
        widest: dict[str, int] = {}
        for alert in self.alerts:
            if alert.rule in shared:
                widest[alert.rule] = max(widest.get(alert.rule, 0), self.labels_len(alert))
        name_min = max([0, *(self.name_min(alert, alert.rule in shared) for alert in self.alerts)])
        available = available_width(self, len(self.alerts))
        for tight, short, peak in _FORMS:
            rows = [dict(zip(_COLUMNS, self.cells(alert, now, tight=tight, short=short)))
                    for alert in self.alerts]
            natural = natural_widths(_COLUMNS, rows)
            if not available:  # not laid out yet: on_resize comes next
                return _COLUMNS, rows, natural
            if not peak:
                del natural["peak"]
            # The value column may narrow to its values, never cut one; its header then says
            # "Now" (the values show the threshold themselves), not "Now / thr…".
            values = ("value", max([len("Now"), *(row["value"].cell_len for row in rows)]))
            widths = fit_widths(natural, available, self.cell_padding,
                                shrink=(values, ("rule", name_min)))
            if fits(widths, available, self.cell_padding):
                break
        else:
            widths = fit_widths(natural, available, self.cell_padding,
                                shrink=(values, *_SHRINK_ORDER), drop=_DROP_ORDER)
        self.compact = short
        for alert, row in zip(self.alerts, rows):
            (row["rule"],) = clipped((self.name_text(alert, widths["rule"],
                                                     shared_labels=widest.get(alert.rule)),))
        narrowed = widths["value"] < _COLUMNS["value"].cell_len
        return (_SHORT_COLUMNS if narrowed else _COLUMNS), rows, widths

    def cells(self, alert: AlertInfo, now: float, *, tight: bool = False,
              short: bool = False) -> tuple[Text, ...]:
        """One row; ``tight`` writes the value and the peak without spaces, ``short`` the
        state in four letters and an ack as a check mark, so that a 40-cell panel still
        shows all five."""
        muted = self._style("muted")  # a Rich style string, e.g. "#8a94a0"
        label, shown = value_label(alert)
        comparison = compare_text(alert, shown)
        value_cell = Text(label + " " if label else "", style=muted)
        value_cell.append(comparison.replace(" ", "") if tight else comparison)
        value_cell.justify = "right"
        if alert.metric in _STATE_METRICS:  # its worst is the state "Now" shows: no figure
            peak = Text("—", style=muted, justify="right")
        else:
            peak_text = format_metric_value(alert.metric, alert.peak)
            peak = Text(peak_text.replace(" ", "") if tight else peak_text, justify="right")
        since = {"firing": alert.fired_at, "resolved": alert.resolved_at}.get(alert.state)
        state_word = _SHORT_STATES.get(alert.state, alert.state) if short else alert.state
        state = safe_text(state_word, style=self._style(alert.state), max_len=12)
        state.append(f" {format_age(now - (since or alert.started_at))}", style=muted)
        if alert.silenced_by:
            state.append(" muted" if short else " silenced", style=muted)
        if alert.ack is None:
            ack = Text("—", style=muted)
        else:
            ack = Text("✓") if short else safe_text(alert.ack.by, max_len=24)
        return clipped((
            safe_text(_SEVERITY_LABELS.get(alert.severity, alert.severity),
                      style=self._style(alert.severity), max_len=12),
            self.name_text(alert),
            value_cell,
            peak,
            state,
            ack,
        ))

    def name_text(self, alert: AlertInfo, width: int | None = None, *,
                  shared_labels: int | None = None) -> Text:
        """The rule name, then its label values (which probe, which route) in muted text:
        one rule firing for two probes gives two rows that must read differently. In
        ``width`` cells, a rule name other rows share (``shared_labels``: the widest label
        values among them, in cells) is cut down to :data:`_RULE_STUB` before the label
        values are, by as much in every row of the rule; any other name is cut at its end."""
        rule = safe_text(alert.rule, max_len=48)
        values = [
            value
            for key, value in sorted(alert.labels.items())
            if value and key not in _SHOWN_ELSEWHERE and value != alert.rule
        ]
        if not values:
            return rule
        labels = safe_text(" " + " ".join(values), style=self._style("muted"), max_len=60)
        if width is not None and shared_labels is not None:
            labels_width = max(labels.cell_len, shared_labels)
            if rule.cell_len + labels_width > width:
                rule.truncate(max(_RULE_STUB, width - labels_width), overflow="ellipsis")
        rule.append_text(labels)
        return rule

    def name_min(self, alert: AlertInfo, shared: bool) -> int:
        """The cells ``alert``'s name keeps while the row forms narrow: what tells it from
        the other rows whole (for a ``shared`` rule, its label values and a stub of the
        rule's name), at most the whole name."""
        whole = self.name_text(alert).cell_len
        labels = self.labels_len(alert)
        return min(whole, _RULE_STUB + labels if shared and labels else _RULE_MIN)

    def labels_len(self, alert: AlertInfo) -> int:
        """Cells of the label values after the rule's name (with their space; 0 if none)."""
        return self.name_text(alert).cell_len - safe_text(alert.rule, max_len=48).cell_len

    def _style(self, name: str) -> str:
        """The theme's style for a severity or state; plain for values off the wire we do
        not know."""
        if f"alert-feed--{name}" not in self.COMPONENT_CLASSES:
            return ""
        return str(self.get_component_rich_style(f"alert-feed--{name}", partial=True))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        alert = self.selected_alert
        if alert is not None:
            self.post_message(self.Selected(alert))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        alert = self.selected_alert
        if alert is not None:
            self.post_message(self.LogsRequested(alert))


def value_label(alert: AlertInfo) -> tuple[str, float | None]:
    """Which value a row shows, and its label when it is not the value now (the column's
    header says "Now"): ``end`` for a resolved alert (its value at the resolve). An agent
    older than the live value sends one frozen value: the one it ``fired`` with (``start``:
    went pending with)."""
    if alert.peak is None:  # an older agent
        return ("start" if alert.state == "pending" else "fired"), alert.value
    if alert.state == "resolved":
        return "end", alert.resolved_value
    return "", alert.value


def compare_text(alert: AlertInfo, value: float | None) -> str:
    """``29.0 % > 5.0 %``: the value against the threshold with the comparison that holds
    (``3.0 % ≤ 5.0 %`` for a firing alert kept firing while below, or once resolved); for
    a probe, its state (``unhealthy``), not ``1 ≥ 1``."""
    if alert.metric in _STATE_METRICS:
        return format_metric_value(alert.metric, value)
    comparison = clean_comparison(alert.comparison)
    threshold = format_metric_value(alert.metric, alert.threshold)
    shown = _SYMBOLS.get(comparison, comparison)
    if value is not None and comparison in _HOLDS:
        if not _HOLDS[comparison](float(value), float(alert.threshold)):
            shown = _NEGATED[comparison]
    return f"{format_metric_value(alert.metric, value)} {shown} {threshold}"


def clean_comparison(comparison: str) -> str:
    """The comparison operator, only if it is one the protocol allows (it comes off the wire)."""
    return comparison if comparison in (">", ">=", "<", "<=") else "?"
