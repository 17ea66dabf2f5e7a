"""The filter language, compiled once into a :class:`Filter` that tests events fast.

One language on both sides: the console filters its buffer with it and the agent answers a
console's :class:`~obsview.common.protocol.Query` (scroll-back, search of all history) with
it, so a filter selects the same events wherever it runs.

A query is whitespace-separated terms, all of which must match (AND):

===================  =====================================================================
``timeout``          free text: case-insensitive substring of the message or the raw line
``"two words"``      quoted free text (quotes also work after ``key:``)
``/time(out|d)/``    regex (Python syntax, case-insensitive) over the message or raw line
``re:PATTERN``       the same, for patterns that are not slash-delimited
``trace:4bf92f35…``  trace ID (or request ID) equal to the value; ``trace:req-1*`` for
                     the IDs starting with ``req-1``
``level:warn+``      that level and every more severe one; ``level:error`` exactly;
                     ``level:warn,error`` either
``route:/api/posts`` route template or concrete path starting with the value
``status:5xx``       status class; also ``status:404``, ``status:>=400``, ``status:4xx,503``
``method:GET``       HTTP method (case-insensitive; ``method:get,post`` either)
``host:web-1``       the host an event came from (case-insensitive; ``host:web-1,web-2``
                     either): in a console watching several agents, the host's name there
``-term``            negation of any term above
===================  =====================================================================

A term like ``/api/posts`` (not closed by a slash) is free text, so paths can be typed as is;
``/connection refused/`` is one regex (spaces are allowed between slashes).
The level *toggles* (keys 1–5 in the app) live in :attr:`Filter.levels`, separate from the
query, so toggling a level keeps the query and vice versa.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Final

import regex

from obsview.common.protocol import LEVEL_RANK, LEVELS, LogEvent
from obsview.common.trace_match import in_trace, in_trace_prefix

ALL_LEVELS: Final = frozenset(LEVELS)

Predicate = Callable[[LogEvent], bool]
_level_of: Final = attrgetter("level")


class FilterError(ValueError):
    """A query that cannot be compiled; the message says which term and why."""


class RegexTooSlow(FilterError):
    """A regex term ran past its time limit on one event (raised while testing events)."""


@dataclass(frozen=True, slots=True)
class Term:
    """One compiled term: a predicate, its cost rank (cheap first) and a short description.

    ``kind`` and ``value`` name what a positive term looks for, so a store can narrow its
    scan before testing events (the journal's trace index, its text prefilter, its errors
    kept apart): ``text`` with the lower-cased needle, ``trace`` with the exact
    ID, ``level`` with the levels it accepts (comma-separated), ``status`` with the lowest
    status it accepts (``600`` when none below that); empty for everything else.
    ``highlight`` is the regex source of the text it looks for in a line, to be highlighted
    ("" for terms on other fields).
    """

    test: Predicate
    description: str
    cost: int
    kind: str = ""
    value: str = ""
    highlight: str = ""


@dataclass(frozen=True, slots=True)
class Filter:
    """A compiled query plus the toggled level set. Immutable; build with :func:`parse_filter`."""

    query: str = ""
    levels: frozenset[str] = ALL_LEVELS
    terms: tuple[Term, ...] = field(default=(), compare=False, repr=False)
    highlight: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    """What the text and regex terms look for, to be highlighted in the lines shown."""

    @property
    def is_everything(self) -> bool:
        """True when every event matches (no term, every level on)."""
        return not self.terms and self.levels >= ALL_LEVELS

    def matches(self, event: LogEvent) -> bool:
        if event.level not in self.levels:
            return False
        for term in self.terms:
            if not term.test(event):
                return False
        return True

    def select(self, events: Iterable[LogEvent]) -> Iterator[bool]:
        """``matches`` over many events, lazily; the buffer's one pass (with ``compress``).

        Cheaper than calling :meth:`matches` per event: a level-only filter runs entirely in
        C, and a query makes one Python call per event instead of three.
        """
        levels = self.levels
        if not self.terms:
            return map(levels.__contains__, map(_level_of, events))
        if len(self.terms) == 1 and levels >= ALL_LEVELS:
            return map(self.terms[0].test, events)
        return map(self.matches, events)

    def with_levels(self, levels: Iterable[str]) -> Filter:
        """The same query with another set of toggled levels."""
        return replace(self, levels=_check_levels(levels))

    def with_query(self, query: str) -> Filter:
        """Another query (raises :class:`FilterError`) keeping the toggled levels."""
        return parse_filter(query, levels=self.levels)

    def describe(self) -> str:
        """A short human summary, e.g. ``text "boom" · level ≥ WARN · levels E W``."""
        parts = [term.description for term in self.terms]
        if not self.levels >= ALL_LEVELS:
            shown = " ".join(level[0] for level in LEVELS if level in self.levels)
            parts.append(f"levels {shown or 'none'}")
        return " · ".join(parts) if parts else "all events"


def highlight_of(*filters: Filter | None) -> re.Pattern[str] | None:
    """One pattern for what several queries look for (the filter's and the find's)."""
    patterns = [f.highlight for f in filters if f is not None and f.highlight is not None]
    if len(patterns) <= 1:
        return patterns[0] if patterns else None
    return re.compile("|".join(f"(?:{pattern.pattern})" for pattern in patterns), re.IGNORECASE)


def parse_filter(query: str, *, levels: Iterable[str] = ALL_LEVELS,
                 regex_timeout_s: float | None = None) -> Filter:
    """Compile ``query``; raise :class:`FilterError` naming the bad term and the reason.

    ``regex_timeout_s``: regex terms then run under the ``regex`` module with that limit per
    event, and raise :class:`RegexTooSlow` past it. Python's ``re`` backtracks without
    bound (``/.*error.*timeout/`` took 32 s on one 12 KB line): the agent, which runs a
    console's query on its event loop, sets it; the console filters its own buffer.
    """
    terms = sorted((_compile_token(token, regex_timeout_s) for token in _tokenize(query)),
                   key=lambda t: t.cost)
    sources = [f"(?:{term.highlight})" for term in terms if term.highlight]
    # Compiled after each term compiled alone, so a bad pattern was already named.
    highlight = re.compile("|".join(sources), re.IGNORECASE) if sources else None
    return Filter(query=query.strip(), levels=_check_levels(levels), terms=tuple(terms),
                  highlight=highlight)


# --------------------------------------------------------------------------- tokenizing

# A token is either a slash-delimited regex whose words hold no slash (``/connection
# refused/``: spaces allowed, so it reads as typed), or a run of non-space characters in
# which double-quoted parts may hold spaces. ``/api/posts`` is therefore plain text.
_TOKEN: Final = re.compile(
    r'-?/(?:[^/\\\s]|\\.)+(?:\s+(?:[^/\\\s]|\\.)+)*/(?=\s|$)'
    r'|(?:[^\s"]+|"(?:[^"\\]|\\.)*")+'
)
_QUOTED: Final = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _tokenize(query: str) -> list[str]:
    if query.replace('\\"', "").count('"') % 2:
        raise FilterError('unterminated quote: close it with "')
    return _TOKEN.findall(query)


def _unquote(text: str) -> str:
    return _QUOTED.sub(lambda m: m.group(1).replace('\\"', '"'), text)


# --------------------------------------------------------------------------- terms

_KEYS: Final = ("trace", "level", "route", "status", "method", "host", "re")

# Cost ranks: attribute compares < prefix tests < substring scans < regex scans.
_CHEAP, _PREFIX, _SCAN, _REGEX = 0, 1, 2, 3


def _compile_token(token: str, regex_timeout_s: float | None) -> Term:
    negate = token.startswith("-") and len(token) > 1
    body = token[1:] if negate else token
    term = _compile_positive(body, regex_timeout_s)
    if not negate:
        return term
    positive = term.test
    # No kind: a negated term narrows nothing.
    return Term(lambda event: not positive(event), f"not {term.description}", term.cost)


def _compile_positive(body: str, regex_timeout_s: float | None) -> Term:
    if len(body) >= 3 and body.startswith("/") and body.endswith("/"):
        return _regex_term(body[1:-1], regex_timeout_s)
    key, sep, value = body.partition(":")
    key = key.lower()
    if sep and key == "trace" and value.endswith("*") and not value.startswith('"'):
        return _trace_prefix_term(value[:-1])  # typed with a star: a prefix, asked for
    if sep and key in _KEYS:
        value = _unquote(value)
        if not value:
            raise FilterError(f"{key}: needs a value, e.g. {_EXAMPLES[key]}")
        if key == "re":
            return _regex_term(value, regex_timeout_s)
        return _KEY_COMPILERS[key](value)
    return _text_term(_unquote(body))


def _text_term(needle: str) -> Term:
    # lower() rather than casefold(): the same for the ASCII that logs are made of, and faster.
    folded = needle.lower()

    def test(event: LogEvent) -> bool:
        return folded in event.message.lower() or folded in event.raw.lower()

    return Term(test, f'text "{needle}"', _SCAN, "text", folded, highlight=re.escape(needle))


def _regex_term(pattern: str, timeout_s: float | None = None) -> Term:
    if timeout_s is not None:
        return _bounded_regex_term(pattern, timeout_s)
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
        if pattern == pattern.lower():
            # No capital in the pattern (so no \S, \W, \D…): matching it case-sensitively
            # against lower-cased text is equivalent and keeps re's fast literal scan, which
            # IGNORECASE turns off (about 4x faster over a 100k-event buffer).
            compiled = re.compile(pattern)
    except re.error as exc:
        raise FilterError(f"regex /{pattern}/ does not compile: {exc}") from None
    search = compiled.search
    if compiled.flags & re.IGNORECASE:

        def test(event: LogEvent) -> bool:
            return search(event.message) is not None or search(event.raw) is not None

    else:

        def test(event: LogEvent) -> bool:
            return search(event.message.lower()) is not None or search(event.raw.lower()) is not None

    return Term(test, f"regex /{pattern}/", _REGEX, highlight=pattern)


def _bounded_regex_term(pattern: str, timeout_s: float) -> Term:
    """A regex term whose every search stops after ``timeout_s`` (``regex``, not ``re``:
    the same syntax, a search that can be timed out, and no cubic blow-up on ``.*a.*b``)."""
    _regex_term(pattern)  # the same patterns compile, with the same error
    try:
        compiled = regex.compile(pattern, regex.IGNORECASE)
    except regex.error as exc:
        raise FilterError(f"regex /{pattern}/ does not compile: {exc}") from None
    search = compiled.search

    def found(text: str) -> bool:
        try:
            return search(text, timeout=timeout_s) is not None
        except TimeoutError:
            raise RegexTooSlow(
                f"regex /{pattern}/ took over {timeout_s:g} s on one event and was stopped: "
                "a repeat inside a repeat, or several .* in a row, can take forever; simplify it"
            ) from None

    def test(event: LogEvent) -> bool:
        return found(event.message) or found(event.raw)

    return Term(test, f"regex /{pattern}/", _REGEX, highlight=pattern)


def _trace_term(value: str) -> Term:
    return Term(lambda event: in_trace(event, value), f"trace {value}", _CHEAP, "trace", value)


def _trace_prefix_term(prefix: str) -> Term:
    if not prefix:
        raise FilterError(f"trace: needs a value, e.g. {_EXAMPLES['trace']}")
    return Term(lambda event: in_trace_prefix(event, prefix), f"trace {prefix}*", _PREFIX)


_LEVEL_ALIASES: Final = {"warning": "WARN", "err": "ERROR", "fatal": "ERROR", "critical": "ERROR"}


def _level_name(word: str) -> str:
    level = _LEVEL_ALIASES.get(word.lower(), word.upper())
    if level not in LEVEL_RANK:
        raise FilterError(f"level:{word} is not a level; use one of {', '.join(LEVELS).lower()}")
    return level


def _level_term(value: str) -> Term:
    if value.endswith("+"):
        floor = _level_name(value[:-1])
        wanted: frozenset[str] = frozenset(level for level in LEVELS if LEVEL_RANK[level] <= LEVEL_RANK[floor])
        description = f"level ≥ {floor}"
    else:
        wanted = frozenset(_level_name(word) for word in value.split(",") if word)
        description = "level " + ",".join(level for level in LEVELS if level in wanted)
    return Term(lambda event: event.level in wanted, description, _CHEAP, "level", ",".join(sorted(wanted)))


def _route_term(value: str) -> Term:
    def test(event: LogEvent) -> bool:
        return event.route.startswith(value) or event.path.startswith(value)

    return Term(test, f"route {value}", _PREFIX)


_COMPARISONS: Final = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "=": operator.eq}
_STATUS_CLASS: Final = re.compile(r"[1-5]xx", re.IGNORECASE)


def _status_part(part: str) -> Callable[[int], bool]:
    for symbol, compare in _COMPARISONS.items():
        if part.startswith(symbol):
            bound = _status_number(part[len(symbol):], part)
            return lambda status: compare(status, bound)
    if _STATUS_CLASS.fullmatch(part):
        low = int(part[0]) * 100
        return lambda status: low <= status < low + 100
    code = _status_number(part, part)
    return lambda status: status == code


def _status_number(text: str, part: str) -> int:
    if not text.isdigit() or not 100 <= int(text) <= 599:
        raise FilterError(f"status:{part} is not a status; try status:5xx, status:404 or status:>=400")
    return int(text)


def _status_term(value: str) -> Term:
    checks = tuple(_status_part(part) for part in value.split(",") if part)
    if not checks:
        raise FilterError(f"status:{value} is not a status; try status:5xx")

    if len(checks) == 1:
        (check,) = checks

        def test(event: LogEvent) -> bool:
            status = event.status
            return status is not None and check(status)

    else:

        def test(event: LogEvent) -> bool:
            status = event.status
            return status is not None and any(check(status) for check in checks)

    # The lowest status it accepts below 600 (any it accepts below 0 comes with 0: only
    # ``<`` and ``<=`` reach below, from 100 or more).
    lowest = next((status for status in range(600) if any(check(status) for check in checks)), 600)
    return Term(test, f"status {value}", _CHEAP, "status", str(lowest))


def _method_term(value: str) -> Term:
    methods = frozenset(word.upper() for word in value.split(",") if word)
    return Term(lambda event: event.method.upper() in methods, f"method {value.upper()}", _CHEAP)


def _host_term(value: str) -> Term:
    hosts = frozenset(word.lower() for word in value.split(",") if word)
    return Term(lambda event: event.host.lower() in hosts, f"host {value}", _CHEAP)


_KEY_COMPILERS: Final[dict[str, Callable[[str], Term]]] = {
    "trace": _trace_term,
    "level": _level_term,
    "route": _route_term,
    "status": _status_term,
    "method": _method_term,
    "host": _host_term,
    "re": _regex_term,
}
_EXAMPLES: Final = {
    "trace": "trace:4bf92f35",
    "level": "level:warn+",
    "route": "route:/api/posts",
    "status": "status:5xx",
    "method": "method:GET",
    "host": "host:web-1",
    "re": "re:time(out|d)",
}


def _check_levels(levels: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(levels)
    unknown = chosen - ALL_LEVELS
    if unknown:
        raise FilterError(f"unknown level(s) {', '.join(sorted(unknown))}; use {', '.join(LEVELS)}")
    return chosen
