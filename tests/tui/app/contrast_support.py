"""WCAG contrast of what the console draws, computed from the styles of the rendered cells.

Every text cell on screen has a foreground and a background after Textual resolved the theme,
the widget's CSS, alpha blending and the line filters: that is what the terminal gets. Here
each cell's pair is turned into the colours a terminal shows, on two paths:

* truecolor: the 24-bit colours as they are;
* 256 colours: each colour mapped to the nearest entry of the xterm 256-colour palette, as
  Rich does for a terminal without truecolor (``Color.downgrade``).

``dim`` is drawn at half intensity (blended halfway to the background, what Textual's own
``DimFilter`` does for terminals without the attribute), ``reverse`` swaps the pair. Graphics
(borders, sparklines, scrollbars, block elements) are not text and are left out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from rich.color import Color as RichColor
from rich.color import ColorSystem
from rich.segment import Segment
from rich.style import Style
from textual.app import App
from textual.screen import ModalScreen

#: The colour paths a terminal may take (see :func:`terminal_colors`).
DEPTHS: Final = ("truecolor", "256")
#: WCAG 2.x AA for normal text.
MINIMUM_RATIO: Final = 4.5
#: Box drawing and block elements (U+2500–U+259F: borders, bars, sparklines, scrollbars), the
#: braille patterns some charts use, and emoji (drawn in their own colours): not styled text.
_GRAPHICS: Final = (range(0x2500, 0x25A0), range(0x2800, 0x2900), range(0x1F000, 0x20000))

RGB = tuple[int, int, int]
#: One move of a walk through the console's states (a ``Pilot`` in, the state reached).
Step = Callable[[Any], Awaitable[None]]


def relative_luminance(rgb: RGB) -> float:
    """WCAG 2.x relative luminance of an sRGB colour."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: RGB, second: RGB) -> float:
    """(L1 + 0.05) / (L2 + 0.05), the lighter colour on top: 1 (none) to 21 (black on white)."""
    high, low = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def is_text(char: str) -> bool:
    if char.isspace():
        return False
    code = ord(char)
    return not any(code in block for block in _GRAPHICS)


@dataclass(frozen=True, slots=True)
class Cell:
    """A run of text cells that share one style, where it is on screen and what drew it."""

    text: str
    x: int
    y: int
    widget: str
    foreground: RGB
    background: RGB

    @property
    def ratio(self) -> float:
        return contrast_ratio(self.foreground, self.background)

    def describe(self) -> str:
        return (f"{self.widget} at ({self.x},{self.y}) {self.text.strip()[:30]!r}: "
                f"#{_hex(self.foreground)} on #{_hex(self.background)} = {self.ratio:.2f}:1")


def _hex(rgb: RGB) -> str:
    return "".join(f"{value:02x}" for value in rgb)


def _truecolor(color: RichColor | None, fallback: RGB) -> RGB:
    if color is None or color.is_default:
        return fallback
    triplet = color.get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


def terminal_colors(style: Style, default_fg: RGB, default_bg: RGB, *, depth: str) -> tuple[RGB, RGB]:
    """(foreground, background) a terminal shows for ``style`` at ``depth`` ("truecolor" or
    "256")."""
    foreground, background = style.color, style.bgcolor
    if depth == "256":
        foreground = foreground.downgrade(ColorSystem.EIGHT_BIT) if foreground else None
        background = background.downgrade(ColorSystem.EIGHT_BIT) if background else None
    fg = _truecolor(foreground, default_fg)
    bg = _truecolor(background, default_bg)
    if style.reverse:
        fg, bg = bg, fg
    if style.dim:
        fg = (
            round(bg[0] + (fg[0] - bg[0]) * 0.5),
            round(bg[1] + (fg[1] - bg[1]) * 0.5),
            round(bg[2] + (fg[2] - bg[2]) * 0.5),
        )
    return fg, bg


def screen_cells(app: App[object], *, depth: str) -> Iterator[Cell]:
    """Every run of text on the current screen (modal screens over their background
    included), with the colours the terminal shows at ``depth``."""
    theme = app.current_theme
    default_fg = _rgb(theme.foreground or "#ffffff")
    default_bg = _rgb(theme.background or "#000000")
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    for y, line in enumerate(update.strips):  # type: ignore[union-attr]
        x = 0
        for strip in line:
            for segment in strip:
                yield from _segment_cells(app, segment, x, y, default_fg, default_bg, depth)
                x += segment.cell_length


def _segment_cells(app: App[object], segment: Segment, x: int, y: int, default_fg: RGB,
                   default_bg: RGB, depth: str) -> Iterator[Cell]:
    if segment.control or not any(is_text(char) for char in segment.text):
        return
    style = segment.style or Style()
    foreground, background = terminal_colors(style, default_fg, default_bg, depth=depth)
    widget, _ = app.screen.get_widget_at(x, y)
    if widget is app.screen and isinstance(widget, ModalScreen):
        # The screen below a modal one, faded on purpose: inactive until the modal closes.
        return
    yield Cell(segment.text, x, y, _widget_name(widget), foreground, background)


def _widget_name(widget: object) -> str:
    node = widget
    path = []
    while node is not None and len(path) < 3:
        node_id = getattr(node, "id", None)
        path.append(f"{type(node).__name__}#{node_id}" if node_id else type(node).__name__)
        node = getattr(node, "parent", None)
    return "<".join(path)


def _rgb(color: str) -> RGB:
    from textual.color import Color

    parsed = Color.parse(color)
    return (parsed.r, parsed.g, parsed.b)


def failures(app: App[object], *, depth: str, minimum: float = MINIMUM_RATIO) -> list[str]:
    """Descriptions of every run of text below ``minimum`` (deduplicated by widget and colours)."""
    seen: set[tuple[str, RGB, RGB]] = set()
    found = []
    for cell in screen_cells(app, depth=depth):
        key = (cell.widget, cell.foreground, cell.background)
        if cell.ratio < minimum and key not in seen:
            seen.add(key)
            found.append(cell.describe())
    return found


async def walk(pilot: Any, states: Sequence[tuple[str, Step]]) -> list[str]:
    """Take each step in turn; what reads below AA in the state each one reaches, on every
    colour path, prefixed with that state's name."""
    problems: list[str] = []
    for state, step in states:
        await step(pilot)
        await pilot.pause()
        for depth in DEPTHS:
            problems += [f"{state} [{depth}]: {problem}" for problem in failures(pilot.app, depth=depth)]
    return problems
