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
from typing import Any, Final

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
# In a raw JSON line a key may be spelled with escapes ("\u0070assword"): such a line
# always gets the careful path.
_NEEDLES: Final = (*(word.encode() for word in _WORDS), b"\\u")
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
    return b"://" in lowered and _USERINFO_BYTES.search(lowered) is not None


def might_hold_secret_text(lowered: str) -> bool:
    """The same gate over already-decoded, lower-cased text (e.g. a record's values)."""
    for word in _WORDS:
        if word in lowered:
            return True
    return "://" in lowered and _USERINFO_TEXT.search(lowered) is not None


def _redact_pair(match: re.Match[str]) -> str:
    value = match.group(4)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group(1)}{match.group(2)}{match.group(3)}{quote}{REDACTED}{quote}"


def redact_text(text: str) -> str:
    """Replace credentials inside free text: Bearer/Basic values, JWTs, ``key=value`` pairs
    whose key names a secret, secret query parameters and URL userinfo passwords."""
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@", text)
    text = _COOKIE_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _PAIR.sub(_redact_pair, text)
    return _QUERY_SECRET.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


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
        return {
            key: REDACTED if isinstance(key, str) and is_secret_key(key) and value not in (None, "")
            else redact_mapping(value, _depth + 1)
            for key, value in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [redact_mapping(item, _depth + 1) for item in obj]
    return obj
