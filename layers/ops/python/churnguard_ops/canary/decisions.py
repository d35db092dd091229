"""The decision log over the shared ports: an S3 document per verdict, and an EventBridge event."""
from __future__ import annotations

from churnguard_ops.canary.model import DecisionRecord
from churnguard_ops.core import contracts
from churnguard_ops.core.ports import Documents, EventPublisher


def decision_key(decision: DecisionRecord) -> str:
    """``<prefix><function>/<alias>/<release>/...`` for an alias, ``<prefix>flags/<environment>/<flag>/...`` for
    a flag."""
    where = (f"flags/{decision.environment}/{decision.flag}" if decision.flag is not None
             else f"{decision.function_name}/{decision.alias}")
    return (f"{contracts.CANARY_DECISIONS_PREFIX}{where}/{decision.release_id}/"
            f"{decision.step_index:02d}-{decision.weight:03d}-{decision.evaluated_at:%Y%m%dT%H%M%SZ}.json")


class PublishedDecisionLog:
    """Stores first, then announces (the event carries the document's location)."""

    def __init__(self, documents: Documents | None, events: EventPublisher | None) -> None:
        self.documents = documents
        self.events = events

    def write(self, decision: DecisionRecord) -> str | None:
        document = decision.model_dump(mode="json")
        location = self.documents.save(decision_key(decision), document) if self.documents else None
        if self.events:
            self.events.publish(contracts.CANARY_DECISION_DETAIL_TYPE, {
                "release_id": decision.release_id,
                **({"flag": decision.flag, "environment": decision.environment} if decision.flag is not None
                   else {"function_name": decision.function_name, "alias": decision.alias}),
                "step_index": decision.step_index, "weight": decision.weight,
                "verdict": decision.verdict.value, "action": decision.action, "reasons": decision.reasons,
                "canary_version": decision.canary.version, "baseline_version": decision.baseline.version,
                "evaluated_at": decision.evaluated_at.isoformat(), "record": location})
        return location
