"""Secret redaction: credentials never reach the store, the console or a notification.

Two levels of work, because the check runs on every ingested line:

* :func:`might_hold_secret` is the cheap gate. The normalizer lower-cases a whole batch once
  and tests a handful of substrings with ``in`` (a memchr-speed scan); a case-insensitive
  regex over every line measured 20x slower than parsing the line itself.
* Only the lines that hit get per-field work: :func:`redact_mapping` for structured records
  and :func:`redact_text` for free text (messages, raw lines, URLs).
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Final

import msgspec
import orjson

from obsview.common.protocol import LogEvent

REDACTED: Final = "«redacted»"
"""The one replacement for every secret value (never markup: the console renders it as text)."""

SECRET_KEY_WORDS: Final = (
    "authorization", "cookie", "password", "passwd", "secret", "token",
    "api_key", "apikey", "session",
)

# Lower-case byte needles for the batch gate, as few as cover every rule: each `in` scan of
# a 5000-line batch costs ~0.5-1 ms. "passw" covers password/passwd, "key" covers
# api_key/api-key/apikey and `?key=`, "eyj" starts every JWT (base64 of '{"'), "authoriz"
# covers "Authorization: Bearer/Basic". URL userinfo is checked only when "://" occurs.
_WORDS: Final = (
    "passw", "secret", "token", "cookie", "session", "authoriz", "bearer", "eyj", "key",
)
# In a raw JSON line a key may be spelled with escapes ("\u0070assword") and a URL's slashes
# escaped ("http:\/\/user:pw@host" hides "://"): such a line always gets the careful path.
_NEEDLES: Final = (*(word.encode() for word in _WORDS), b"\\u", b"\\/")
# The four letters a case-insensitive pattern matches to an ASCII letter (İ ı → i, ſ → s,
# the Kelvin sign → k; found by trying every code point): "paſsword=x" matches the rules
# below, yet no lower-cased needle. Text holding one always gets the careful path.
_CASE_TWINS: Final = ("\u0130", "\u0131", "\u017f", "\u212a")
_CASE_TWINS_BYTES: Final = tuple(twin.encode() for twin in _CASE_TWINS)
# The same after str.lower(): "İ" becomes "i" + U+0307, the Kelvin sign a plain "k".
_CASE_TWINS_LOWERED: Final = ("\u0307", "\u0131", "\u017f")
# Where a pair can start: each alternative of the pair rule's key begins with one of these.
_PAIR_STARTS: Final = ("authorization", "cookie", "passw", "secret", "token", "api", "session")
# Every pattern below runs on hostile text, so none may backtrack quadratically: bounded or
# possessive repeats, and lookbehinds so a long run of word characters is tried once, not at
# each of its positions (a test feeds 64 KiB pathological lines).
_USERINFO_TEXT: Final = re.compile(r"://[^\s/@\"':]{0,256}+:[^\s/@\"']{0,256}+@")
_USERINFO_BYTES: Final = re.compile(rb"://[^\s/@\"':]{0,256}+:[^\s/@\"']{0,256}+@")

_KEY_WORDS_RE: Final = r"(?:authorization|cookie|passw(?:or)?d|secret|token|api[_-]?key|session)"
_BEARER: Final = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{6,}")
_JWT: Final = re.compile(
    r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]*+"
)
_USERINFO: Final = re.compile(
    r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,30}+://)([^\s/@\"':]{0,256}+):([^\s/@\"']{0,256}+)@"
)
# A Cookie header holds several `name=value; ` pairs: everything up to the line end goes.
_COOKIE_HEADER: Final = re.compile(r"(?i)\b((?:set-)?cookie:[ \t]*)[^\r\n\"]+")
# `password=x`, `"token": "x"`, `api-key: x` (key may sit inside quotes, JSON style).
# The key's prefix (``access_`` in ``access_token``) is left alone: only the value is replaced.
_PAIR: Final = re.compile(
    r"(?i)(" + _KEY_WORDS_RE + r"[\w.-]{0,64}+[\"']?\s{0,8}+)([=:])(\s{0,8}+)"
    r"(\"(?:[^\"\\]|\\.)*+\"?|'[^']*+'?"
    r"|(?:(?:bearer|basic|digest|negotiate|token)\s+)?[^\s&,;\"'}\]]++)"
)
# Query parameters that carry credentials without one of the key words in their name.
_QUERY_SECRET: Final = re.compile(r"(?i)([?&](?:key|access_key)=)[^&#\s\"']*")

_MAX_DEPTH: Final = 64
# Short values that no rule changes, remembered: a record's level, message, e-mail or IP
# repeat across lines, and "password" as a value (the seed's login record) hits the gate
# every time. Only unchanged text is kept, so no secret lingers here.
_UNCHANGED: Final[set[str]] = set()
_UNCHANGED_LIMIT: Final = 4096
_UNCHANGED_MAX_CHARS: Final = 128
_SCALARS: Final = (int, float, bool)


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """True when a field named ``key`` holds a credential (``X-Api-Key``, ``sessionId``…)."""
    folded = key.lower().replace("-", "_")
    return any(word in folded for word in SECRET_KEY_WORDS)


def might_hold_secret(lowered: bytes) -> bool:
    """Cheap gate over an already lower-cased raw line (or several joined).

    False means no redaction rule can match; True means "look closer" (false positives only
    cost time, never correctness).
    """
    for needle in _NEEDLES:
        if needle in lowered:
            return True
    if not lowered.isascii() and any(twin in lowered for twin in _CASE_TWINS_BYTES):
        return True
    return b"://" in lowered and _USERINFO_BYTES.search(lowered) is not None


def lines_that_might_hold_secrets(lines: Sequence[bytes]) -> set[int]:
    """Indices of the raw ``lines`` that :func:`might_hold_secret` would flag, found with one
    scan per needle over the whole batch instead of one per line (a line's share of a scan
    is the same, the per-call cost is paid once per batch)."""
    lowered = b"\n".join(lines).lower()
    suspects: set[int] = set()
    ends: list[int] | None = None
    for needle in _NEEDLES:
        at = lowered.find(needle)
        if at < 0:
            continue
        if ends is None:  # where each line's "\n" separator ends
            ends = list(accumulate(len(line) + 1 for line in lines))
        while at >= 0:  # needles hold no "\n": a hit lies inside one line
            index = bisect_right(ends, at)
            suspects.add(index)
            at = lowered.find(needle, ends[index])
    if not lowered.isascii():
        for twin in _CASE_TWINS_BYTES:
            if twin in lowered:  # rare: not worth locating, every line is a suspect
                return set(range(len(lines)))
    if b"://" in lowered and b"@" in lowered:
        # The pattern's classes exclude whitespace, so a match never spans two lines.
        if ends is None:
            ends = list(accumulate(len(line) + 1 for line in lines))
        for match in _USERINFO_BYTES.finditer(lowered):
            suspects.add(bisect_right(ends, match.start()))
    return suspects


def might_hold_secret_text(lowered: str) -> bool:
    """The same gate over already-decoded, lower-cased text (e.g. a record's values)."""
    for word in _WORDS:
        if word in lowered:
            return True
    if not lowered.isascii() and any(twin in lowered for twin in _CASE_TWINS_LOWERED):
        return True
    return "://" in lowered and _USERINFO_TEXT.search(lowered) is not None


def _redact_pair(match: re.Match[str]) -> str:
    value = match.group(4)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group(1)}{match.group(2)}{match.group(3)}{quote}{REDACTED}{quote}"


def redact_text(text: str) -> str:
    """Replace credentials inside free text: Bearer/Basic values, JWTs, ``key=value`` pairs
    whose key names a secret, secret query parameters and URL userinfo passwords."""
    if text in _UNCHANGED:
        return text
    result = _redact_text(text)
    if result == text and len(text) <= _UNCHANGED_MAX_CHARS:
        if len(_UNCHANGED) >= _UNCHANGED_LIMIT:
            _UNCHANGED.clear()
        _UNCHANGED.add(text)
    return result


def _redact_text(text: str) -> str:
    # Each rule runs only when one of its literals occurs: a case-insensitive pattern scan
    # costs ~60 ns a character here, a substring test a fraction of one. A replacement puts
    # «redacted» where it removes, so it never forms another rule's literal: one folded
    # copy serves every test. Text holding a case twin gets every rule, unfiltered.
    every = not text.isascii() and any(twin in text for twin in _CASE_TWINS)
    folded = text.lower()
    if not every and not might_hold_secret_text(folded):
        return text  # holds none of the literals below: the usual case
    for rule in TEXT_RULES:
        if every or rule.applies(text, folded):
            text = rule.apply(text, every)
    return text


@dataclass(frozen=True, slots=True)
class TextRule:
    """One way a credential shows in free text, and how it is replaced.

    ``literals``: lower-case text every match contains (one of them is enough), tested
    before the pattern runs; ``literal_case`` when a literal must match case and all
    (``eyJ``). Each literal must be caught by the batch gate (:data:`_WORDS`, or ``://``
    for URL userinfo): ``tests/backend/ingest/test_redact.py`` checks it.
    """

    name: str
    pattern: re.Pattern[str]
    replace: Callable[[re.Match[str]], str] | str
    literals: tuple[str, ...]
    literal_case: bool = False
    all_literals: bool = False
    """Every literal must occur (``://`` and ``@`` for URL userinfo), not just one."""

    def applies(self, text: str, folded: str) -> bool:
        haystack = text if self.literal_case else folded
        for literal in self.literals:  # a loop: any() over a generator costs more here
            if (literal in haystack) is not self.all_literals:
                return not self.all_literals
        return self.all_literals

    def apply(self, text: str, every: bool) -> str:
        if self.pattern is _PAIR and not every:
            return _redact_pairs_at_keys(text, text.lower())
        return self.pattern.sub(self.replace, text)


#: The free-text rules, in the order they run. Add a credential shape here (with the
#: literal that gates it; extend :data:`_WORDS` if no existing needle covers it).
TEXT_RULES: Final = (
    TextRule("bearer", _BEARER, lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", ("bearer",)),
    TextRule("jwt", _JWT, REDACTED, ("eyJ",), literal_case=True),
    TextRule("url userinfo", _USERINFO, lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@",
             ("://", "@"), literal_case=True, all_literals=True),
    TextRule("cookie header", _COOKIE_HEADER, lambda m: f"{m.group(1)}{REDACTED}", ("cookie",)),
    TextRule("secret-named pair", _PAIR, _redact_pair,
             ("authoriz", "cookie", "passw", "secret", "token", "key", "session")),
    TextRule("query parameter", _QUERY_SECRET, lambda m: f"{m.group(1)}{REDACTED}", ("key=",)),
)


def _redact_pairs_at_keys(text: str, folded: str) -> str:
    """``_PAIR.sub(_redact_pair, text)``, trying the pattern only where a key word starts.

    Every match begins with one of :data:`_PAIR_STARTS`, so the leftmost match at or after
    a position is the first of those starts where the pattern matches: the same result as
    ``sub``, without the pattern's attempt at every character. ``folded`` must be
    ``text.lower()`` with the same length (true for text without case twins).
    """
    starts: set[int] = set()
    for word in _PAIR_STARTS:
        at = folded.find(word)
        while at >= 0:
            starts.add(at)
            at = folded.find(word, at + 1)
    if not starts:
        return text
    pieces: list[str] = []
    done = 0
    for at in sorted(starts):
        if at < done:
            continue  # inside the previous match: sub's scan resumes after it
        match = _PAIR.match(text, at)
        if match is not None:
            pieces += (text[done:at], _redact_pair(match))
            done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def redact_mapping(obj: Any, _depth: int = 0) -> Any:
    """A copy of ``obj`` (JSON-like) with secret-named fields replaced and strings cleaned.

    Nesting deeper than 64 levels is replaced wholesale: such input is hostile, and walking
    it would exhaust the recursion limit.
    """
    if isinstance(obj, str):
        return redact_text(obj)
    if _depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(obj, dict):
        return {  # strings and plain scalars inline: a call per value measured ~1/3 of it
            key: REDACTED if isinstance(key, str) and is_secret_key(key) and value not in (None, "")
            else redact_text(value) if type(value) is str
            else value if value is None or type(value) in _SCALARS
            else redact_mapping(value, _depth + 1)
            for key, value in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [redact_mapping(item, _depth + 1) for item in obj]
    return obj


# --------------------------------------------------------------------------- the stage

#: Event slots that may carry text from the producer. ``level``, ``method`` and ``cache``
#: hold one of a few fixed words, ``source`` is the agent's own name for the input.
_TEXT_SLOTS: Final = tuple(
    field.name for field in msgspec.structs.fields(LogEvent)
    if field.type is str and field.name not in ("method", "cache", "source", "raw")
)


def redact_events(events: Sequence[LogEvent], vouched: Collection[int] = ()) -> int:
    """The redaction stage every normalized event passes before it is stored, shown or sent.

    Every event's raw line holds every value its fields were read from (a line's fields are
    parsed out of it; an in-process record's raw line is its JSON), so the raw lines are the
    gate: one batch scan (:func:`lines_that_might_hold_secrets`) finds the events that might
    hold a secret, and only those get per-field work, their raw line included
    (:func:`redact_event`). ``vouched``: indices of events a cheaper test already proved
    clean (the seed record's fast path checks its few values, not its whole line).
    Returns how many events changed.
    """
    indices = [index for index in range(len(events)) if index not in vouched] if vouched else range(len(events))
    if not indices:
        return 0
    lines = [events[index].raw.encode("utf-8", "replace") for index in indices]
    changed = 0
    for position in lines_that_might_hold_secrets(lines):
        changed += redact_event(events[indices[position]])
    return changed


def redact_event(event: LogEvent) -> bool:
    """Redact one event in place: its text slots, its extra fields and its raw line.

    Text that is a JSON object or array (a message logged as an object) is redacted as a
    structure, so a secret-named key loses its whole value, nested or not. The raw line is
    too when a field changed (the record held a secret, maybe nested); else the text rules
    run over it, which also see what parsing hides (the first of two equal keys).
    """
    changed = False
    values = [(name, value) for name in _TEXT_SLOTS if (value := getattr(event, name))]
    # One gate for all of them: the raw line's hit is usually in a field kept in ``extra``.
    if might_hold_secret_text("\n".join(value for _name, value in values).lower()):
        for name, value in values:
            clean = _redact_json_or_text(value)
            if clean != value:
                setattr(event, name, clean)
                changed = True
    if event.extra:
        extra = redact_mapping(event.extra)
        if extra != event.extra:
            event.extra = extra
            changed = True
    raw = event.raw
    if raw:
        clean = _redact_json_or_text(raw) if changed else redact_text(raw)
        if clean != raw:
            event.raw = clean
            changed = True
    if changed:
        event.redacted = True
    return changed


def _redact_json_or_text(text: str) -> str:
    if text[:1] in ("{", "["):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            if isinstance(value, (dict, list)):
                clean = redact_mapping(value)
                if clean != value:
                    return orjson.dumps(clean).decode()
                # Parsing keeps the last of two equal keys: the text may hide an earlier one.
    return redact_text(text)
