"""Concrete request paths → route templates (``/api/posts/42`` → ``/api/posts/:id``).

Metrics are kept per route, so the number of distinct routes must stay bounded whatever the
traffic (scanners, ids the rules do not recognise): after ``max_routes`` distinct templates,
every new one is counted in the :data:`OTHER_ROUTE` bucket.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from obsview.backend.errors import ConfigError

OTHER_ROUTE: Final = "other"
ID: Final = ":id"
MAX_PATH_CHARS: Final = 2048
_CACHE_LIMIT: Final = 8192

_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_HEX_ID: Final = re.compile(r"(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}")
"""Hex of 8+ characters with at least one digit (so a word like ``deadbeef`` stays)."""
_TOKEN: Final = re.compile(r"(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_\-.~=+]{16,}")
"""Long mixed letters-and-digits segments: slugs with ids, base64url tokens, hashes, and
secrets in paths (reset and share links): a route is a label in /metrics, never a secret."""
_CASED_TOKEN: Final = re.compile(r"(?=[^/]*[a-z])(?=[^/]*[A-Z])[A-Za-z0-9_\-]{24,}")
"""Long upper-and-lower-case segments without a digit (a random token that drew none)."""


@dataclass(frozen=True, slots=True)
class RouteRule:
    """A user rule, tried before the built-in id detection: ``pattern`` (searched in the
    path) is replaced by ``replacement`` (``re.sub`` syntax) and the result is the route."""

    pattern: re.Pattern[str]
    replacement: str


DEFAULT_ROUTE_RULES: Final[tuple[RouteRule, ...]] = ()
"""No user rules: numeric ids, UUIDs, hex ids and long tokens are recognised built in."""


def parse_route_rules(raw: Sequence[Mapping[str, object]]) -> tuple[RouteRule, ...]:
    """``[[routes]]`` tables with ``pattern`` and ``replace`` → rules, or ConfigError."""
    rules = []
    for i, table in enumerate(raw):
        where = f"routes[{i}]"
        pattern, replacement = table.get("pattern"), table.get("replace")
        unknown = set(table) - {"pattern", "replace"}
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (expected pattern, replace)",
                              at=(i, sorted(unknown)[0]))
        if not isinstance(pattern, str) or not isinstance(replacement, str):
            raise ConfigError(f"{where}: 'pattern' and 'replace' must both be strings",
                              at=(i, "replace" if isinstance(pattern, str) else "pattern"))
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{where}.pattern: not a valid regular expression: {exc}", at=(i, "pattern")) from None
        rules.append(RouteRule(compiled, replacement))
    return tuple(rules)


def _is_id(segment: str) -> bool:
    if segment.isdigit():
        return True
    return bool(
        _UUID.fullmatch(segment) or _HEX_ID.fullmatch(segment) or _TOKEN.fullmatch(segment)
        or _CASED_TOKEN.fullmatch(segment)
    )


class RouteTemplater:
    def __init__(self, rules: Sequence[RouteRule] = DEFAULT_ROUTE_RULES, *, max_routes: int = 200) -> None:
        self._rules = tuple(rules)
        self._max_routes = max_routes
        self._known: set[str] = set()
        self._cache: dict[str, str] = {}
        self.overflowed = 0
        """Requests counted in the :data:`OTHER_ROUTE` bucket because the cap was reached."""

    @property
    def routes(self) -> frozenset[str]:
        return frozenset(self._known)

    def template(self, path: str) -> str:
        """The bounded route for a concrete path (hot path: cached)."""
        route = self._cache.get(path)
        if route is None:
            route = self.bound(self._apply_rules(path))
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()  # cheap bound; the working set refills in a few requests
            self._cache[path] = route
        elif route is OTHER_ROUTE:
            self.overflowed += 1
        return route

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

    def _apply_rules(self, path: str) -> str:
        path = path[:MAX_PATH_CHARS].split("?", 1)[0].split("#", 1)[0] or "/"
        for rule in self._rules:
            result, replaced = rule.pattern.subn(rule.replacement, path)
            if replaced:
                return result
        return "/".join(ID if _is_id(segment) else segment for segment in path.split("/"))
