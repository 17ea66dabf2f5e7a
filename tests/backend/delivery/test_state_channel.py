"""The Alertmanager channel's rules, without a network: what it is sent, and when."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from msgspec.structs import replace as struct_replace

from obsview.backend.delivery.alertmanager import Origin, postable_alert, postable_silence
from obsview.backend.delivery.channels import AlertmanagerChannel, WebhookChannel
from obsview.backend.delivery.notify import Notifier, parse_notifiers
from obsview.backend.errors import ConfigError
from obsview.backend.signals.alerts import Transition
from obsview.common.protocol import AckInfo, AlertInfo, SilenceInfo

ALERT = AlertInfo(
    fingerprint="f1", rule="db_down", severity="critical", state="firing", metric="probe_unhealthy",
    comparison=">=", threshold=1.0, value=1.0, summary="Probe db is down",
    labels={"alertname": "db_down", "severity": "critical", "probe": "db", "team-name": "core"},
    started_at=1000.0, fired_at=1010.0,
)
ORIGIN = Origin(instance="web-1", service="blog-api", generator_url="http://127.0.0.1:8765/api/alerts")
AM = AlertmanagerChannel("am", "http://127.0.0.1:9093", repeat_interval_s=60.0, labels={"env": "prod"})


class Clock:
    def __init__(self) -> None:
        self.now = 2000.0

    def __call__(self) -> float:
        return self.now


def test_alertmanager_hears_every_firing_alert_acked_or_silenced_and_hears_it_again() -> None:
    clock = Clock()
    current = [struct_replace(ALERT, silenced_by="s1")]
    notifier = Notifier([WebhookChannel("hook", "http://127.0.0.1:1/"), AM], clock=clock,
                        current_alerts=lambda: current)
    notifier.submit([Transition(current[0], "pending", "firing", clock.now)])
    assert notifier.pending == 1  # Alertmanager only: the webhook is muted by the silence
    current = [struct_replace(ALERT, ack=AckInfo("alice", clock.now))]  # silence over, but acked
    clock.now += 59
    notifier.scan_repeats()
    assert notifier.pending == 1
    clock.now += 1
    notifier.scan_repeats()
    assert notifier.pending == 2 and notifier.counters["repeats"] == 1  # re-sent despite the ack
    resolved = struct_replace(ALERT, state="resolved", resolved_at=clock.now)
    notifier.submit([Transition(resolved, "firing", "resolved", clock.now)])
    assert notifier.pending == 3  # Alertmanager's resolve; the webhook never heard it fire


def test_the_resend_interval_sets_how_often_the_outbox_is_scanned() -> None:
    fast = replace(AM, repeat_interval_s=0.2)
    assert Notifier([fast])._scan_interval == pytest.approx(0.05)
    assert Notifier([AM])._scan_interval == 1.0


def test_postable_alert_carries_origin_labels_and_ends_only_once_resolved() -> None:
    firing = postable_alert(ALERT, "firing", ORIGIN, AM)
    assert firing == {
        "labels": {"env": "prod", "instance": "web-1", "service": "blog-api", "alertname": "db_down",
                   "severity": "critical", "probe": "db", "team_name": "core"},
        "annotations": {"summary": "Probe db is down", "value": "1", "threshold": ">= 1"},
        "startsAt": "1970-01-01T00:16:50.000Z",
        "generatorURL": "http://127.0.0.1:8765/api/alerts",
    }
    resolved = postable_alert(struct_replace(ALERT, state="resolved", resolved_at=1100.0), "resolved", ORIGIN,
                              replace(AM, external_url="https://obsview.example/"))
    assert resolved["endsAt"] == "1970-01-01T00:18:20.000Z"
    assert resolved["generatorURL"] == "https://obsview.example/"


def test_a_mirrored_silence_is_scoped_to_this_agent() -> None:
    silence = SilenceInfo(id="s1", matchers={"alertname": "db_down"}, starts_at=1000.0, ends_at=4600.0, by="")
    body = postable_silence(silence, ORIGIN)
    assert body["matchers"] == [
        {"name": "alertname", "value": "db_down", "isRegex": False, "isEqual": True},
        {"name": "instance", "value": "web-1", "isRegex": False, "isEqual": True},
    ]
    assert body["createdBy"] == "obsview" and body["comment"] == "silenced in obsview (s1)"
    assert body["endsAt"] == "1970-01-01T01:16:40.000Z"


def test_parse_alertmanager_channel() -> None:
    (channel,) = parse_notifiers({"alertmanager": [{
        "url": "http://127.0.0.1:9093/", "resend_interval": "30s", "mirror_silences": True,
        "labels": {"env": "prod"},
    }]})
    assert channel == AlertmanagerChannel("alertmanager-0", "http://127.0.0.1:9093", 10.0, 30.0, True,
                                          {"env": "prod"})
    (default,) = parse_notifiers({"repeat_interval": "4h", "alertmanager": [{"url": "http://am:9093"}]})
    assert isinstance(default, AlertmanagerChannel)
    assert default.repeat_interval_s == 60.0  # not the 4 h meant for people: Alertmanager would resolve it


@pytest.mark.parametrize(("table", "message"), [
    ({"url": "am:9093"}, "notify.alertmanager[0].url: expected `str` matching regex '^https?://'"),
    ({"url": "http://am", "repeat_interval": "1h"}, "notify.alertmanager[0].repeat_interval: Alertmanager"),
    ({"url": "http://am", "mirror_silences": "yes"}, "notify.alertmanager[0].mirror_silences: expected `bool`, got 'yes'"),
    ({"url": "http://am", "labels": {"my-env": "x"}}, "notify.alertmanager[0].labels.my-env: not a Prometheus"),
    ({"url": "http://am", "resend_interval": 0}, "notify.alertmanager[0].resend_interval: must be positive"),
])
def test_parse_alertmanager_errors_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        parse_notifiers({"alertmanager": [table]})
