"""The live analyzer's per-record contract: parse, count, judge, deliver once; quarantine what can never work."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from churnguard_ops.core import contracts
from churnguard_ops.core.errors import Throttled
from churnguard_ops.core.fakes import RecordingEvents, RecordingNotifier
from churnguard_ops.security.engine import Engine, build_detectors
from churnguard_ops.security.model import Alert
from churnguard_ops.security.service import Analyzer, alert_subject
from churnguard_ops.security.state import MemoryDetectorState
from tests.events import load_event

from .security_report_fakes import MemoryAlertStore, MemoryEventTally

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)


class RecordingQuarantine:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, body: str, reason: str, source_message_id: str) -> None:
        self.sent.append((body, reason, source_message_id))


class FlakyEvents(RecordingEvents):
    """Fails the first ``failures`` publishes, as a throttled PutEvents would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise Throttled("PutEvents: Rate exceeded")
        super().publish(detail_type, detail)


Wired = tuple[Analyzer, MemoryAlertStore, MemoryEventTally, RecordingEvents, RecordingNotifier, RecordingQuarantine]


def _analyzer(events: RecordingEvents | None = None) -> Wired:
    store, tally, published = MemoryAlertStore(), MemoryEventTally(), events or RecordingEvents()
    notifier, quarantine = RecordingNotifier(), RecordingQuarantine()
    engine = Engine(build_detectors(), MemoryDetectorState(), dedup_seconds=3600)
    analyzer = Analyzer(engine, store, tally, published, notifier, quarantine)
    return analyzer, store, tally, published, notifier, quarantine


def _login_failed(n: int, ip: str = "185.220.101.34", org: str = "org-acme") -> str:
    event = load_event("security/eventbridge-app-event.json")
    event["detail"] = {**event["detail"], "event_id": f"evt-{n}", "source_ip": ip, "organization_id": org,
                       "timestamp": (T0 + timedelta(seconds=10 * n)).isoformat()}
    return json.dumps(event)


def test_a_fifth_failed_login_alerts_once_to_eventbridge_and_the_ops_topic_and_is_stored():
    analyzer, store, tally, published, notifier, quarantine = _analyzer()
    raised = [alert for n in range(5) for alert in analyzer.record(_login_failed(n), f"m{n}")]
    assert [a.detector for a in raised] == ["brute_force_login"]
    (alert,) = raised
    assert alert.entity == "185.220.101.34" and alert.count == 5 and alert.event_id == "evt-4"
    assert [(t, d["alert_id"]) for t, d in published.events] == [(contracts.SECURITY_ALERT_DETAIL_TYPE,
                                                                  alert.alert_id)]
    assert len(notifier.messages) == 1 and notifier.messages[0][0] == alert_subject(alert)
    assert store.alerts("org-acme", T0, T0 + timedelta(hours=1)) == [alert]
    assert tally.counts("org-acme", T0.date(), T0.date() + timedelta(days=1)) == {"login_failed": 5}
    assert quarantine.sent == []


def test_a_redelivered_record_neither_counts_nor_publishes_twice():
    analyzer, store, tally, published, notifier, _ = _analyzer()
    for n in range(5):
        analyzer.record(_login_failed(n), f"m{n}")
    again = analyzer.record(_login_failed(4), "m4-redelivered")
    assert [a.detector for a in again] == ["brute_force_login"]  # the same alert, re-yielded ...
    assert len(published.events) == 1 and len(notifier.messages) == 1  # ... but not published again
    assert tally.counts("org-acme", T0.date(), T0.date() + timedelta(days=1)) == {"login_failed": 5}


def test_an_alert_whose_publishing_failed_is_published_when_the_record_is_retried():
    analyzer, store, _, published, notifier, _ = _analyzer(FlakyEvents(failures=1))
    for n in range(4):
        analyzer.record(_login_failed(n), f"m{n}")
    with pytest.raises(Throttled):
        analyzer.record(_login_failed(4), "m4")  # stored, not published: the batch reports this record failed
    assert published.events == []
    analyzer.record(_login_failed(4), "m4")  # SQS redelivers it
    assert len(published.events) == 1 and len(notifier.messages) == 1


@pytest.mark.parametrize("body, reason", [
    ("{not json", "not JSON"),
    (json.dumps([1, 2]), "expected a JSON object"),
    (load_event("security/sqs-batch.json")["Records"][2]["body"], "timestamp"),  # the sample's malformed record
], ids=["not-json", "not-an-object", "no-timestamp"])
def test_a_malformed_record_is_quarantined_with_its_reason_and_the_next_one_proceeds(body, reason):
    analyzer, _, _, _, _, quarantine = _analyzer()
    assert analyzer.record(body, "bad-1") == []
    ((sent, why, message_id),) = quarantine.sent
    assert sent == body and reason in why and message_id == "bad-1"
    analyzer.record(_login_failed(0), "good-1")
    stats = analyzer.take_stats()
    assert (stats.records, stats.events, stats.quarantined) == (2, 1, 1)
    assert analyzer.take_stats().records == 0  # counting starts afresh per invocation


def test_a_cloudtrail_record_on_eventbridge_is_judged_by_the_cloudtrail_detectors():
    analyzer, store, tally, published, _, _ = _analyzer()
    raised = analyzer.record(json.dumps(load_event("security/cloudtrail/rds-snapshot-shared-foreign.json")), "ct-1")
    assert [a.detector for a in raised] == ["snapshot_shared_externally"]
    assert published.events[0][1]["detector"] == "snapshot_shared_externally"
    assert tally.organizations(T0.date() - timedelta(days=400), T0.date() + timedelta(days=1)) == set()


def test_the_alert_subject_fits_sns_and_the_message_leads_with_the_action():
    from churnguard_ops.security.service import alert_message

    alert = Alert(alert_id="a1", detector="brute_force_login", severity="high", entity="x" * 200, count=5,
                  window_seconds=300, event_id="e1", timestamp=T0, recommended_action="Block the source IP")
    assert len(alert_subject(alert)) <= 100 and "\n" not in alert_subject(alert)
    assert alert_message(alert).splitlines()[3] == "recommended action: Block the source IP"
