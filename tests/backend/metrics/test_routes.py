from __future__ import annotations

import pytest

from obsview.backend.errors import ConfigError
from obsview.backend.signals.routes import OTHER_ROUTE, RouteTemplater, parse_route_rules


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
    with pytest.raises(ConfigError, match=r"routes\[1\]"):
        parse_route_rules([{"pattern": "a", "replace": "b"}, {"pattern": "a"}])


def test_cardinality_cap_sends_new_routes_to_other_and_counts_them() -> None:
    templater = RouteTemplater(max_routes=3)
    routes = [templater.template(f"/page-{name}") for name in ("a", "b", "c", "d", "e", "d")]
    assert routes[:3] == ["/page-a", "/page-b", "/page-c"]
    assert routes[3:] == [OTHER_ROUTE] * 3
    assert templater.overflowed == 3
    assert templater.routes == {"/page-a", "/page-b", "/page-c"}
    assert templater.bound("/page-a") == "/page-a"
    assert templater.bound("/page-z") == OTHER_ROUTE
