"""A release waiting on a human: tell the ops channel what is asked and how to answer.

The task token itself is not published (the topic reaches people who may not decide); whoever may
answer reads it from the execution (``opsctl canary approve|reject`` does) and needs
``states:SendTaskSuccess`` / ``SendTaskFailure`` for that.
"""
from __future__ import annotations

from churnguard_ops.canary.events import DecisionRequest
from churnguard_ops.core import contracts
from churnguard_ops.core.ports import EventPublisher, Notifier


class DecisionAnnouncer:
    def __init__(self, notifier: Notifier | None, events: EventPublisher | None) -> None:
        self.notifier = notifier
        self.events = events

    def announce(self, request: DecisionRequest) -> None:
        target = request.subject()
        if request.kind == "approval":
            subject = f"Canary release {request.release_id} awaits approval"
            body = (f"{target} passed every step so far (now at {request.weight} %). "
                    f"Metrics are still being judged while it waits; a breach rolls back.\n"
                    f"Approve: opsctl canary approve --execution {request.execution_id}\n"
                    f"Reject:  opsctl canary reject --execution {request.execution_id} --reason '...'\n"
                    f"No answer within {request.timeout_seconds} s rolls the release back.")
        else:
            subject = f"Canary release {request.release_id} is on hold"
            body = (f"{target} is held at {request.weight} %: {request.reason}\n"
                    f"Resume judging: opsctl canary approve --execution {request.execution_id}\n"
                    f"Roll back:      opsctl canary reject --execution {request.execution_id} --reason '...'\n"
                    f"No answer within {request.timeout_seconds} s rolls the release back.")
        if self.notifier:
            self.notifier.publish(subject[:100], body)
        if self.events:
            self.events.publish(contracts.CANARY_DECISION_REQUESTED_DETAIL_TYPE,
                                request.model_dump(mode="json", exclude={"token"}))
