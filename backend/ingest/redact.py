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
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from operator import attrgetter
from typing import Any, Final

import ahocorasick_rs
import msgspec
import orjson

from obsview.common.protocol import LogEvent

REDACTED: Final = "«redacted»"
"""The one replacement for every secret value (never markup: the console renders it as text)."""

SECRET_KEY_WORDS: Final = (
    "authorization", "cookie", "password", "passwd", "secret", "token",
    "api_key", "apikey", "session",
    # detect-secrets' keyword denylist (plugins/keyword.py) adds these:
    "pwd", "passphrase", "private_key", "privatekey", "credential", "auth_key", "authkey",
    # presigned URLs' query parameters, when a logger splits them into fields:
    "amz_signature", "amz_credential", "goog_signature", "goog_credential",
)
SECRET_KEY_NAMES: Final = frozenset({"auth", "pass", "sig", "signature"})
"""Key parts that name a secret only as a whole word (``auth``, ``basic_auth``; not
``author`` or ``oauth_provider``): split on ``_`` and ``.`` after folding."""

# Lower-case byte needles for the batch gate, as few as cover every rule. "pass" covers password/passwd/passphrase, "key" covers
# api_key/api-key/apikey and `?key=`, "eyj" starts every JWT (base64 of '{"'), "auth" covers
# "Authorization: Bearer/Basic/Digest" and auth keys, "sig" covers `sig=` (Azure SAS) and
# X-Amz-/X-Goog-Signature, "credential" X-Amz-Credential, "key" private key blocks and
# private_key, "gh" GitHub's ghp_/gho_/ghu_/ghs_/ghr_ tokens, "github_pat" its fine-grained
# ones, "xox" Slack's, "akia"/"asia" AWS access key ids (long-lived and STS). URL userinfo
# is checked only when "://" occurs, card numbers by a digit-run scan (:func:`_has_card_run`).
_WORDS: Final = (
    "pass", "secret", "token", "cookie", "session", "auth", "bearer", "eyj", "key", "pwd",
    "sig", "credential", "gh", "github_pat", "xox", "akia", "asia",
)
# In a raw JSON line a key may be spelled with escapes ("\u0070assword") and a URL's slashes
# escaped ("http:\/\/user:pw@host" hides "://"): such a line always gets the careful path.
_NEEDLES: Final = (*(word.encode() for word in _WORDS), b"\\u", b"\\/")
# Every needle in one pass (Aho-Corasick, SIMD-prefiltered, in Rust): one scan per needle
# measured ~0.18 us per 320-byte line each, so 19 needles cost ~3.6 us a line, more than the
# rest of a record's normalization; the automaton finds them all in ~0.5 us.
_GATE: Final = ahocorasick_rs.BytesAhoCorasick(list(_NEEDLES))
_GATE_TEXT: Final = ahocorasick_rs.AhoCorasick(list(_WORDS))
# The four letters a case-insensitive pattern matches to an ASCII letter (İ ı → i, ſ → s,
# the Kelvin sign → k; found by trying every code point): "paſsword=x" matches the rules
# below, yet no lower-cased needle. Text holding one always gets the careful path.
_CASE_TWINS: Final = ("\u0130", "\u0131", "\u017f", "\u212a")
_CASE_TWINS_BYTES: Final = tuple(twin.encode() for twin in _CASE_TWINS)
# The same after str.lower(): "İ" becomes "i" + U+0307, the Kelvin sign a plain "k".
_CASE_TWINS_LOWERED: Final = ("\u0307", "\u0131", "\u017f")
# Where a pair can start: each alternative of the pair rule's key begins with one of these.
_PAIR_STARTS: Final = (
    "auth", "cookie", "pass", "pwd", "secret", "token", "api", "private", "credential", "session",
    "sig",
)
# Every pattern below runs on hostile text, so none may backtrack quadratically: bounded or
# possessive repeats, and lookbehinds so a long run of word characters is tried once, not at
# each of its positions (a test feeds 64 KiB pathological lines).
_USERINFO_TEXT: Final = re.compile(r"://[^\s/@\"':]{0,256}+:[^\s/@\"']{0,256}+@")
_USERINFO_BYTES: Final = re.compile(rb"://[^\s/@\"':]{0,256}+:[^\s/@\"']{0,256}+@")

_KEY_WORDS_RE: Final = (
    r"(?:authorization|cookie|passw(?:or)?d|passphrase|pwd|secret|token|api[_-]?key"
    r"|private[_-]?key|credentials?|session|(?<![a-z])(?:auth|pass|sig)(?![a-z]))"
)
# The pair rule's whole-word key names (:data:`_KEY_WORDS_RE`): "auth2" or "sig1" is a
# secret-named key to it, so it must be one to :func:`is_secret_key` too (else a record's
# value stays in ``extra`` while the raw line loses it, and the typed path learns the key).
_KEY_NAME_WORD: Final = re.compile(r"(?<![a-z])(?:auth|pass|sig)(?![a-z])")
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
# Query parameters that carry credentials without one of the key words in their name: API
# keys, presigned URLs (S3's X-Amz-Signature/-Credential, GCS's X-Goog-*), Azure SAS `sig`.
_QUERY_SECRET: Final = re.compile(
    r"(?i)([?&;](?:key|access_key|sig|signature|x-amz-signature|x-amz-credential"
    r"|x-goog-signature|x-goog-credential)=)[^&#\s\"'\\]*"
)
# Token shapes, as gitleaks defines them (cmd/generate/config/rules: github.go, slack.go,
# aws.go, privatekey.go): a known prefix and a fixed alphabet, so a false hit is unlikely.
_GITHUB_TOKEN: Final = re.compile(r"gh[pousr]_[0-9a-zA-Z]{36}|github_pat_\w{82}")
_SLACK_TOKEN: Final = re.compile(
    r"xox[abeprs]-(?:\d-)?[0-9A-Za-z-]{8,250}+|xox[os]-\d{1,20}-\d{1,20}-\d{1,20}-[a-fA-F\d]{1,100}"
    r"|xoxe\.xox[bp]-\d-[A-Za-z0-9]{163,166}"
)
_AWS_KEY_ID: Final = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
# A PEM private key, to its END line; without one (a cut line), the base64 body after it.
_PRIVATE_KEY: Final = re.compile(
    r"(?is)-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY-----"
    r"(?:.{0,16384}?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY-----|[A-Za-z0-9+/=\s\\]{0,16384})"
)
# HTTP Digest in an Authorization header: the parameter list after the scheme goes
# (response="…" is the credential).
_DIGEST: Final = re.compile(
    r"(?i)\b((?:proxy-)?authorization[\"']?[ \t]{0,8}[:=][ \t]{0,8}[\"']?digest[ \t]{1,8})"
    r"(?:[a-z0-9_-]{1,32}[ \t]{0,8}=[ \t]{0,8}(?:\\?\"[^\"\\\r\n]{0,512}\\?\"|[^\s,\"\\]{1,512})[ \t]{0,8},?[ \t]{0,8}){1,20}"
)
# Not a decimal's fraction, nor its integer part; a full stop after it ends a sentence.
_CARD: Final = re.compile(r"(?<![\d.])[2-6](?:[ -]?\d){12,18}(?!\d|\.\d)")
_CARD_GROUP: Final = re.compile(r"\d+")

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
    if any(word in folded for word in SECRET_KEY_WORDS):
        return True
    if _KEY_NAME_WORD.search(folded) is not None:  # as the pair rule reads a key: "auth2"
        return True
    return not SECRET_KEY_NAMES.isdisjoint(folded.replace(".", "_").split("_"))


def might_hold_secret(lowered: bytes) -> bool:
    """Cheap gate over an already lower-cased raw line (or several joined).

    False means no redaction rule can match; True means "look closer" (false positives only
    cost time, never correctness).
    """
    if _GATE.find_matches_as_indexes(lowered):
        return True
    if not lowered.isascii() and any(twin in lowered for twin in _CASE_TWINS_BYTES):
        return True
    if b"://" in lowered and _USERINFO_BYTES.search(lowered) is not None:
        return True
    return _CARD_RUN in lowered.translate(_DIGIT_RUNS)


def lines_that_might_hold_secrets(lines: Sequence[bytes]) -> set[int]:
    """Indices of the raw ``lines`` that :func:`might_hold_secret` would flag, found with one
    scan over the whole batch instead of one per line (the per-call cost is paid once per
    batch)."""
    lowered = b"\n".join(lines).lower()
    suspects: set[int] = set()
    ends: list[int] | None = None
    hits = _GATE.find_matches_as_indexes(lowered)
    if hits:
        ends = list(accumulate(len(line) + 1 for line in lines))  # where each "\n" ends
        for _needle, start, _end in hits:  # needles hold no "\n": a hit lies inside one line
            suspects.add(bisect_right(ends, start))
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
    runs = lowered.translate(_DIGIT_RUNS)  # "\n" is not a run byte: a run stays in its line
    at = runs.find(_CARD_RUN)
    if at >= 0:
        if ends is None:
            ends = list(accumulate(len(line) + 1 for line in lines))
        while at >= 0:
            index = bisect_right(ends, at)
            suspects.add(index)
            at = runs.find(_CARD_RUN, ends[index])
    return suspects


def might_hold_secret_text(lowered: str) -> bool:
    """The same gate over already-decoded, lower-cased text (e.g. a record's values)."""
    if _GATE_TEXT.find_matches_as_indexes(lowered):
        return True
    if not lowered.isascii() and any(twin in lowered for twin in _CASE_TWINS_LOWERED):
        return True
    if "://" in lowered and _USERINFO_TEXT.search(lowered) is not None:
        return True
    return _has_card_run(lowered)


# A card number is 13-19 digits, maybe cut in groups by single spaces or dashes. Mapping
# digits, spaces and dashes to "0" (everything else to "x") and looking for 13 zeros finds
# every candidate at memchr speed; dates (10), times and most ids are shorter. The rule then
# checks the issuer's first digit and the Luhn sum, so epoch milliseconds (a 1 first) and
# most other long numbers stay.
_DIGIT_RUNS: Final = bytes(0x30 if chr(b) in "0123456789 -" else 0x78 for b in range(256))
_CARD_RUN: Final = b"0" * 13


def _has_card_run(text: str) -> bool:
    return len(text) >= 13 and _CARD_RUN in text.encode("utf-8", "replace").translate(_DIGIT_RUNS)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _redact_card(match: re.Match[str]) -> str:
    """A run of digit groups hides a card when some groups of it in a row are one: the
    pattern takes as many digits as it can, so in '4111 1111 1111 1111 15:00' or
    'order 32 4111 1111 1111 1111' the card is only part of the run it matched."""
    run = match.group(0)
    groups = [(group.start(), group.end()) for group in _CARD_GROUP.finditer(run)]
    for first, (start, _) in enumerate(groups):
        if run[start] not in "23456":
            continue
        digits = 0
        for last in range(first, len(groups)):
            digits += groups[last][1] - groups[last][0]
            if digits > 19:
                break
            end = groups[last][1]
            if digits >= 13 and _luhn_valid(run[start:end].replace(" ", "").replace("-", "")):
                return run[:start] + REDACTED + _CARD.sub(_redact_card, run[end:])
    return run


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
    if not text.isascii() and any(twin in text for twin in _CASE_TWINS):
        for rule in TEXT_RULES:
            text = rule.pattern.sub(rule.replace, text)
        return text
    folded = text.lower()
    # Every literal and every place a secret-named pair may start, in one automaton pass
    # (a substring test per literal and a find loop per pair word cost ~5 us of a login
    # line's ~8). Overlapping, so "key" does not hide "key=" nor "secret" a "token" in it.
    hits = _LITERALS.find_matches_as_indexes(folded, overlapping=True)
    card = _has_card_run(folded)
    if not hits and not card:
        return text  # holds none of the literals: the usual case
    rules = _rules_for(frozenset([_LITERAL_NAMES[index] for index, _start, _end in hits]), card)
    original = text
    for rule in rules:
        if rule.literal_case and not rule.occurs_in(text):
            continue  # its literal occurs in another case only
        if rule.pattern is _PAIR:
            # The pass's starts hold while no rule before changed the text (sub returns
            # the very string when it replaces nothing).
            starts = [at for index, at, _end in hits if index in _PAIR_START_INDICES] if text is original else None
            text = _redact_pairs_at_keys(text, text.lower(), starts)
        else:
            text = rule.pattern.sub(rule.replace, text)
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
    gate: Callable[[str], bool] | None = None
    """Instead of literals: a test of the folded text (card numbers: a run of digits)."""

    def occurs_in(self, text: str) -> bool:
        """Whether the literals occur in ``text`` as written (for ``literal_case``)."""
        if self.all_literals:
            return all(literal in text for literal in self.literals)
        return any(literal in text for literal in self.literals)

    @property
    def folded_literals(self) -> tuple[str, ...]:
        """What the one-pass search looks for in folded text: one literal is enough to make
        the rule a candidate (``occurs_in`` then checks case, or all of ``all_literals``),
        so an all-literals rule needs only its first (not the "@" of URL userinfo, which a
        hostile line may hold 64 Ki times)."""
        return tuple(literal.lower() for literal in self.literals[: 1 if self.all_literals else None])


#: The free-text rules, in the order they run. Add a credential shape here (with the
#: literal that gates it; extend :data:`_WORDS` if no existing needle covers it).
TEXT_RULES: Final = (
    TextRule("private key block", _PRIVATE_KEY, REDACTED, ("private key",)),
    TextRule("digest credentials", _DIGEST, lambda m: f"{m.group(1)}{REDACTED}", ("auth",)),
    TextRule("github token", _GITHUB_TOKEN, REDACTED, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
             literal_case=True),
    TextRule("slack token", _SLACK_TOKEN, REDACTED, ("xox",)),
    TextRule("aws access key id", _AWS_KEY_ID, REDACTED, ("AKIA", "ASIA"), literal_case=True),
    TextRule("bearer", _BEARER, lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", ("bearer",)),
    TextRule("jwt", _JWT, REDACTED, ("eyJ",), literal_case=True),
    TextRule("url userinfo", _USERINFO, lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@",
             ("://", "@"), literal_case=True, all_literals=True),
    TextRule("cookie header", _COOKIE_HEADER, lambda m: f"{m.group(1)}{REDACTED}", ("cookie",)),
    TextRule("secret-named pair", _PAIR, _redact_pair,
             ("auth", "cookie", "pass", "pwd", "credential", "secret", "token", "key", "session",
              "sig")),
    TextRule("query parameter", _QUERY_SECRET, lambda m: f"{m.group(1)}{REDACTED}",
             ("key=", "sig=", "signature=", "credential=")),
    TextRule("card number", _CARD, _redact_card, (), gate=_has_card_run),
)
_LITERAL_NAMES: Final = tuple(sorted(
    {literal for rule in TEXT_RULES for literal in rule.folded_literals} | set(_PAIR_STARTS)))
_LITERALS: Final = ahocorasick_rs.AhoCorasick(list(_LITERAL_NAMES))
_PAIR_START_INDICES: Final = frozenset(_LITERAL_NAMES.index(word) for word in _PAIR_STARTS)


@functools.lru_cache(maxsize=512)
def _rules_for(found: frozenset[str], card: bool) -> tuple[TextRule, ...]:
    """The rules, in order, that a text with these folded literals (and a card-like digit
    run or not) may need: few combinations recur, so each is worked out once."""
    return tuple(
        rule for rule in TEXT_RULES
        if (card if rule.gate is not None else not found.isdisjoint(rule.folded_literals))
    )


def _redact_pairs_at_keys(text: str, folded: str, starts: Iterable[int] | None = None) -> str:
    """``_PAIR.sub(_redact_pair, text)``, trying the pattern only where a key word starts.

    Every match begins with one of :data:`_PAIR_STARTS`, so the leftmost match at or after
    a position is the first of those starts where the pattern matches: the same result as
    ``sub``, without the pattern's attempt at every character. ``folded`` must be
    ``text.lower()`` with the same length (true for text without case twins). ``starts``:
    where the words occur in ``folded``, if the caller found them already.
    """
    if starts is None:
        starts = [at for index, at, _end in _LITERALS.find_matches_as_indexes(folded, overlapping=True)
                  if index in _PAIR_START_INDICES]
    if not starts:
        return text
    pieces: list[str] = []
    done = 0
    for at in sorted(set(starts)):
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
        # Keys are producer text too (a URL or a header line logged as a key): cleaned like values.
        return {  # strings and plain scalars inline: a call per value measured ~1/3 of it
            (redact_text(key) if type(key) is str else key): REDACTED if isinstance(key, str) and is_secret_key(key) and value not in (None, "")
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
_TEXT_VALUES: Final = attrgetter(*_TEXT_SLOTS)


def redact_events(events: Sequence[LogEvent], vouched: Collection[int] = ()) -> int:
    """The redaction stage every normalized event passes before it is stored, shown or sent.

    Every event's raw line holds every value its fields were read from (a line's fields are
    parsed out of it; an in-process record's raw line is its JSON), so the raw lines are the
    gate: one batch scan (:func:`lines_that_might_hold_secrets`) finds the events that might
    hold a secret, and only those get per-field work, their raw line included
    (:func:`redact_event`). ``vouched``: indices of events a cheaper test already proved
    clean (the typed path checks a record's decoded values, not its whole line).
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
    values = _TEXT_VALUES(event)  # one C call: a getattr each measured ~1 us of ~6
    # One gate for all of them: the raw line's hit is usually in a field kept in ``extra``.
    if might_hold_secret_text("\n".join(filter(None, values)).lower()):
        for name, value in zip(_TEXT_SLOTS, values):
            if not value:
                continue
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
