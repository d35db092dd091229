""""Step Functions Execution Status Change" events, as Step Functions sends them to the default bus.

moto runs executions but emits no events when they end, so rules on ``source: aws.states`` (the canary's
"a release ended holding its alias" rule) never fire locally. A background poller lists executions
through the public API and emits one event per status change it sees, with the detail AWS sends.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from .background import Repeating
from .lambda_runtime import DEFAULT_ACCOUNT_ID

__all__ = ["ExecutionStatusEvents"]

ClientFactory = Callable[[str, str], Any]


class ExecutionStatusEvents:
    def __init__(self, clients: ClientFactory, emit: Callable[[str, dict[str, Any]], None], regions: Iterable[str],
                 account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self._clients = clients
        self._emit = emit
        self.regions = list(regions)
        self.account_id = account_id
        self._statuses: dict[str, str] = {}
        self._loop = Repeating("sfn-status-events", self.poll)

    def start(self, interval_seconds: float = 0.5) -> ExecutionStatusEvents:
        self._loop.start(interval_seconds)
        return self

    def stop(self) -> None:
        self._loop.stop()

    def poll(self) -> list[dict[str, Any]]:
        """Emit an event for every execution whose status changed since the last poll; return them."""
        emitted = []
        for region in self.regions:
            sfn = self._clients("stepfunctions", region)
            for page in sfn.get_paginator("list_state_machines").paginate():
                for machine in page["stateMachines"]:
                    for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"],
                                                         maxResults=100)["executions"]:
                        arn, status = execution["executionArn"], execution["status"]
                        if self._statuses.get(arn) == status:
                            continue
                        self._statuses[arn] = status
                        event = self._event(region, machine["stateMachineArn"], execution)
                        self._emit(region, event)
                        emitted.append(event)
        return emitted

    def _event(self, region: str, machine_arn: str, execution: dict[str, Any]) -> dict[str, Any]:
        def millis(moment: Any) -> int | None:
            return int(moment.timestamp() * 1000) if isinstance(moment, dt.datetime) else None

        return {
            "version": "0", "id": str(uuid.uuid4()), "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states", "account": self.account_id,
            "time": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
            "resources": [execution["executionArn"]],
            "detail": {"executionArn": execution["executionArn"], "stateMachineArn": machine_arn,
                       "name": execution.get("name"), "status": execution["status"],
                       "startDate": millis(execution.get("startDate")), "stopDate": millis(execution.get("stopDate")),
                       "input": None, "output": None},
        }
