"""The live analyzer: one SQS record at a time, parsed, counted, judged, and its alerts delivered.

A record is an EventBridge event (an application security event, or a CloudTrail record) or a bare
document of a supported shape (:mod:`.sources`). For each record:

1. parse it; a record that is not valid JSON or not a supported shape is **quarantined** (sent to the
   dead-letter queue with the reason) and counts as handled: the rest of the batch proceeds, and SQS does
   not redeliver what can never succeed;
2. count each application event for its organization's weekly report (idempotent on event id);
3. run the engine (state in DynamoDB: concurrent Lambdas and redeliveries count each event once);
4. deliver each alert: stored conditionally on its id, then published to EventBridge and the ops topic,
   then marked published. A redelivered record re-yields the same alerts, which are published again only
   if no earlier attempt finished publishing them.

Anything else (a throttled table, an unreachable topic) raises: Powertools reports the record as a
batch item failure, SQS redelivers it, and after the queue's ``maxReceiveCount`` it lands in the same
dead-letter queue. Nothing is lost, and nothing is half-done twice.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from churnguard_ops.core import contracts
from churnguard_ops.core.clock import Clock
from churnguard_ops.core.ports import EventPublisher, Notifier
from churnguard_ops.security.engine import Engine
from churnguard_ops.security.model import Alert
from churnguard_ops.security.ports import AlertStore, EventTally, Quarantine
from churnguard_ops.security.remediation import BlockAction, RemediationIncomplete, Remediator
from churnguard_ops.security.sources import UnsupportedInput, to_events

#: A quarantined record's reason is cut to this many characters (an SQS message attribute stays small).
REASON_CHARS = 1000


@dataclass
class BatchStats:
    records: int = 0
    events: int = 0
    alerts: int = 0
    published: int = 0
    quarantined: int = 0
    alerts_by_detector: dict[str, int] = field(default_factory=dict)


class Analyzer:
    def __init__(self, engine: Engine, alerts: AlertStore, tally: EventTally, events: EventPublisher,
                 notifier: Notifier | None, quarantine: Quarantine) -> None:
        self.engine = engine
        self.alert_store = alerts
        self.tally = tally
        self.events = events
        self.notifier = notifier
        self.quarantine = quarantine
        self.stats = BatchStats()

    def record(self, body: str, message_id: str) -> list[Alert]:
        """Process one record; returns the alerts it raised (delivered or already delivered)."""
        self.stats.records += 1
        try:
            parsed = list(to_events(json.loads(body)))
        except json.JSONDecodeError as exc:
            self._quarantine(body, f"not JSON: {exc}", message_id)
            return []
        except UnsupportedInput as exc:
            self._quarantine(body, str(exc), message_id)
            return []
        raised: list[Alert] = []
        for event in parsed:
            self.stats.events += 1
            if event.kind == "app":
                self.tally.record(event)
            for alert in self.engine.process(event):
                self.deliver(alert)
                raised.append(alert)
        return raised

    def deliver(self, alert: Alert) -> bool:
        """Store, publish, mark published; False when an earlier attempt already published it."""
        self.stats.alerts += 1
        self.stats.alerts_by_detector[alert.detector] = self.stats.alerts_by_detector.get(alert.detector, 0) + 1
        if not self.alert_store.put(alert):
            return False
        line = alert.line()
        self.events.publish(contracts.SECURITY_ALERT_DETAIL_TYPE, line)
        if self.notifier is not None:
            self.notifier.publish(alert_subject(alert), alert_message(alert))
        self.alert_store.mark_published(alert)
        self.stats.published += 1
        return True

    def take_stats(self) -> BatchStats:
        """The counts since the last call (one invocation's), and start counting afresh."""
        stats, self.stats = self.stats, BatchStats()
        return stats

    def _quarantine(self, body: str, reason: str, message_id: str) -> None:
        self.quarantine.send(body, reason[:REASON_CHARS], message_id)
        self.stats.quarantined += 1


def alert_subject(alert: Alert) -> str:
    """An SNS subject (at most 100 characters, one line)."""
    subject = f"[{alert.severity.upper()}] security: {alert.detector} {alert.entity}"
    return " ".join(subject.split())[:100]


def alert_message(alert: Alert) -> str:
    """What an on-call engineer reads first, then the alert itself."""
    lines = [
        f"{alert.detector} ({alert.severity}) on {alert.entity}",
        f"count {alert.count} within {alert.window_seconds} s, triggered by event {alert.event_id} at "
        f"{alert.timestamp.isoformat()}",
        f"organization: {alert.organization_id or '-'}",
        f"recommended action: {alert.recommended_action}",
        "",
        json.dumps(alert.line(), indent=1, sort_keys=True),
    ]
    return "\n".join(lines)


class RemediationActions:
    """Remediation with its announcements: every new action goes to EventBridge; a live block or unblock
    (not a dry run, not a refusal) also goes to the ops topic, since it changes what the API accepts."""

    def __init__(self, remediator: Remediator, events: EventPublisher, notifier: Notifier | None,
                 clock: Clock) -> None:
        self.remediator = remediator
        self.events = events
        self.notifier = notifier
        self.clock = clock

    def on_alert(self, alert_line: Mapping[str, Any]) -> list[BlockAction]:
        decision = self.remediator.on_alert(alert_line, self.clock())
        if decision is None or decision.replayed:
            return []
        self._announce([decision.action])
        return [decision.action]

    def sweep(self) -> list[BlockAction]:
        try:
            result = self.remediator.sweep(self.clock())
        except RemediationIncomplete as exc:
            self._announce(exc.result.actions)  # what it did undo is announced before the retry
            raise
        self._announce(result.actions)
        return result.actions

    def _announce(self, actions: list[BlockAction]) -> None:
        for action in actions:
            line = action.line()
            self.events.publish(contracts.SECURITY_REMEDIATION_DETAIL_TYPE, line)
            if self.notifier is not None and action.action in ("block", "unblock"):
                self.notifier.publish(f"security remediation: {action.action} {action.ip}"[:100],
                                      json.dumps(line, indent=1, sort_keys=True))
