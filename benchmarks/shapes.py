"""The seed's "Request completed" record in the byte shapes real loggers write (issue 11).

Python loggers write their own bytes here: ``logging`` (through obsview's documented
``JsonFormatter``) and ``structlog`` (``JSONRenderer``, its default ``json.dumps``). Node's
loggers are not installed, so their bytes come from generators that reproduce them:

* ``winston``: ``format.json()`` serializes with safe-stable-stringify, which sorts the keys of
  every object and writes JSON.stringify's compact separators; ``defaultMeta`` (``service``)
  is mixed in and the level is lower case. Same bytes as ``json.dumps(sort_keys=True,
  separators=(",", ":"), ensure_ascii=False)`` for these values.
* ``pino``: ``{"level":30,"time":<epoch ms>,"pid":…,"hostname":…`` then the logged object's
  keys in insertion order, then ``"msg"`` last (pino's ``asJson``), compact separators.
* ``seed``: the seed's own ``logEvent`` (``JSON.stringify``, insertion order, upper-case
  level), with the seed's login and error records mixed in (:func:`benchmarks.ingest.seed_lines`).
* ``json.dumps``: Python's default ``", "`` / ``": "`` separators, lower-case level and an
  extra ``service`` key (the record of issue 11's first measurement).
* ``text mix``: winston's lines with 10 % logfmt and plain-text lines among them.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterator
from typing import Any

from benchmarks.ingest import AGENTS, ROUTES, seed_lines

_EPOCH_MS = 1_764_082_800_000  # 2025-11-25T15:00:00Z
_COMPACT = (",", ":")


def _stamp(i: int) -> str:
    return f"2025-11-25T15:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z"


def request_records(n: int, seed: int = 11) -> Iterator[tuple[int, str, dict[str, Any], dict[str, Any]]]:
    """(index, level, request, response) of ``n`` seed request records: what each shape
    writes. Anonymous requests have no ``userId`` and most no ``correlationId``
    (``JSON.stringify`` drops undefined fields)."""
    rng = random.Random(seed)
    for i in range(n):
        status = rng.choices((200, 201, 304, 404, 500), (80, 5, 5, 7, 3))[0]
        request: dict[str, Any] = {
            "id": f"req_{i:x}", "method": rng.choice(("GET", "GET", "GET", "POST")),
            "url": rng.choice(ROUTES).format(rng.randint(1, 5000)),
            "ip": f"203.0.113.{i % 250}", "userAgent": rng.choice(AGENTS),
        }
        if rng.random() < 0.6:
            request["userId"] = i % 977
        if rng.random() < 0.3:
            request["correlationId"] = f"c-{i:x}"
        response = {"statusCode": status, "responseTime": rng.randint(2, 400)}
        yield i, "info" if status < 400 else "warn", request, response


def winston_lines(n: int) -> list[bytes]:
    lines = []
    for i, level, request, response in request_records(n):
        info = {
            "level": level, "message": "Request completed", "request": request,
            "response": response, "duration": response["responseTime"], "service": "blog-api",
            "timestamp": _stamp(i),
        }
        lines.append(json.dumps(info, sort_keys=True, separators=_COMPACT,
                                ensure_ascii=False).encode())
    return lines


def json_dumps_lines(n: int) -> list[bytes]:
    lines = []
    for i, level, request, response in request_records(n):
        record = {
            "timestamp": _stamp(i), "level": level, "message": "Request completed",
            "request": request, "response": response, "duration": response["responseTime"],
            "service": "blog-api",
        }
        lines.append(json.dumps(record).encode())
    return lines


def pino_lines(n: int) -> list[bytes]:
    lines = []
    for i, level, request, response in request_records(n):
        record = {
            "level": 30 if level == "info" else 40, "time": _EPOCH_MS + i, "pid": 4242,
            "hostname": "web-1", "request": request, "response": response,
            "duration": response["responseTime"], "msg": "Request completed",
        }
        lines.append(json.dumps(record, separators=_COMPACT, ensure_ascii=False).encode())
    return lines


class _Collect(logging.Handler):
    def __init__(self, out: list[bytes]) -> None:
        super().__init__()
        self._out = out

    def emit(self, record: logging.LogRecord) -> None:
        self._out.append(self.format(record).encode())


def logging_lines(n: int) -> list[bytes]:
    """Written by the standard library's ``logging`` through obsview's ``JsonFormatter``."""
    from obsview.backend.instrument import JsonFormatter

    out: list[bytes] = []
    handler = _Collect(out)
    handler.setFormatter(JsonFormatter(service="blog-api"))
    logger = logging.Logger("blog.api")  # not registered: nothing global changes
    logger.addHandler(handler)
    for _i, level, request, response in request_records(n):
        extra = {"request": request, "response": response, "duration": response["responseTime"]}
        logger.log(logging.INFO if level == "info" else logging.WARNING, "Request completed",
                   extra=extra)
    return out


def structlog_lines(n: int) -> list[bytes]:
    """Written by ``structlog`` itself: level, ISO timestamp, ``JSONRenderer``."""
    import structlog

    log = structlog.wrap_logger(
        structlog.ReturnLogger(),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
    ).bind(service="blog-api")
    lines = []
    for _i, level, request, response in request_records(n):
        method = log.info if level == "info" else log.warning
        line = method("Request completed", request=request, response=response,
                      duration=response["responseTime"])
        lines.append(line.encode())
    return lines


def text_mix_lines(n: int) -> list[bytes]:
    """winston's lines, with every tenth one logfmt or plain text."""
    rng = random.Random(5)
    lines = winston_lines(n)
    for i in range(0, n, 10):
        stamp = _stamp(i)
        if i % 20 == 0:
            took = rng.randint(1, 90)
            lines[i] = (f'time={stamp} level=info msg="cache refreshed" table=posts'
                        f" rows={rng.randint(1, 900)} took={took}ms").encode()
        else:
            busy = rng.randint(1, 10)
            lines[i] = f"{stamp[:10]} {stamp[11:23]} WARN db pool: {busy} of 10 connections busy".encode()
    return lines


SHAPES: dict[str, Callable[[int], list[bytes]]] = {
    "seed (logEvent, 10 % logins and errors)": seed_lines,
    "winston": winston_lines,
    "json.dumps": json_dumps_lines,
    "pino": pino_lines,
    "logging (JsonFormatter)": logging_lines,
    "structlog": structlog_lines,
    "text mix (10 % logfmt/text)": text_mix_lines,
}
"""Every shape the ingest and load benchmarks feed, by the name their figures carry."""
