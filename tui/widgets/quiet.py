"""Updates that cost nothing when nothing changed.

The panels are refreshed from the agent's figures every second, and most refreshes change
nothing (an idle service shows "0.0 req/s" again). Textual relayouts the whole screen for a
``Static.update`` and restyles a widget for each class removed or added, whatever the new
value: an idle console spent 1.6 % of a core on that (``benchmarks/idle.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static


def show_text(label: Static, content: Text | str) -> None:
    """Update ``label`` only if what it shows changes, and relayout only if its width does."""
    text = content if isinstance(content, Text) else Text(content)
    old = label.content
    if isinstance(old, Text) and old == text and old.style == text.style:
        return
    label.update(text, layout=not isinstance(old, Text) or old.cell_len != text.cell_len)


def set_one_class(widget: Widget, chosen: str, family: Sequence[str]) -> None:
    """Give ``widget`` the class ``chosen`` and none of the rest of ``family`` (a severity:
    ``-ok``, ``-warn``…), touching its classes only when that changes them."""
    if widget.has_class(chosen) and not any(widget.has_class(name) for name in family if name != chosen):
        return
    widget.remove_class(*family)
    widget.add_class(chosen)
