"""Secrets never reach an event: not its message, its raw line, nor its extra fields."""

from __future__ import annotations

import orjson
import pytest

from obsview.backend.normalize import Normalizer
from obsview.backend.protocol import LogEvent, encode_events
from obsview.backend.redact import REDACTED, is_secret_key, redact_mapping, redact_text

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
                                 "api_key", "sessionId"])
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
