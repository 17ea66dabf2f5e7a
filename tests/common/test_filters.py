from __future__ import annotations

import pytest

from obsview.common.filters import ALL_LEVELS, Filter, FilterError, RegexTooSlow, parse_filter
from obsview.common.protocol import LogEvent


def event(message: str = "hello", level: str = "INFO", **fields: object) -> LogEvent:
    return LogEvent(ts=0.0, level=level, message=message, **fields)  # type: ignore[arg-type]


ACCESS_OK = event("GET /api/posts/42", method="GET", route="/api/posts/:id", path="/api/posts/42", status=200, duration_ms=3.0)
ACCESS_404 = event("GET /api/users/7", method="GET", route="/api/users/:id", path="/api/users/7", status=404, duration_ms=1.0)
ACCESS_503 = event("POST /api/posts", "ERROR", method="POST", route="/api/posts", path="/api/posts", status=503, duration_ms=900.0)
TRACED = event("db query slow", "WARN", trace_id="4bf92f3577b34da6", request_id="req-XYZ-1")
PLAIN = event("Database Timeout after 5s", "ERROR", raw='{"msg":"Database Timeout","extra":"needle-in-raw"}')
DEBUG = event("cache miss", "DEBUG")
ALL = [ACCESS_OK, ACCESS_404, ACCESS_503, TRACED, PLAIN, DEBUG]


def matching(query: str) -> list[LogEvent]:
    f = parse_filter(query)
    return [e for e in ALL if f.matches(e)]


def test_empty_query_matches_everything() -> None:
    f = parse_filter("   ")
    assert f.is_everything and f.describe() == "all events"
    assert matching("") == ALL


def test_free_text_is_case_insensitive_over_message_and_raw() -> None:
    assert matching("timeout") == [PLAIN]
    assert matching("NEEDLE-in-RAW") == [PLAIN]
    assert matching('"database timeout"') == [PLAIN]
    assert matching("nothing-like-this") == []


def test_path_typed_as_text_is_not_a_regex() -> None:
    assert matching("/api/posts") == [ACCESS_OK, ACCESS_503]


def test_slash_regex_and_re_prefix() -> None:
    assert matching("/time(out|d)/") == [PLAIN]
    assert matching(r"re:^GET\s/api/(posts|users)") == [ACCESS_OK, ACCESS_404]
    assert matching('re:"cache miss"') == [DEBUG]


@pytest.mark.parametrize("query", ["/time(out|d)/", r"re:^GET\s/api/(posts|users)", 're:"cache miss"', "-/time(out|d)/"])
def test_a_time_limited_regex_matches_what_re_matches(query: str) -> None:
    bounded = parse_filter(query, regex_timeout_s=1.0)
    assert [e for e in ALL if bounded.matches(e)] == [e for e in ALL if parse_filter(query).matches(e)]


@pytest.mark.parametrize("query", ["/(a|aa)+$/", "re:(a|aa)+$", "-/(a|aa)+$/"])
def test_a_time_limited_regex_stops_on_a_backtracking_line(query: str) -> None:
    bounded = parse_filter(query, regex_timeout_s=0.05)
    with pytest.raises(RegexTooSlow, match="took over 0.05 s"):
        bounded.matches(event("a" * 64 + "!"))


@pytest.mark.parametrize("query", ["/([a-z/", "re:(unclosed", "re:*x"])
def test_a_time_limited_bad_regex_says_why(query: str) -> None:
    with pytest.raises(FilterError, match="does not compile"):
        parse_filter(query, regex_timeout_s=1.0)


@pytest.mark.parametrize("query", ["/([a-z/", "re:(unclosed", "re:*x"])
def test_bad_regex_says_why(query: str) -> None:
    with pytest.raises(FilterError, match="does not compile"):
        parse_filter(query)


def test_trace_matches_the_trace_or_request_id_exactly_and_a_prefix_only_with_a_star() -> None:
    assert matching("trace:4bf92f3577b34da6") == [TRACED]
    assert matching("trace:req-XYZ-1") == [TRACED]
    assert matching('trace:"req-XYZ-1"') == [TRACED]
    assert matching("trace:4bf92f") == []
    assert matching("trace:req-XYZ") == []
    assert matching("trace:4bf92f*") == [TRACED]
    assert matching("trace:req-XYZ*") == [TRACED]
    assert matching('trace:"4bf92f*"') == []  # quoted: the star is part of the ID
    assert matching("-trace:4bf92f*") == [e for e in ALL if e is not TRACED]
    assert matching("trace:ffff*") == []


def test_level_operators() -> None:
    assert matching("level:warn+") == [ACCESS_503, TRACED, PLAIN]
    assert matching("level:error") == [ACCESS_503, PLAIN]
    assert matching("level:warning") == [TRACED]
    assert matching("level:debug,warn") == [TRACED, DEBUG]
    assert matching("level:trace+") == ALL


def test_unknown_level_is_an_error() -> None:
    with pytest.raises(FilterError, match="not a level"):
        parse_filter("level:loud+")


def test_route_is_a_prefix_of_route_or_path() -> None:
    assert matching("route:/api/posts") == [ACCESS_OK, ACCESS_503]
    assert matching("route:/api/posts/42") == [ACCESS_OK]
    assert matching("route:/api/users/:id") == [ACCESS_404]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status:5xx", [ACCESS_503]),
        ("status:404", [ACCESS_404]),
        ("status:>=400", [ACCESS_404, ACCESS_503]),
        ("status:<400", [ACCESS_OK]),
        ("status:>404", [ACCESS_503]),
        ("status:<=404", [ACCESS_OK, ACCESS_404]),
        ("status:=200", [ACCESS_OK]),
        ("status:2XX,503", [ACCESS_OK, ACCESS_503]),
    ],
)
def test_status_operators(query: str, expected: list[LogEvent]) -> None:
    assert matching(query) == expected


@pytest.mark.parametrize("query", ["status:abc", "status:6xx", "status:>=x", "status:99", "status:,"])
def test_bad_status_is_an_error(query: str) -> None:
    with pytest.raises(FilterError, match="status"):
        parse_filter(query)


def test_method() -> None:
    assert matching("method:post") == [ACCESS_503]
    assert matching("method:GET,post") == [ACCESS_OK, ACCESS_404, ACCESS_503]


def test_host_names_the_agent_an_event_came_from() -> None:
    web1 = event("up", host="web-1")
    web2 = event("down", host="Web-2")
    events = [web1, web2, event("local")]
    assert [e for e in events if parse_filter("host:web-2").matches(e)] == [web2]
    assert [e for e in events if parse_filter("host:WEB-1,web-2").matches(e)] == [web1, web2]
    assert [e for e in events if parse_filter("-host:web-1").matches(e)] == events[1:]
    with pytest.raises(FilterError, match="host:web-1"):
        parse_filter("host:")


def test_terms_combine_with_and() -> None:
    assert matching("route:/api/posts status:5xx") == [ACCESS_503]
    assert matching("level:error timeout") == [PLAIN]
    assert matching("method:GET status:5xx") == []


def test_negation() -> None:
    assert matching("-status:2xx route:/api") == [ACCESS_404, ACCESS_503]
    assert matching("-level:debug -timeout") == [ACCESS_OK, ACCESS_404, ACCESS_503, TRACED]
    assert matching("-/cache/") == ALL[:-1]


@pytest.mark.parametrize("query", ["trace:", "trace:*", "level:", 'route:""'])
def test_empty_value_is_an_error(query: str) -> None:
    with pytest.raises(FilterError, match="needs a value"):
        parse_filter(query)


def test_unterminated_quote_is_an_error() -> None:
    with pytest.raises(FilterError, match="quote"):
        parse_filter('"open')


def test_unknown_key_is_free_text() -> None:
    url = event("fetch http://x.example/a failed")
    assert parse_filter("http://x.example/a").matches(url)


def test_levels_are_separate_from_the_query() -> None:
    f = parse_filter("status:>=400")
    errors_only = f.with_levels({"ERROR"})
    assert errors_only.query == f.query
    assert [e for e in ALL if errors_only.matches(e)] == [ACCESS_503]
    assert errors_only.with_query("timeout").levels == frozenset({"ERROR"})
    assert Filter().with_levels(ALL_LEVELS).is_everything
    with pytest.raises(FilterError, match="unknown level"):
        f.with_levels({"LOUD"})


def test_cheap_terms_are_tested_first() -> None:
    f = parse_filter("/x/ timeout status:5xx route:/a")
    assert [t.description.split()[0] for t in f.terms] == ["status", "route", "text", "regex"]


def test_describe_is_short_and_readable() -> None:
    f = parse_filter("timeout level:warn+ -status:2xx").with_levels({"ERROR", "WARN"})
    assert f.describe() == 'level ≥ WARN · not status 2xx · text "timeout" · levels E W'


def test_filters_compare_by_query_and_levels() -> None:
    assert parse_filter("a b") == parse_filter(" a b ")
    assert parse_filter("a") != parse_filter("a").with_levels({"ERROR"})


def test_regex_case_handling() -> None:
    upper = event("ERROR Connection REFUSED by db")
    # Lower-case patterns match any case (fast path over lower-cased text)…
    assert parse_filter("/connection refused/").matches(upper)
    assert parse_filter(r"/refused\s+by/").matches(upper)
    # …and patterns with capitals (or upper-case escapes) still ignore case.
    assert parse_filter("/Connection Refused/").matches(upper)
    assert parse_filter(r"/REFUSED\Sby/").matches(upper) is False
    assert parse_filter(r"/refused\Wby/").matches(upper)


def test_tokenizing_regexes_paths_and_quotes() -> None:
    assert [t.description for t in parse_filter("/a b/ -/c d/ /api/posts /x/y/").terms] == [
        'text "/api/posts"', "regex /a b/", "not regex /c d/", "regex /x/y/",
    ]
    assert [t.description for t in parse_filter('route:"/a b" "x y"').terms] == ["route /a b", 'text "x y"']


def test_the_text_a_query_looks_for_is_one_pattern_to_highlight() -> None:
    highlight = parse_filter('level:warn+ Timeout "two words" /conn(ection)? refused/ -noise').highlight
    assert highlight is not None
    line = "timeout: two words; connection refused (noise)"
    assert [m.group() for m in highlight.finditer(line)] == [
        "timeout", "two words", "connection refused"]
    assert parse_filter("level:error status:5xx").highlight is None
    assert parse_filter("a.b").highlight.search("axb") is None  # type: ignore[union-attr]
