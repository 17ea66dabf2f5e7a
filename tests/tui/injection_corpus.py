"""Hostile strings every widget that shows untrusted text must survive (DESIGN.md).

Import by path from any test (pytest runs with ``--import-mode=importlib``)::

    import importlib.util, pathlib
    spec = importlib.util.spec_from_file_location(
        "injection_corpus", pathlib.Path(__file__).parents[1] / "injection_corpus.py")

or simply ``from injection_corpus import INJECTION_CORPUS`` after putting ``tests/tui`` on
``sys.path`` (see ``tests/tui/core/conftest.py``).
"""

from __future__ import annotations

from typing import Final

#: (name, hostile text). Each must be shown literally or with visible replacements, never
#: interpreted as markup or passed to the terminal as a control sequence.
INJECTION_CORPUS: Final[tuple[tuple[str, str], ...]] = (
    ("markup-bold", "[bold]not bold[/bold]"),
    ("markup-close-all", "[/]"),
    ("markup-close-unopened", "[/bold] stray close"),
    ("markup-action", "[@click=app.quit]click me[/]"),
    ("markup-link", "[link=https://evil.example]x[/link]"),
    ("markup-escaped", "\\[bold] and \\\\[bold]"),
    ("emoji-code", ":pile_of_poo: :red_circle:"),
    ("osc-title", "\x1b]0;pwned\x07"),
    ("osc-title-st", "\x1b]2;pwned\x1b\\"),
    ("osc52-clipboard", "\x1b]52;c;cHduZWQ=\x07"),
    ("csi-clear", "\x1b[2J\x1b[H"),
    ("csi-colour", "\x1b[31mred\x1b[0m"),
    ("c1-csi", "\x9b2J"),
    ("c1-osc", "\x9d0;pwned\x9c"),
    ("bell-backspace", "a\x07\x08\x08b"),
    ("carriage-return", "visible\rhidden"),
    ("newlines", "line one\nline two\r\nline three"),
    ("tabs", "a\tb\t\tc"),
    ("del", "x\x7fy"),
    ("nul", "x\x00y"),
    ("rtl-override", "user\u202egnp.exe"),
    ("bidi-isolates", "\u2066\u2067\u2068abc\u2069"),
    ("zero-width", "pay\u200bpal\ufeff"),
    ("line-separator", "a\u2028b\u2029c"),
    ("lone-surrogates", "high \ud800 low \udfff"),
    ("invalid-utf8", b"caf\xc3 \xff\xfe \xed\xa0\x80 ok".decode("utf-8", errors="replace")),
    ("invalid-utf8-surrogateescape", b"bad \xff\xfe".decode("utf-8", errors="surrogateescape")),
    ("wide-and-combining", "日本語 e\u0301 " + "\u0301" * 50),
    ("zalgo", "z\u0351\u0345\u0319a\u0334\u0330\u035c\u0308l\u0336\u0353\u0352" + "g\u0300\u0301\u0302\u0303\u0304" * 40 + "o\u20d2\u20d3\u20d8\u1ab0\u1dc0\ufe20"),
    ("huge-line", "A" * 200_000),
    ("huge-markup", "[bold]" * 20_000),
)

#: Every character that must never reach the screen unchanged.
FORBIDDEN_CHARS: Final = frozenset(
    [chr(c) for c in range(0x20)]
    + ["\x7f"]
    + [chr(c) for c in range(0x80, 0xA0)]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200e", "\u200f", "\u061c", "\u2028", "\u2029"]
    + [chr(c) for c in range(0xD800, 0xE000)]
)
