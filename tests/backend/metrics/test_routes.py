from __future__ import annotations

import random
import tracemalloc
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obsview.backend.errors import ConfigError
from obsview.backend.signals import routes
from obsview.backend.signals.routes import (
    CACHED_PATH_CHARS,
    OTHER_ROUTE,
    RouteTemplater,
    parse_route_rules,
    route_of,
)


@pytest.mark.parametrize(("path", "route"), [
    ("/api/posts/42", "/api/posts/:id"),
    ("/api/posts/42/comments/7", "/api/posts/:id/comments/:id"),
    ("/api/users/3f2b8c1e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "/api/users/:id"),
    ("/api/objects/5f9e1c2ab34d", "/api/objects/:id"),
    ("/reset/eyJhbGciOiJIUzI1NiJ9abc123XYZ", "/reset/:id"),
    ("/api/posts?page=2", "/api/posts"),
    ("/api/deadbeef", "/api/deadbeef"),
    ("/api/health", "/api/health"),
    ("/", "/"),
])
def test_default_templating(path: str, route: str) -> None:
    assert RouteTemplater().template(path) == route


def test_configured_rules_are_tried_first() -> None:
    rules = parse_route_rules([{"pattern": r"^/u/[a-z]+$", "replace": "/u/:name"}])
    templater = RouteTemplater(rules)
    assert templater.template("/u/alice") == "/u/:name"
    assert templater.template("/api/posts/1") == "/api/posts/:id"


def test_bad_rule_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"routes\[0\]\.pattern"):
        parse_route_rules([{"pattern": "(", "replace": "x"}])
    with pytest.raises(ConfigError, match=r"^routes\[1\]\.replace: required$"):
        parse_route_rules([{"pattern": "a", "replace": "b"}, {"pattern": "a"}])
    with pytest.raises(ConfigError, match=r"^routes\[0\]\.pattern: expected a regular expression \(a string\), got 1$"):
        parse_route_rules([{"pattern": 1, "replace": "b"}])


def test_cardinality_cap_sends_new_routes_to_other_and_counts_them() -> None:
    templater = RouteTemplater(max_routes=3)
    routes = [templater.template(f"/page-{name}") for name in ("a", "b", "c", "d", "e", "d")]
    assert routes[:3] == ["/page-a", "/page-b", "/page-c"]
    assert routes[3:] == [OTHER_ROUTE] * 3
    assert templater.overflowed == 3
    assert templater.routes == {"/page-a", "/page-b", "/page-c"}
    assert templater.bound("/page-a") == "/page-a"
    assert templater.bound("/page-z") == OTHER_ROUTE


def test_ids_are_found_as_the_four_patterns_find_them() -> None:
    # _is_id skips the patterns below 8 characters and tries them as one alternation.
    @given(st.text(alphabet="0123456789abcdefABCDEFxyzXYZ-_.~=+٣/", max_size=40))
    def agrees(segment: str) -> None:
        expected = segment.isdigit() or any(
            kind.fullmatch(segment) for kind in (routes._UUID, routes._HEX_ID, routes._TOKEN, routes._CASED_TOKEN))
        assert routes._is_id(segment) == expected

    agrees()


_SEGMENTS = st.one_of(
    st.sampled_from(["api", "posts", "users", "comments", "", "deadbeef", "health"]),
    st.integers(0, 10**12).map(str),
    st.uuids().map(str),
    st.text(alphabet="0123456789abcdefXYZ-_", max_size=30),
)


@given(st.lists(st.lists(_SEGMENTS, max_size=5).map(lambda parts: "/" + "/".join(parts)), max_size=60),
       st.integers(1, 8))
def test_cached_routes_equal_the_uncached_function(paths: list[str], cache_size: int) -> None:
    templater = RouteTemplater(max_routes=10_000, cache_size=cache_size)
    rules = parse_route_rules([{"pattern": r"^/users/[0-9]+$", "replace": "/users/:user"}])
    ruled = RouteTemplater(rules, max_routes=10_000, cache_size=cache_size)
    for path in paths + paths[::-1]:  # again, after evictions: hits and misses both
        assert templater.template(path) == route_of(path)
        assert ruled.template(path) == route_of(path, rules)


def test_unique_paths_cycle_through_the_cache_without_growing_it() -> None:
    size = 1000
    templater = RouteTemplater(cache_size=size)
    rng = random.Random(7)

    def scan(count: int) -> None:
        for _ in range(count):
            assert templater.template(f"/posts/{uuid.UUID(int=rng.getrandbits(128))}") == "/posts/:id"

    tracemalloc.start()
    try:
        scan(2 * size)  # full (~200 kB of these paths and their templates), and cycled once
        full = tracemalloc.get_traced_memory()[0]
        scan(20 * size)
        grown = tracemalloc.get_traced_memory()[0] - full
    finally:
        tracemalloc.stop()
    info = templater.cache_info()
    assert info.currsize == size
    assert info.misses == 22 * size
    assert grown < 4096  # 20,000 more unique paths: the same memory


def test_the_cache_keeps_what_is_used_and_evicts_the_least_recent() -> None:
    templater = RouteTemplater(cache_size=2)
    for path in ("/a/1", "/b/2", "/a/1", "/c/3", "/a/1", "/b/2"):
        templater.template(path)
    # /a/1 stayed in (used before /c/3 came), /b/2 was evicted by /c/3 and templated again.
    assert templater.cache_info()[:2] == (2, 4)


def test_long_paths_are_templated_but_not_cached() -> None:
    templater = RouteTemplater()
    for i in range(100):
        long = f"/files/{'x' * CACHED_PATH_CHARS}/{i}"
        assert templater.template(long) == route_of(long)
    assert templater.cache_info().currsize == 0


def test_overflow_is_counted_on_cached_paths_too() -> None:
    templater = RouteTemplater(max_routes=1)
    routes_seen = [templater.template(path) for path in ("/a", "/b", "/b", "/a")]
    assert routes_seen == ["/a", OTHER_ROUTE, OTHER_ROUTE, "/a"]
    assert templater.overflowed == 2


_SEGMENTS = st.sampled_from(["api", "posts", "12", "007", "v2", "", "²", "١٢", "12\n", ":id",
                             "5f3a9c2e", "a?b", "9?x=/1", "#7", "x" * 30])


@settings(max_examples=300, deadline=None)
@given(st.lists(_SEGMENTS, max_size=6), st.sampled_from(["", "?page=2", "#top", "\n"]))
def test_the_templater_agrees_with_route_of(segments: list[str], tail: str) -> None:
    # Behind its cache it templates numbered segments by substitution first (no user rules).
    path = "/" + "/".join(segments) + tail
    assert RouteTemplater().template(path) == route_of(path)
