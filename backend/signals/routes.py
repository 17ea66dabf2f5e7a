"""Concrete request paths → route templates (``/api/posts/42`` → ``/api/posts/:id``).

Metrics are kept per route, so the number of distinct routes must stay bounded whatever the
traffic (scanners, ids the rules do not recognise): after ``max_routes`` distinct templates,
every new one is counted in the :data:`OTHER_ROUTE` bucket.

Templating runs for every request event, so each :class:`RouteTemplater` keeps a cache of
path → template. It is bounded whatever the traffic sends: at most ``cache_size`` entries,
least recently used evicted first (a scan of unique ``/posts/<uuid>`` paths cycles through
the cache without growing it, and the hot paths it keeps asking for stay in it), and paths
longer than :data:`CACHED_PATH_CHARS` are templated every time instead of kept.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Final

import msgspec

from obsview.backend.config_tables import Table, convert_section

OTHER_ROUTE: Final = "other"
ID: Final = ":id"
MAX_PATH_CHARS: Final = 2048
CACHE_SIZE: Final = 8192
CACHED_PATH_CHARS: Final = 256
"""Longer paths are not cached. A full cache of typical paths holds ~1.6 MiB (~200 B an
entry); the worst case is ~26 MiB (keys of 256 four-byte characters, templates twice as long
as ``/1/1`` → ``/:id/:id`` makes them)."""

_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_HEX_ID: Final = re.compile(r"(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}")
"""Hex of 8+ characters with at least one digit (so a word like ``deadbeef`` stays)."""
_TOKEN: Final = re.compile(r"(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_\-.~=+]{16,}")
"""Long mixed letters-and-digits segments: slugs with ids, base64url tokens, hashes, and
secrets in paths (reset and share links): a route is a label in /metrics, never a secret."""
_CASED_TOKEN: Final = re.compile(r"(?=[^/]*[a-z])(?=[^/]*[A-Z])[A-Za-z0-9_\-]{24,}")
"""Long upper-and-lower-case segments without a digit (a random token that drew none)."""
_ANY_ID: Final = re.compile("|".join(f"(?:{kind.pattern})" for kind in (_UUID, _HEX_ID, _TOKEN, _CASED_TOKEN)))
"""One fullmatch instead of four: an alternation fullmatches when one of its branches does."""
_NUMBERED_SEGMENT: Final = re.compile(r"(?<=/)\d+(?=[/?#]|\Z)")
_SHORTEST_PATTERNED_ID: Final = 8
"""The shortest segment one of the patterns can match (``_HEX_ID``): most segments are
words shorter than this, and only the digit test can make them an id."""


class RouteRule(Table):
    """A user rule, a ``[[routes]]`` table tried before the built-in id detection: ``pattern``
    (searched in the path) is replaced by ``replace`` (``re.sub`` syntax) and the result is
    the route."""

    pattern: re.Pattern[str]
    replacement: str = msgspec.field(name="replace")


DEFAULT_ROUTE_RULES: Final[tuple[RouteRule, ...]] = ()
"""No user rules: numeric ids, UUIDs, hex ids and long tokens are recognised built in."""


def parse_route_rules(raw: object) -> tuple[RouteRule, ...]:
    """``[[routes]]`` tables with ``pattern`` and ``replace`` → rules, or ConfigError."""
    return tuple(convert_section(raw, list[RouteRule], ("routes",)))


def _is_id(segment: str) -> bool:
    if len(segment) < _SHORTEST_PATTERNED_ID:
        return segment.isdigit()
    return segment.isdigit() or _ANY_ID.fullmatch(segment) is not None


def route_of(path: str, rules: Sequence[RouteRule] = DEFAULT_ROUTE_RULES) -> str:
    """The route template of a concrete path, uncached and unbounded: the first user rule
    that matches, else every id-like segment replaced by :data:`ID`."""
    path = path[:MAX_PATH_CHARS].split("?", 1)[0].split("#", 1)[0] or "/"
    for rule in rules:
        result, replaced = rule.pattern.subn(rule.replacement, path)
        if replaced:
            return result
    return "/".join([ID if _is_id(segment) else segment for segment in path.split("/")])


class RouteTemplater:
    def __init__(self, rules: Sequence[RouteRule] = DEFAULT_ROUTE_RULES, *, max_routes: int = 200,
                 cache_size: int = CACHE_SIZE) -> None:
        self._rules = tuple(rules)
        self._max_routes = max_routes
        self._known: set[str] = set()
        self._route_of = functools.partial(route_of, rules=self._rules)
        # functools' LRU cache (C): its hit costs about a dict lookup, and it counts.
        self._cached_route_of = functools.lru_cache(maxsize=cache_size)(
            self._route_of if self._rules else self._route_of_numbered)
        # Behind it, paths with their numbered segments written as ID: a site with more
        # posts than the cache holds has few such shapes, and templating one is ~4x dearer
        # than the substitution. Not with user rules, which must see the path as it came.
        self._route_of_shape = functools.lru_cache(maxsize=cache_size)(route_of)
        self.overflowed = 0
        """Requests counted in the :data:`OTHER_ROUTE` bucket because the cap was reached."""

    def _route_of_numbered(self, path: str) -> str:
        # Only a whole segment of digits is replaced, which route_of replaces too (``\\d``
        # is a subset of ``str.isdigit``); a path short enough to be cached stays within
        # MAX_PATH_CHARS with its ids written as ID, so route_of truncates neither.
        if len(path) > CACHED_PATH_CHARS:
            return route_of(path)
        return self._route_of_shape(_NUMBERED_SEGMENT.sub(ID, path))

    @property
    def routes(self) -> frozenset[str]:
        return frozenset(self._known)

    def cache_info(self) -> functools._CacheInfo:
        """Hits, misses, ``maxsize`` and the current size of the path cache."""
        return self._cached_route_of.cache_info()

    def template(self, path: str) -> str:
        """The bounded route for a concrete path (hot path: cached)."""
        if len(path) > CACHED_PATH_CHARS:
            return self.bound(self._route_of(path))
        route = self._cached_route_of(path)
        if route in self._known:
            return route
        return self.bound(route)

    def bound(self, route: str) -> str:
        """``route`` itself while there is room for it, else :data:`OTHER_ROUTE`."""
        known = self._known
        if route in known:
            return route
        if len(known) < self._max_routes:
            known.add(route)
            return route
        self.overflowed += 1
        return OTHER_ROUTE
