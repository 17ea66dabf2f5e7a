"""Every key binding of the screen below, generated from its BINDINGS (never a written copy)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.keys import key_to_character
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


@dataclass(frozen=True, slots=True)
class KeyHelp:
    key: str
    description: str
    binding_id: str


def bindings_help(screen: Screen[object]) -> list[KeyHelp]:
    """Every binding reachable from ``screen`` (its focused widget's and their containers', its
    own and the app's, including ones hidden right now such as the demo key), one row per
    description with every key that triggers it (a widget and its screen may bind the same
    action under the same words).

    Textual's ``active_bindings`` first (what the keys do now, as the footer shows them), then
    what the nodes on the way from the focused widget to the app declare in ``BINDINGS`` and
    ``active_bindings`` leaves out (hidden by ``check_action``, or shadowed by a widget's own
    binding of the key), unless the focused widget takes the key as input. A key is listed
    once, beside what it does now: a binding shadowed by another action on the same key (the
    app's ``q`` Quit under a screen's ``q`` Back) keeps only its other keys.
    """
    keys: dict[tuple[str, str], list[str]] = {}
    focused = screen.focused
    nodes: list[DOMNode] = list(focused.ancestors_with_self) if focused is not None else [screen, screen.app]
    declared = [binding for node in nodes for binding in Binding.make_bindings(node.BINDINGS)
                if focused is None or not focused.check_consume_key(binding.key, key_to_character(binding.key))]
    acting = {key: active.binding for key, active in screen.active_bindings.items()}
    for binding in [*acting.values(), *declared]:
        if binding.system:
            continue
        now = acting.get(binding.key)
        if now is not None and (now.action, now.description) != (binding.action, binding.description):
            continue  # the key does something else here
        description = binding.description or binding.action
        group = (binding.id or binding.action, description)
        group = next((known for known in keys if known[1] == description), group)
        display = screen.app.get_key_display(binding)
        shown = keys.setdefault(group, [])
        if display not in shown:
            shown.append(display)
    return [
        KeyHelp(" / ".join(displays), description, binding_id)
        for (binding_id, description), displays in keys.items()
    ]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close help", id="help.close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: auto; max-width: 90%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    HelpScreen DataTable { height: auto; max-height: 100%; }
    HelpScreen .hint { color: $text-muted; }
    """

    def __init__(self, rows: list[KeyHelp]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = "Keys"
            table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_column("Key", key="key")
            table.add_column("Action", key="action")
            for row in self.rows:
                table.add_row(Text(row.key, style="bold"), Text(row.description))
            yield table
            yield Static(
                "Every action is also in the command palette (ctrl+p). Esc closes.",
                classes="hint",
                markup=False,
            )
