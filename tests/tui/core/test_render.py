from __future__ import annotations

import re

import pytest
from injection_corpus import FORBIDDEN_CHARS, INJECTION_CORPUS
from rich.console import Console
from rich.text import Text

from obsview.tui import render
from obsview.tui.render import clean, safe_content, safe_text

CORPUS_IDS = [name for name, _ in INJECTION_CORPUS]
CORPUS = [text for _, text in INJECTION_CORPUS]


@pytest.mark.parametrize("hostile", CORPUS, ids=CORPUS_IDS)
def test_no_forbidden_character_survives(hostile: str) -> None:
    for multiline in (False, True):
        cleaned = clean(hostile, max_len=1_000_000, multiline=multiline)
        allowed = {"\n"} if multiline else set()
        assert not (set(cleaned) & (FORBIDDEN_CHARS - allowed))


@pytest.mark.parametrize("hostile", CORPUS, ids=CORPUS_IDS)
def test_safe_text_is_never_markup(hostile: str) -> None:
    text = safe_text(hostile, style="bold", max_len=1_000_000)
    assert isinstance(text, Text)
    assert text.plain == clean(hostile, max_len=1_000_000)
    # Only the caller's style, spread over the whole text: nothing from the input became a span.
    assert text.spans == []
    assert str(text.style) == "bold"


@pytest.mark.parametrize("hostile", CORPUS, ids=CORPUS_IDS)
def test_rendered_output_holds_no_escape_from_the_input(hostile: str) -> None:
    console = Console(width=80, color_system=None, force_terminal=False, record=True)
    console.print(safe_text(hostile, max_len=500))
    output = console.export_text()
    assert "\x1b" not in output and "\x9b" not in output and "\x07" not in output


@pytest.mark.parametrize("hostile", CORPUS, ids=CORPUS_IDS)
def test_safe_content_keeps_the_cleaned_text(hostile: str) -> None:
    content = safe_content(hostile, style="bold", max_len=1_000_000)
    assert content.plain == clean(hostile, max_len=1_000_000)


def test_markup_is_shown_literally() -> None:
    assert safe_text("[bold]x[/bold] [@click=app.quit]q[/]").plain == "[bold]x[/bold] [@click=app.quit]q[/]"
    assert safe_text(":red_circle:").plain == ":red_circle:"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]0;pwned\x07", "␛]0;pwned␇"),
        ("\x1b[2J", "␛[2J"),
        ("a\x9bb", "a\ufffdb"),
        ("a\tb", "a b"),
        ("a\nb\r\nc", "a⏎b␍⏎c"),
        ("x\x7fy\x00", "x␡y␀"),
        ("user\u202egnp.exe", "user\ufffdgnp.exe"),
        ("\u2066x\u2069", "\ufffdx\ufffd"),
        ("pay\u200bpal\ufeff", "paypal"),
        ("a\u2028b", "a⏎b"),
        ("hi \ud800", "hi \ufffd"),
        ("café 日本 a\u00a0b", "café 日本 a\u00a0b"),
    ],
)
def test_replacements_are_visible_and_documented(raw: str, shown: str) -> None:
    assert clean(raw) == shown


def test_multiline_keeps_newlines_and_expands_tabs() -> None:
    assert clean("Error: boom\n\tat f()\x1b[0m", multiline=True) == "Error: boom\n    at f()␛[0m"


def test_long_text_is_cut_with_the_size_of_what_was_cut() -> None:
    assert clean("a" * 10 + "é" * 5, max_len=10) == "a" * 10 + "… +10 bytes"
    huge = clean("A" * 200_000)
    assert huge.startswith("A" * render.DEFAULT_MAX_LEN)
    assert huge.endswith(f"… +{200_000 - render.DEFAULT_MAX_LEN} bytes")
    assert clean("short", max_len=10) == "short"


def test_non_strings_are_shown_as_text() -> None:
    assert clean(None) == ""
    assert clean(b"caf\xc3\xa9 \xff\x1b") == "café \ufffd␛"
    assert clean(503) == "503"
    assert clean(ValueError("[bold]\x1b")) == "[bold]␛"


def test_every_replaced_character_fails_the_isprintable_fast_path() -> None:
    # clean() skips translate() when str.isprintable() is True; that is only sound if every
    # character the tables change is non-printable.
    for table in (render._SINGLE_LINE, render._MULTI_LINE):
        for code, replacement in table.items():
            if replacement != chr(code):
                assert not chr(code).isprintable(), hex(code)


@pytest.mark.parametrize("hostile", CORPUS, ids=CORPUS_IDS)
def test_no_base_character_carries_more_than_two_combining_diacritics(hostile: str) -> None:
    cleaned = clean(hostile, max_len=1_000_000)
    assert not re.search(f"[{render._COMBINING_DIACRITICS}]{{3}}", cleaned)


def test_zalgo_keeps_two_marks_per_base_and_shows_the_cut() -> None:
    assert clean("e\u0301") == "e\u0301"  # é as base + mark: untouched
    assert clean("u\u0308\u0301") == "u\u0308\u0301"  # ǘ: two marks, untouched
    assert clean("a\u0300\u0301\u0302\u0303b") == "a\u0300\u0301\ufffdb"
    assert clean("x" + "\u0301" * 50) == "x\u0301\u0301\ufffd"
    # Marks of scripts that stack them on purpose (Hebrew points and cantillation) are kept.
    hebrew = "\u05d1\u05b0\u05bc\u0591\u05b8"
    assert clean(hebrew) == hebrew

