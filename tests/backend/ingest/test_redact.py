"""Secrets never reach an event: not its message, its raw line, nor its extra fields."""

from __future__ import annotations

import re

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obsview.backend.ingest import redact
from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.redact import (
    REDACTED,
    is_secret_key,
    lines_that_might_hold_secrets,
    might_hold_secret,
    redact_mapping,
    redact_text,
)
from obsview.common.protocol import LogEvent, encode_events

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
SECRETS = ("hunter2", "s3cr3t-value", "abcdef123456", "sid=42a", JWT, "AIzaSyD-key", "pa55word")


def event_text(event: LogEvent) -> str:
    return encode_events([event]).decode()


def normalize(line: str | bytes) -> tuple[LogEvent, Normalizer]:
    norm = Normalizer()
    data = line.encode() if isinstance(line, str) else line
    (event,) = norm.normalize_lines([data], "f")
    return event, norm


def assert_clean(event: LogEvent) -> None:
    text = event_text(event)
    for secret in SECRETS:
        assert secret not in text, secret
    assert event.redacted


@pytest.mark.parametrize("key", ["Authorization", "cookie", "Set-Cookie", "password", "passwd",
                                 "client_secret", "access_token", "X-Api-Key", "apikey",
                                 "api_key", "sessionId", "auth2", "sig1", "2pass"])
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["message", "user", "email", "method", "status", "url"])
def test_ordinary_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_seed_error_record_with_headers_and_body() -> None:
    event, norm = normalize(orjson.dumps({
        "level": "ERROR", "message": "Unhandled error occurred",
        "request": {"id": "r1", "method": "POST", "url": "/api/auth/login",
                    "body": {"email": "a@b.c", "password": "hunter2"},
                    "headers": {"authorization": "Bearer abcdef123456", "cookie": "sid=42a",
                                "x-api-key": "AIzaSyD-key"}},
    }))
    assert_clean(event)
    assert event.extra["request"]["body"] == {"email": "a@b.c", "password": REDACTED}
    assert norm.redacted == 1


def test_bearer_and_jwt_values_under_innocent_keys() -> None:
    event, _ = normalize(orjson.dumps({"message": f"got Bearer abcdef123456 and {JWT}",
                                       "note": JWT}))
    assert_clean(event)
    assert event.message.startswith("got Bearer " + REDACTED)


def test_token_in_query_string_of_the_seed_url() -> None:
    event, _ = normalize(orjson.dumps({
        "timestamp": "2026-11-25T15:00:00Z", "level": "INFO", "message": "Request completed",
        "request": {"id": "r", "method": "GET", "url": "/api/x?access_token=s3cr3t-value&page=2"},
        "response": {"statusCode": 200, "responseTime": 3}, "duration": 3}))
    assert_clean(event)
    assert event.path == "/api/x" and "page=2" in event.raw


def test_url_userinfo_and_api_key_parameter() -> None:
    event, _ = normalize("[INFO] connecting to postgres://app:pa55word@db:5432/blog "
                         "and https://maps.example.com/api?key=AIzaSyD-key&q=1")
    assert_clean(event)
    assert "postgres://app:" + REDACTED + "@db:5432" in event.message
    assert "q=1" in event.message


@pytest.mark.parametrize("line", [
    "Authorization: Bearer abcdef123456",
    "authorization: Basic abcdef123456",
    "Cookie: sid=42a; theme=dark; other=hunter2",
    "login attempt user=bob password=hunter2 ok",
    "level=info msg=login password=hunter2",
    "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /login?password=hunter2 HTTP/1.0\" 200 1",
    '{"broken json", "secret": "s3cr3t-value"',
])
def test_text_lines(line: str) -> None:
    event, _ = normalize(line)
    assert_clean(event)


def test_logfmt_secret_field_is_not_kept_in_extra() -> None:
    event, _ = normalize("level=info msg=login token=abcdef123456 who=bob")
    assert_clean(event)
    assert event.extra["token"] == REDACTED and event.extra["who"] == "bob"


def test_in_process_record() -> None:
    event = Normalizer().normalize_record(
        {"message": "login", "headers": {"Authorization": "Bearer abcdef123456"},
         "password": "hunter2"}, "asgi")
    assert_clean(event)


def test_lines_without_secrets_are_untouched_in_a_batch_that_has_one() -> None:
    norm = Normalizer()
    clean_line = b'{"message":"Request completed","url":"/a?page=2"}'
    events = norm.normalize_lines([clean_line, b'{"password":"hunter2"}'], "f")
    assert events[0].raw == clean_line.decode() and not events[0].redacted
    assert events[1].redacted and norm.redacted == 1


def test_redact_mapping_is_a_copy_and_survives_deep_nesting() -> None:
    original = {"a": {"token": "x"}, "list": [{"password": "y"}]}
    assert redact_mapping(original) == {"a": {"token": REDACTED}, "list": [{"password": REDACTED}]}
    assert original["a"] == {"token": "x"}
    deep: object = "leaf"
    for _ in range(500):
        deep = {"k": deep}
    redact_mapping(deep)  # no RecursionError


def test_prose_is_not_mangled() -> None:
    assert redact_text("Invalid token provided") == "Invalid token provided"
    assert redact_text("session expired for user 5") == "session expired for user 5"


@pytest.mark.parametrize(("text", "expected"), [
    # A card then a time: the run the pattern takes ('… 1111 15') is no card, its first
    # four groups are (a generated property test found this one).
    ("4111 1111 1111 1111 15:00:00.030 WARN db pool", f"{REDACTED} 15:00:00.030 WARN db pool"),
    ("order 32 4111 1111 1111 1111", f"order 32 {REDACTED}"),
    ("5500-0000-0000-0004 and 4111 1111 1111 1111 12", f"{REDACTED} and {REDACTED} 12"),
    ("amex 3782 822463 10005 7 items", f"amex {REDACTED} 7 items"),
    ("paid 4111111111111111.", f"paid {REDACTED}."),
])
def test_a_card_inside_a_longer_run_of_digit_groups_is_found(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", [
    "ids 1234567890123 9", "at 1700000000123 ms", "4111 1111 1111 1112 15", "call 555 0100 2030 4050",
    "ratio 4111111111111111.5", "ratio 0.4111111111111111",
])
def test_digit_groups_that_hold_no_card_stay(text: str) -> None:
    assert redact_text(text) == text


def test_json_escapes_do_not_smuggle_a_secret_past_the_gate() -> None:
    event, _ = normalize(b'{"message":"x","\\u0070assword":"hunter2",'
                         b'"url":"/a?\\u0074oken=s3cr3t-value"}')
    assert_clean(event)


def test_seed_request_record_with_a_jwt_in_a_value() -> None:
    event, _ = normalize(orjson.dumps({
        "timestamp": "2026-11-25T15:00:00Z", "level": "INFO", "message": "Request completed",
        "request": {"id": "r", "method": "GET", "url": "/api/x", "correlationId": JWT},
        "response": {"statusCode": 200, "responseTime": 3}, "duration": 3}))
    assert_clean(event)


@pytest.mark.parametrize("hostile", [
    "token " + "a" * 65_000,
    "x" * 65_000 + "password",
    "eyJ" * 21_000,
    "a.b+c-" * 10_000 + "://",
    "://" * 20_000 + "@",
    'token="' + "k" * 65_000,
    "password=" * 7_000,
    "k=" + "token" * 13_000,
    'k="' * 20_000,
])
def test_hostile_lines_finish(hostile: str) -> None:
    # Quadratic backtracking would make one of these take minutes (pytest-timeout fails it).
    norm = Normalizer(max_line_bytes=70_000)
    for _ in range(3):
        norm.normalize_lines([hostile.encode(), b"level=info " + hostile.encode()], "f")
    redact_text(hostile)


def test_json_escaped_slashes_do_not_hide_url_userinfo() -> None:
    event, _ = normalize(b'{"message":"x","dsn":"postgres:\\/\\/app:hunter2@db:5432\\/blog"}')
    assert_clean(event)


@pytest.mark.parametrize("line", [
    "pa\u017fsword=hunter2",  # long s: a case-insensitive "s"
    '{"message":"x","to\u212aen":"hunter2"}',  # Kelvin sign: lower-cases to "k"
    '{"message":"x","note":"\u0130nvalid; password=hunter2"}',
    "Authorization: Bearer hunter2\u0131abcdef",
])
def test_case_twins_of_ascii_letters_do_not_slip_past_the_gate(line: str) -> None:
    event, _ = normalize(line)
    assert "hunter2" not in event_text(event)


def test_crafted_lines_cannot_lend_their_record_to_a_neighbour() -> None:
    # Parsed as one JSON array, the first two lines merge and the third splits in two, so
    # the second line's event would carry the third line's record: every line is parsed
    # on its own, and the third (not valid JSON) is redacted as text.
    lines = [b'{"a":[{"b":1}', b'{"c":2}]}', b'{"message":"password=hunter2"},{"message":"x"}']
    events = Normalizer().normalize_lines(lines, "f")
    assert [e.parse_error for e in events] == [True, True, True]
    assert all("hunter2" not in event_text(e) for e in events)


def test_a_secret_in_one_seed_record_of_a_long_batch() -> None:
    def record(url: str) -> bytes:
        return orjson.dumps({
            "timestamp": "2026-11-25T15:00:00.123Z", "level": "INFO",
            "message": "Request completed",
            "request": {"id": "r", "method": "GET", "url": url, "ip": "10.0.0.1"},
            "response": {"statusCode": 200, "responseTime": 3}, "duration": 3})

    lines = [record(f"/api/posts/{i}") for i in range(600)]
    lines[300] = record("/api/posts?access_token=hunter2")
    norm = Normalizer()
    events = norm.normalize_lines(lines, "f")
    assert len(events) == 600 and norm.redacted == 1
    assert events[300].redacted and "hunter2" not in event_text(events[300])
    assert events[300].path == "/api/posts" and events[300].status == 200
    assert [e.raw for e in events[:300]] == [line.decode() for line in lines[:300]]


@pytest.mark.parametrize("line", [
    # JSON keeps the last of two equal keys: the first value is in the raw line only.
    b'{"timestamp":"2026-11-25T15:00:00.123Z","level":"INFO","message":"Request completed",'
    b'"request":{"id":"r","method":"GET","url":"/x?token=hunter2","url":"/y"},'
    b'"response":{"statusCode":200,"responseTime":3},"duration":3}',
    b'{"timestamp":"2026-11-25T15:00:00.123Z","level":"INFO","message":"password=hunter2",'
    b'"message":"Request completed","request":{"id":"r","method":"GET","url":"/y"},'
    b'"response":{"statusCode":200,"responseTime":3},"duration":3}',
])
def test_a_secret_in_a_duplicate_key_of_a_seed_record_is_redacted(line: bytes) -> None:
    norm = Normalizer()
    (event,) = norm.normalize_lines([line], "f")
    assert "hunter2" not in event_text(event) and event.redacted and norm.redacted == 1


# Fragments that make rules match, nearly match, or sit at a line or word boundary.
_FRAGMENTS = st.sampled_from([
    "password", "PassWord", "passwd", "pa\u017fsword", "to\u212aen", "\u0130", "\u0131", "token",
    "secret", "session", "cookie:", "Set-Cookie: ", "Authorization", "bearer ", "Basic ",
    "api_key", "api-key", "?key=", "&access_key=", "eyJ", "eyJhbGci", ".", "://", "https://",
    "user", ":", "@", "=", ": ", '"', "'", " ", "\t", ",", ";", "&", "}", "]", "\\u", "\\/",
    "abcdef123456", "hunter2", "x", "\n", "\u00e9",
    "ghp_", "gh", "0123456789abcdefghijABCDEFGHIJ012345", "xoxb-", "xapp-1-", "AKIA", "ASIA",
    "ABCDEFGHIJ234567", "sig=", "X-Amz-Signature=", "credential", "pwd", "passphrase",
    "private_key", "Digest ", "response=\"", "4111 1111 1111 1111", "4111111111111111", "-",
    "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----", "auth",
])
_TEXTS = st.lists(_FRAGMENTS, max_size=12).map("".join)


def _every_rule(text: str) -> str:
    """redact_text as it was before its per-rule literal filters: every pattern, always."""
    for rule in redact.TEXT_RULES:
        text = rule.pattern.sub(rule.replace, text)
    return text


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_filtered_rules_redact_exactly_what_every_rule_would(text: str) -> None:
    assert redact_text(text) == _every_rule(text)
    assert redact_text(text) == _every_rule(text)  # again: now from the memo when unchanged


@pytest.mark.parametrize("text", [
    "secretoken=hunter2",  # two key words overlap: both are starts of a pair
    "Bearer abcdef123456 then password=hunter2",  # a rule before the pair rule changed the text
    "eyJhbGciOi.eyJzdWIiOi.sig AKIAABCDEFGHIJ234567 token: x",
    "https://u:pw@h/?key=abc&api_key=1&sig=2",  # "key" inside "api_key" and "key="
    "EYJ akia GHP_ pass",  # case-sensitive literals in another case: their rules stay out
    "@" * 70_000 + "://",  # one-character literals are not searched for
])
def test_one_pass_literal_search_redacts_what_every_rule_would(text: str) -> None:
    assert redact_text(text) == _every_rule(text)


def test_only_unchanged_text_is_remembered() -> None:
    assert redact_text("password=hunter2") != "password=hunter2"
    assert redact_text("password") == "password"
    assert "password=hunter2" not in redact._UNCHANGED and "password" in redact._UNCHANGED


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXTS.map(str.encode), max_size=8))
def test_batch_gate_flags_exactly_the_lines_the_line_gate_flags(lines: list[bytes]) -> None:
    lines = [line.replace(b"\n", b" ") for line in lines]  # a line holds no newline
    expected = {i for i, line in enumerate(lines) if might_hold_secret(line.lower())}
    found = lines_that_might_hold_secrets(lines)
    if any(twin.encode() in line for line in lines for twin in redact._CASE_TWINS):
        assert found == set(range(len(lines)))  # a twin anywhere: every line is a suspect
    else:
        assert found == expected


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_gate_passes_only_text_no_rule_changes(text: str) -> None:
    if not might_hold_secret(text.lower().encode()):
        assert _every_rule(text) == text
        assert not re.search("(?i)" + redact._KEY_WORDS_RE, text)


def test_secrets_in_seed_records_around_other_lines_are_all_found() -> None:
    # The chunk's probe holds each fast-path record's values in order: other lines between
    # them must not shift which record a hit is pinned on.
    def record(url: str) -> bytes:
        return orjson.dumps({
            "timestamp": "2026-11-25T15:00:00.123Z", "level": "INFO",
            "message": "Request completed",
            "request": {"id": "r", "method": "GET", "url": url, "ip": "10.0.0.1"},
            "response": {"statusCode": 200, "responseTime": 3}, "duration": 3})

    lines = [record(f"/api/tokens/{i}") for i in range(600)]  # "token": every chunk hits
    for at in (10, 255, 256):
        lines[at] = b'{"message":"User login failed","reason":"unknown email"}'
    secret_at = {0, 11, 254, 257, 511, 599}
    for at in secret_at:
        lines[at] = record(f"/api/posts?token=hunter2&n={at}")
    norm = Normalizer()
    events = norm.normalize_lines(lines, "f")
    assert {i for i, e in enumerate(events) if e.redacted} == secret_at
    assert all("hunter2" not in event_text(e) for e in events)
    assert [e.path for e in events if e.redacted] == ["/api/posts"] * len(secret_at)
    assert events[12].raw == lines[12].decode() and events[12].path == "/api/tokens/12"


def test_every_text_rule_is_behind_the_gate() -> None:
    """A rule whose literal the batch gate does not catch would never run on a clean batch."""
    for rule in redact.TEXT_RULES:
        if rule.all_literals:  # URL userinfo: the gate has its own pattern for it
            assert redact.might_hold_secret_text("https://user:pw@host")
            continue
        for literal in rule.literals:
            assert redact.might_hold_secret_text(literal.lower()), rule.name


def test_the_stage_redacts_what_any_format_branch_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redaction runs on the events a branch returns, so a new branch cannot skip it."""
    def new_format(self: Normalizer, text: str, source: str, now: float) -> LogEvent:
        return LogEvent(ts=now, level="INFO", message=text, user_agent="Bearer abcdef123456",
                        extra={"password": "hunter2"}, raw=text, source=source)

    monkeypatch.setattr(Normalizer, "_plain", new_format)
    event, norm = normalize("connected with password=hunter2")
    assert_clean(event) and norm.redacted == 1


def test_a_secret_named_key_loses_a_nested_value_in_any_text_slot() -> None:
    event, _ = normalize(orjson.dumps({"level": "info", "message": {"password": ["hunter2", "pa55word"]}}))
    assert_clean(event)
