"""An alert state file that is valid JSON with wrong types, through the real agent.

A silence whose ``ends_at`` is null, an alert whose ``value`` is a string (a hand edit, another
version's writer): the agent used to build them unchecked and then crash at start-up (the
silence's expiry compared with a number) or answer 500 on ``/api/alerts``. Each entry is
decoded by its type now; one that does not fit is set aside (kept beside the state file) with
one log line naming the file and the path of the bad field, and the rest is kept.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import httpx
import orjson
import pytest

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.backend.signals.alerts import AlertRule

RULE = AlertRule("high_error_rate", "error_rate", ">", 0.05, "1m", 60.0, "critical")


def _alert(fingerprint: str, value: object) -> dict[str, object]:
    return {
        "fingerprint": fingerprint, "rule": RULE.name, "severity": "critical", "state": "firing",
        "metric": "error_rate", "comparison": ">", "threshold": 0.05, "value": value,
        "summary": "", "labels": {"route": fingerprint}, "started_at": 1.0, "fired_at": 2.0,
        "resolved_at": None, "ack": {"by": "alice", "at": 3.0, "note": "on it"}, "silenced_by": "",
    }


def _silence(silence_id: str, ends_at: object) -> dict[str, object]:
    return {"id": silence_id, "matchers": {"alertname": "x"}, "starts_at": 1.0, "ends_at": ends_at,
            "by": "bob", "reason": "deploy"}


async def test_entries_of_the_wrong_type_are_set_aside_and_the_rest_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    state = tmp_path / "state"
    state.mkdir()
    later = time.time() + 3600
    original = orjson.dumps({
        "format": 1,
        "alerts": [_alert("good", 0.2), _alert("bad", "high")],
        "silences": [_silence("s-null", None), _silence("s-good", later)],
    })
    (state / "alerts.json").write_bytes(original)
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=state, rules=[RULE])

    with caplog.at_level(logging.WARNING):
        async with Agent(config) as agent:
            base = agent.url.replace("ws://", "http://")
            async with httpx.AsyncClient(base_url=base, timeout=5) as http:
                reply = await http.get("/api/alerts")

    assert reply.status_code == 200
    body = reply.json()
    assert [(a["fingerprint"], a["value"], a["ack"]["by"]) for a in body["alerts"]] == [("good", 0.2, "alice")]
    assert [s["id"] for s in body["silences"]] == ["s-good"]
    warnings = [r.getMessage() for r in caplog.records if "alerts.json" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "$.alerts[1].value" in warnings[0] and "$.silences[0].ends_at" in warnings[0]
    # Nothing is lost: the file as it was is kept beside the state for a person to read.
    assert (state / "alerts.json.rejected").read_bytes() == original
