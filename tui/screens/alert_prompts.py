"""The two questions asked before acting on an alert: a note for an ack, a silence duration."""

from __future__ import annotations

from typing import Final

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from obsview.common.protocol import AlertInfo
from obsview.tui.render import safe_text

#: (label, seconds) offered by ``s``.
SILENCE_DURATIONS: Final = (("15 minutes", 900.0), ("1 hour", 3600.0), ("4 hours", 14400.0), ("24 hours", 86400.0))

_PROMPT_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 64; height: auto; border: round $accent; background: $surface; padding: 0 1;
}}
{name} .hint {{ color: $text-muted; }}
"""


class AckPrompt(ModalScreen[str | None]):
    """Returns the note (possibly empty) on Enter, ``None`` on Esc."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="ack.cancel"),
        # Also on the screen: Enter sent right after "a" may arrive before the note field
        # has focus.
        Binding("enter", "submit", "Acknowledge", id="ack.submit"),
    ]
    DEFAULT_CSS = _PROMPT_CSS.format(name="AckPrompt")

    def __init__(self, alert: AlertInfo) -> None:
        super().__init__()
        self.alert = alert

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = "Acknowledge"
            yield Static(safe_text(self.alert.rule, style="bold", max_len=60))
            yield Static(safe_text(self.alert.summary, max_len=300))
            yield Input(placeholder="optional note, Enter to acknowledge", id="ack-note")
            yield Static("Enter acknowledges · Esc cancels", classes="hint", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        self.dismiss(self.query_one(Input).value.strip())


class SilencePrompt(ModalScreen[float | None]):
    """Returns the chosen duration in seconds, ``None`` on Esc."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="silence.cancel"),
        Binding("enter", "choose", "Silence", id="silence.choose"),
    ]
    DEFAULT_CSS = _PROMPT_CSS.format(name="SilencePrompt")

    def __init__(self, alert: AlertInfo) -> None:
        super().__init__()
        self.alert = alert

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = "Silence for…"
            yield Static(safe_text(self.alert.rule, style="bold", max_len=60))
            yield OptionList(
                *(Option(label, id=str(seconds)) for label, seconds in SILENCE_DURATIONS),
                id="silence-durations",
            )
            yield Static("Enter silences · Esc cancels", classes="hint", markup=False)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        assert event.option.id is not None
        self.dismiss(float(event.option.id))

    def action_choose(self) -> None:
        """Enter before the list has focus: the highlighted (first) duration."""
        options = self.query_one(OptionList)
        index = options.highlighted if options.highlighted is not None else 0
        option_id = options.get_option_at_index(index).id
        assert option_id is not None
        self.dismiss(float(option_id))
