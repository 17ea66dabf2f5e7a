"""The footer of every screen: Textual's, with ``? Help`` first and short labels where the
terminal is narrow. At 80 columns the keys after the first seven were cut off, Help among
them, so a new user could not find out what else there is; the keys that do not fit are
left out whole ("R Ro" was half a key)."""

from __future__ import annotations

from typing import ClassVar, Final, Protocol, runtime_checkable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

#: The help key's action (the app's ``?``): first in a narrow footer.
HELP_ACTION: Final = "help"

#: Labels longer than a word or two, as a narrow footer shows them (help and the command
#: palette keep the long ones).
SHORT_LABELS: Final = {
    "Pause/Follow": "Pause",
    "Log volume": "Volume",
    "Jump the log there": "Jump",
    "Copy raw line": "Copy",
    "Copy JSON": "JSON",
    "Sort: next column": "Sort",
    "Reverse order": "Reverse",
    "Slowest traces": "Traces",
    "Start demo": "Demo",
    "Close help": "Close",
    "Acknowledge": "Ack",
    "Next match": "Next",
}


#: Textual's key widget by its CSS type: the class itself lives in a private module.
KEY: Final = "FooterKey"


@runtime_checkable
class _Key(Protocol):
    """What the footer reads and rewrites of a key widget its parent composed."""

    action: str
    description: str


class KeyFooter(Footer):
    NARROW_BELOW: ClassVar[int] = 100

    def __init__(self, *, compact: bool = False) -> None:
        super().__init__(compact=compact)
        self._narrow = False
        self._shown: tuple[object, ...] | None = None
        """The bindings the keys on screen were made from (None: none made yet)."""

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        self._shown = self._bindings_shown() if keys else None
        self._narrow = self._is_narrow()
        if self._narrow:
            keys.sort(key=lambda widget: not (isinstance(widget, _Key) and widget.action == HELP_ACTION))
            for widget in keys:
                if isinstance(widget, _Key):
                    widget.description = SHORT_LABELS.get(widget.description, widget.description)
        yield from keys

    def _bindings_shown(self) -> tuple[object, ...]:
        return tuple((binding.key, binding.action, binding.description, enabled, tooltip)
                     for _node, binding, enabled, tooltip in self.screen.active_bindings.values() if binding.show)

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Rebuild the keys only when the bindings they show changed. Textual's footer rebuilds
        them (~60 widgets, each styled) on every signal: at the console's start 14 times, for
        the same keys, a tenth of its first paint."""
        if self._shown is not None and self.is_attached and screen is self.screen \
                and self._bindings_shown() == self._shown:
            return
        super().bindings_changed(screen)

    def _is_narrow(self) -> bool:
        return 0 < self.app.size.width < self.NARROW_BELOW

    def on_resize(self) -> None:
        if self._is_narrow() != self._narrow:
            self.call_after_refresh(self.recompose)
        else:
            for key in self.query(KEY):
                key.display = True  # measured again at the new width
            self.call_after_refresh(self._leave_out_overflow)

    def on_mount(self) -> None:
        self.call_after_refresh(self._leave_out_overflow)

    async def recompose(self) -> None:
        await super().recompose()
        self.call_after_refresh(self._leave_out_overflow)

    def _leave_out_overflow(self) -> None:
        """Hide the keys that end under the command palette's key or past the edge: from
        the first such key on, since the keys are laid out left to right."""
        keys = list(self.query(KEY))
        palette = [key for key in keys if key.has_class("-command-palette")]
        end = palette[0].region.x if palette else self.region.right
        overflowing = False
        for key in keys:
            if key in palette:
                continue
            overflowing = overflowing or key.region.right > end
            key.display = not overflowing
