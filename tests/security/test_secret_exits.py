"""Secrets never leave the agent: a corpus of credential shapes, in every log format, through
the real agent, looked for at every exit.

Formats: a JSON line, a logfmt line and a plain-text line from a tailed file; a JSON line
over TCP; OTLP/HTTP in JSON and in protobuf. Operator text: an ack note and a silence reason.
Configuration: a health probe URL. Exits: the console stream, ``/api/health``,
``/api/metrics``, ``/api/alerts``, ``/metrics`` (route labels), a webhook notification, and
the state files, the history journal read back whole. e629b84 let every shape below through except the AKIA key id in a
``password=`` pair.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import msgspec
import orjson
from otlp_testkit import export_of, protobuf_of
from proof_kit import Receiver, agent_config, console, running_agent, wait_until

from obsview.backend.delivery.notify import parse_notifiers
from obsview.backend.ingest.redact import REDACTED
from obsview.backend.ingest.sources.otlp import OtlpHttpSource
from obsview.backend.ingest.sources.tcp import TcpSource
from obsview.backend.signals.alerts import AlertRule
from obsview.backend.signals.health import parse_probes
from obsview.backend.store.journal_codec import unpack, unpack_bytes, unpack_text
from obsview.common.protocol import Ack, Alerts, Events, Silence, encode

S3_SIGNATURE = "7f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff"
S3_KEY_ID = "AKIAZXCVBNMASDFGHJKL"
SAS_SIG = "Qm9vQmFyQmF6U2FzU2lnbmF0dXJl%3D"
DIGEST_RESPONSE = "6629fae49393a05397450978507c4ef1"
GITHUB = "ghp_Zq8Xv2Lm9Np4Rt6Yw1Ks3Hd5Gf7Jc0Ba2Qe4"
SLACK = "xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD"
AWS = "AKIAQWERTYUIOPASDFGH"
PEM_BODY = "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit"
CARDS = ("4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005")
KEYED = {"pwd": "pw-canary-1", "passphrase": "pp-canary-2", "private_key": "pk-canary-3",
         "auth": "auth-canary-4", "credentials": "cred-canary-5"}
ROUTE_SECRET = "Zk9xQ2mPvT7sL1aBcD"

TEXTS = {
    "s3 presigned": "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                    f"&X-Amz-Credential={S3_KEY_ID}%2F20261125%2Fus-east-1%2Fs3%2Faws4_request"
                    f"&X-Amz-Signature={S3_SIGNATURE}",
    "azure sas": f"https://acct.blob.core.windows.net/c/b?sv=2021-08-06&sr=b&sig={SAS_SIG}",
    "digest": 'Authorization: Digest username="ops", realm="api", nonce="n1", uri="/x", '
              f'response="{DIGEST_RESPONSE}"',
    "cards": "paid with " + ", ".join(CARDS),
    "github": f"cloned with {GITHUB}",
    "slack": f"posting with {SLACK}",
    "aws": f"assumed {AWS} for the upload",
    "private key": f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----",
}
NEVER = (S3_SIGNATURE, S3_KEY_ID, SAS_SIG, DIGEST_RESPONSE, GITHUB, SLACK, AWS, PEM_BODY,
         *CARDS, *(card.replace(" ", "").replace("-", "") for card in CARDS), *KEYED.values())
PROBE_SIG = "UHJvYmVTYXNTaWc%3D"


def json_lines() -> list[bytes]:
    lines = [orjson.dumps({"level": "warn", "message": text, "case": name}) for name, text in TEXTS.items()]
    lines.append(orjson.dumps({"level": "info", "message": "keyed", **KEYED}))
    # Secrets in keys, not values: a URL logged as a key, a token as a nested key.
    lines.append(orjson.dumps({"level": "info", "message": "secret keys", f"/p?sig={SAS_SIG}": 1,
                               "seen": {f"cloned with {GITHUB}": True}}))
    for path in (f"/api/reset/{ROUTE_SECRET}", f"/api/keys/{GITHUB}"):
        lines.append(orjson.dumps({"level": "info", "message": "Request completed",
                                   "request": {"method": "GET", "url": path},
                                   "response": {"statusCode": 200, "responseTime": 5}}))
    return lines


def logfmt_lines() -> list[bytes]:
    lines = [f'level=warn msg="{text}"'.encode() for text in TEXTS.values() if '"' not in text and "\n" not in text]
    lines.append(("level=info msg=keyed " + " ".join(f"{k}={v}" for k, v in KEYED.items())).encode())
    lines.append(f"level=info msg=secret-key {GITHUB}=1".encode())
    return lines


def text_lines() -> list[bytes]:
    return [f"[WARN] {text}".encode() for text in TEXTS.values() if "\n" not in text]


def otlp_export() -> dict[str, Any]:
    records = [{"severityText": "WARN", "body": {"stringValue": text}} for text in TEXTS.values()]
    records.append({"severityText": "INFO", "body": {"stringValue": "keyed"},
                    "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in KEYED.items()]})
    records.append({"severityText": "INFO", "body": {"stringValue": "secret key"},
                    "attributes": [{"key": f"cloned with {GITHUB}", "value": {"boolValue": True}}]})
    return export_of(*records)


def _readable(path: Path) -> str:
    """A state file as text: the history journal (SQLite, LZ4 blocks) read back whole, its
    WAL and index files through it, anything else as written."""
    if path.name.endswith(("-wal", "-shm")):
        return ""  # SQLite's own files: their pages are read through the database below
    if not path.read_bytes().startswith(b"SQLite format 3\x00"):
        return path.read_text()
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        blocks = [unpack(data) for (data,) in db.execute("SELECT data FROM blocks")]
        texts = [unpack_text(text).decode("utf-8", "surrogatepass") for (text,) in db.execute("SELECT text FROM texts")]
        frames = [unpack_bytes(data) for (data,) in db.execute("SELECT data FROM states")]
        minutes = [bytes(data) for (data,) in db.execute("SELECT data FROM minutes")]
        minutes += [bytes(data) for (data,) in db.execute("SELECT data FROM history_minutes")]
        meta = [str(value) for (_key, value) in db.execute("SELECT key, value FROM meta")]
    assert blocks and frames, "the journal holds the events and frames (else this exit is vacuous)"
    as_json = [msgspec.json.encode(events) for events in blocks]
    as_json += [msgspec.json.encode(msgspec.msgpack.decode(packed)) for packed in (*frames, *minutes)]
    return "".join([*(data.decode() for data in as_json), *texts, *meta])


async def test_no_secret_reaches_any_exit(tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    log_file.write_bytes(b"")
    async with Receiver() as receiver:
        receiver.mode = "error"  # the probe fails: an alert fires and is notified
        config = agent_config(
            tmp_path, tail=[str(log_file)], tcp=[("127.0.0.1", 0)], otlp=[("127.0.0.1", 0)],
            probes=parse_probes([{"name": "blob", "kind": "http", "interval": "0.2s",
                                  "url": f"{receiver.url}?sv=2021&sig={PROBE_SIG}"}]),
            rules=[AlertRule("blob_down", "probe_unhealthy", ">", 0.0, summary="blob store down")],
            notifiers=parse_notifiers({"webhook": [{"url": receiver.url, "timeout": 0.5}]}),
            metrics_interval_s=0.05,
        )
        async with running_agent(config) as agent, console(agent.url) as (ws, recorded):
            with log_file.open("ab") as file:
                file.write(b"\n".join(json_lines() + logfmt_lines() + text_lines()) + b"\n")
            (tcp,) = [s for s in agent.sources if isinstance(s, TcpSource)]
            (otlp,) = [s for s in agent.sources if isinstance(s, OtlpHttpSource)]
            _reader, writer = await asyncio.open_connection("127.0.0.1", tcp.port)
            writer.write(b"\n".join(json_lines()) + b"\n")
            await writer.drain()
            async with httpx.AsyncClient(timeout=5) as http:
                url = f"http://127.0.0.1:{otlp.port}/v1/logs"
                assert (await http.post(url, json=otlp_export())).status_code == 200
                assert (await http.post(url, content=protobuf_of(otlp_export()),
                                        headers={"Content-Type": "application/x-protobuf"})).status_code == 200
            expected = 2 * len(json_lines()) + len(logfmt_lines()) + len(text_lines()) + 2 * (len(TEXTS) + 1)
            await wait_until(lambda: len(recorded.events) >= expected, what=f"{expected} events")
            await wait_until(lambda: bool(agent.alerts.alerts()), what="the probe alert")
            fingerprint = agent.alerts.alerts()[0].fingerprint
            await ws.send(encode(Ack(fingerprint=fingerprint, by="ops", note=f"rotated {GITHUB} and {AWS}")).decode())
            await ws.send(encode(Silence(matchers={"alertname": "x"}, duration_s=60, by="ops",
                                         reason=f"maintenance, card {CARDS[0]}, pwd={KEYED['pwd']}")).decode())
            await wait_until(lambda: any(a.ack is not None for a in agent.alerts.alerts()), what="the ack")
            await wait_until(lambda: len(receiver.deliveries) >= 1, what="a notification")
            writer.close()
            async with httpx.AsyncClient(timeout=5) as http:
                base = agent.url.replace("ws://", "http://")
                exits = {path: (await http.get(base + path)).text
                         for path in ("/api/health", "/api/metrics", "/api/alerts", "/metrics")}
        exits["stream"] = b"".join(encode(Events(tuple(recorded.events)))
                                   + b"".join(encode(m) for m in recorded.other if isinstance(m, Alerts))
                                   for _ in (0,)).decode()
        exits["notifications"] = b"".join(d.raw for d in receiver.deliveries).decode()
    exits["state files"] = "".join(_readable(path) for path in (tmp_path / "state").rglob("*") if path.is_file())

    leaks = {(where, secret) for where, text in exits.items() for secret in NEVER if secret in text}
    leaks |= {(where, PROBE_SIG) for where, text in exits.items() if PROBE_SIG in text}
    # The journal's text section is lower-cased (what a search reads): look for that too.
    leaks |= {("state files", secret) for secret in (*NEVER, PROBE_SIG) if secret.lower() in exits["state files"]}
    # A random path segment is data in the log line, but never a metric label.
    leaks |= {(where, ROUTE_SECRET) for where in ("/metrics", "/api/metrics") if ROUTE_SECRET in exits[where]}
    assert not leaks
    redacted_cases = [e for e in recorded.events if REDACTED in e.message or REDACTED in str(e.extra)]
    assert len(redacted_cases) >= len(TEXTS) * 4  # not vacuous: the corpus did arrive, redacted
    assert REDACTED in exits["state files"]  # the journal holds the corpus, redacted
    assert "/api/reset/:id" in exits["/metrics"]
