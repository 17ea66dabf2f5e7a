"""The one place where untrusted text (log lines, URLs, user agents, alert text) becomes displayable.

Two dangers, both seen in practice (DESIGN.md, "Rendering untrusted text"):

* **Markup.** Textual's ``Static``, ``Label``, ``notify``, ``DataTable`` cells and
  ``Content.from_markup`` parse ``[bold]``-style markup: ``[/bold]`` in a log line crashes the
  app and ``[@click=app.quit]`` runs an action. :func:`safe_text` builds ``rich.text.Text``
  directly from the string, which never parses markup (nor ``:emoji:`` codes).
* **Terminal control.** ESC/OSC/CSI sequences reaching the terminal can retitle the window,
  clear the screen or worse. Every C0 and C1 control character, DEL, lone surrogates and the
  invisible format characters that can reorder or hide text (bidi overrides and isolates) are
  replaced by a *visible* stand-in, so the reader sees that something was there.

Replacement rules (documented for the people reading the screen):

========================================  ==================================================
tab                                       one space (four in ``multiline`` mode)
newline, CR+LF parts, U+2028/U+2029       ``⏎`` (kept as a real newline in ``multiline`` mode)
other C0 controls and DEL                 their Unicode "control picture" (ESC → ``␛``)
C1 controls (U+0080–U+009F), e.g. CSI     ``�``
bidi controls (U+202A–E, U+2066–9, …)     ``�``
zero-width space/joiners, BOM, soft hyph  removed (invisible, and they break cell widths)
other format characters, lone surrogates  ``�``
a 3rd+ combining diacritic on one base    removed, the run followed by one ``�`` ("zalgo"
                                          text: terminals put the excess marks in cells of
                                          their own, which pushes everything after right)
========================================  ==================================================

Text longer than ``max_len`` characters is cut and ends with ``… +N bytes`` (UTF-8 size of
what was cut), so truncation is never silent.
"""

from __future__ import annotations

import re
from typing import Final

from rich.text import Text
from textual.content import Content

DEFAULT_MAX_LEN: Final = 4096
NEWLINE_MARK: Final = "⏎"
REPLACEMENT: Final = "\ufffd"

# Invisible characters that only change how neighbours join or break: dropping them changes
# nothing the reader could see, and keeps Rich's cell widths equal to the terminal's.
_REMOVED: Final = "\u00ad\u200b\u200c\u200d\u2060\ufeff"

# Unicode format (Cf) and separator (Zl/Zp) characters, as of Python 3.11's Unicode 14 data.
# Written out (not computed from unicodedata) so importing this module does no work.
_FORMAT_RANGES: Final = (
    (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F),
    (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)

# The combining blocks that stacked "zalgo" text is made of. Scripts whose words legitimately
# stack several marks (Hebrew, Arabic, Indic, Thai…) use marks of their own blocks, untouched.
_COMBINING_DIACRITICS: Final = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
#: Combining diacritics kept on one base character (é, ǘ, ṏ need at most two).
MAX_COMBINING: Final = 2
_EXCESS_COMBINING: Final = re.compile(
    f"(?<=[{_COMBINING_DIACRITICS}]{{{MAX_COMBINING}}})[{_COMBINING_DIACRITICS}]+"
)


def _translation_table(*, multiline: bool) -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x20):
        table[code] = chr(0x2400 + code)  # U+2400 block: ␀ ␁ … ␛ …
    table[0x7F] = "\u2421"  # ␡
    for code in range(0x80, 0xA0):
        table[code] = REPLACEMENT
    for lo, hi in _FORMAT_RANGES:
        for code in range(lo, hi + 1):
            table[code] = REPLACEMENT
    for code in range(0xD800, 0xE000):
        table[code] = REPLACEMENT
    for char in _REMOVED:
        table[ord(char)] = ""
    if multiline:
        table.update({ord("\n"): "\n", ord("\t"): "    ", 0x2028: "\n", 0x2029: "\n"})
    else:
        table.update({ord("\n"): NEWLINE_MARK, ord("\t"): " ", 0x2028: NEWLINE_MARK, 0x2029: NEWLINE_MARK})
    return table


_SINGLE_LINE: Final = _translation_table(multiline=False)
_MULTI_LINE: Final = _translation_table(multiline=True)


def _as_str(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def clean(value: object, *, max_len: int = DEFAULT_MAX_LEN, multiline: bool = False) -> str:
    """Return ``value`` as a string safe to show: no control characters, cut at ``max_len``.

    The result is still *text that looks like markup* when the input did: pass it only to
    APIs that do not parse markup (``markup=False``), or use :func:`safe_text` instead.
    ``multiline=True`` keeps newlines (for detail views); rows want the default ``⏎``.
    """
    text = _as_str(value)
    suffix = ""
    if len(text) > max_len:
        cut = len(text[max_len:].encode("utf-8", errors="surrogatepass"))
        text = text[:max_len]
        suffix = f"… +{cut} bytes"
    # str.isprintable() is False for every character the table changes (and for a few it
    # keeps, such as U+00A0): a C-speed pre-check that lets clean lines skip translate().
    if not text.isprintable():
        text = text.translate(_MULTI_LINE if multiline else _SINGLE_LINE)
    if not text.isascii():  # O(1) for str: ASCII text has no combining marks
        text = _EXCESS_COMBINING.sub(REPLACEMENT, text)
    return text + suffix


def safe_text(
    value: object, *, style: str = "", max_len: int = DEFAULT_MAX_LEN, multiline: bool = False
) -> Text:
    """Untrusted ``value`` as a Rich ``Text`` in ``style``: cleaned, never parsed as markup."""
    return Text(clean(value, max_len=max_len, multiline=multiline), style=style, end="")


def safe_content(
    value: object, *, style: str = "", max_len: int = DEFAULT_MAX_LEN, multiline: bool = False
) -> Content:
    """Untrusted ``value`` as a Textual ``Content`` (for widgets that take Content)."""
    return Content.styled(clean(value, max_len=max_len, multiline=multiline), style)
