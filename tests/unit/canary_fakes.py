"""In-memory Lambda aliases, CloudWatch, smoke invokes, alarms, decisions and the release lock, for
canary unit tests. Each is typed against its port at the bottom (``make lint`` runs mypy on this file)."""
from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from churnguard_ops.canary.errors import AliasChanged, FlagDeploymentBusy, MetricsUnavailable, ReleaseInProgress
from churnguard_ops.canary.model import DecisionRecord
from churnguard_ops.canary.ports import (
    AlarmState,
    AliasRouting,
    DeployedFlags,
    FlagDeployment,
    LockEntry,
    SmokeResponse,
)
from churnguard_ops.core.errors import NotFound
from churnguard_ops.core.flag_document import FlagDocument

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)


class FakeAliases:
    """Lambda functions with published versions and aliases; every write bumps the RevisionId."""

    def __init__(self) -> None:
        self.versions: dict[str, set[str]] = {}
        self.aliases: dict[tuple[str, str], AliasRouting] = {}
        self.writes: list[tuple[str, dict[str, Any]]] = []
        self._revisions = itertools.count(1)
        #: Runs before each write, e.g. to move the alias as a concurrent deployer would.
        self.before_write: Callable[[], None] | None = None

    def add_function(self, name: str, versions: int, alias: str, alias_version: str) -> None:
        self.versions[name] = {str(v) for v in range(1, versions + 1)}
        self.aliases[(name, alias)] = AliasRouting(name, alias, alias_version, {}, f"rev-{next(self._revisions)}")

    def set_routing(self, name: str, alias: str, version: str, weights: dict[str, float] | None = None) -> None:
        self.aliases[(name, alias)] = AliasRouting(name, alias, version, dict(weights or {}),
                                                   f"rev-{next(self._revisions)}")

    def routing(self, function_name: str, alias: str) -> AliasRouting:
        if (function_name, alias) not in self.aliases:
            raise NotFound(f"read alias {function_name}:{alias}: ResourceNotFoundException")
        return self.aliases[(function_name, alias)]

    def has_version(self, function_name: str, version: str) -> bool:
        return version in self.versions.get(function_name, set())

    def _write(self, kind: str, function_name: str, alias: str, version: str, weights: dict[str, float],
               revision_id: str | None) -> AliasRouting:
        if self.before_write is not None:
            self.before_write()
        current = self.routing(function_name, alias)
        if revision_id and revision_id != current.revision_id:
            raise AliasChanged(f"{kind} {function_name}:{alias}: PreconditionFailedException")
        self.writes.append((kind, {"version": version, "weights": dict(weights)}))
        updated = replace(current, version=version, weights=dict(weights), revision_id=f"rev-{next(self._revisions)}")
        self.aliases[(function_name, alias)] = updated
        return updated

    def shift(self, function_name: str, alias: str, stable_version: str, new_version: str, weight_pct: int,
              revision_id: str | None = None) -> AliasRouting:
        assert 1 <= weight_pct <= 99, weight_pct
        return self._write("shift", function_name, alias, stable_version, {new_version: float(weight_pct)},
                           revision_id)

    def promote(self, function_name: str, alias: str, new_version: str,
                revision_id: str | None = None) -> AliasRouting:
        return self._write("promote", function_name, alias, new_version, {}, revision_id)

    def rollback(self, function_name: str, alias: str, stable_version: str) -> AliasRouting:
        return self._write("rollback", function_name, alias, stable_version, {}, None)


class FakeCloudWatch:
    """GetMetricData on canned per-version samples: one ``fetch`` = one request, counted."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        #: version -> {"invocations", "errors", "p99_ms", "business"}; absent keys have no datapoints.
        self.samples: dict[str, dict[str, float]] = {}
        self.failure: str | None = None

    def set(self, version: str, **values: float) -> None:
        self.samples[version] = dict(values)

    def fetch(self, queries: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, list[float]]:
        self.calls.append({"queries": queries, "start": start, "end": end})
        if self.failure:
            raise MetricsUnavailable(self.failure)
        values: dict[str, list[float]] = {}
        for query in queries:
            stat = query["MetricStat"]
            dims = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
            version = dims.get("ExecutedVersion") or dims.get("Version") or dims.get("FlagVariant", "")
            field = query["Id"].rsplit("_", 1)[0]
            known = self.samples.get(version, {})
            values[query["Id"]] = [known[field]] if field in known else []
        return values


class FakeSmoke:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.responses: dict[str, SmokeResponse] = {}  # keyed by payload["case"]
        self.default = SmokeResponse(status="success", body='{"statusCode": 200, "body": "{\\"label\\": \\"stay\\"}"}')

    def invoke(self, function_name: str, version: str, payload: dict[str, Any]) -> SmokeResponse:
        self.calls.append((function_name, version, payload))
        return self.responses.get(str(payload.get("case")), self.default)


class FakeAlarms:
    def __init__(self) -> None:
        self.alarms: dict[str, AlarmState] = {}
        self.failure: Exception | None = None

    def set(self, name: str, value: str, updated_at: datetime | None = None) -> None:
        self.alarms[name] = AlarmState(name=name, value=value, updated_at=updated_at)

    def states(self, names: list[str]) -> dict[str, AlarmState]:
        if self.failure is not None:
            raise self.failure
        return {n: self.alarms[n] for n in names if n in self.alarms}


class MemoryDecisionLog:
    def __init__(self) -> None:
        self.records: list[DecisionRecord] = []

    def write(self, decision: DecisionRecord) -> str | None:
        self.records.append(decision)
        return f"memory://decisions/{len(self.records)}"


class MemoryLock:
    def __init__(self) -> None:
        self.entries: dict[str, LockEntry] = {}

    def acquire(self, entry: LockEntry, now: datetime) -> LockEntry:
        held = self.entries.get(entry.key)
        if held is not None and held.release_id != entry.release_id and held.expires_at >= now:
            raise ReleaseInProgress(f"{entry.key} is being released by {held.release_id}")
        self.entries[entry.key] = entry
        return entry

    def holder(self, key: str) -> LockEntry | None:
        return self.entries.get(key)

    def mark_aborting(self, key: str, release_id: str) -> bool:
        held = self.entries.get(key)
        if held is None or held.release_id != release_id:
            return False
        self.entries[key] = replace(held, status="aborting")
        return True

    def release(self, key: str, release_id: str) -> None:
        held = self.entries.get(key)
        if held is not None and held.release_id == release_id:
            del self.entries[key]

    def running(self) -> list[LockEntry]:
        return list(self.entries.values())


class RecordingExecutions:
    def __init__(self) -> None:
        self.stopped: list[tuple[str, str, str]] = []

    def stop(self, execution_id: str, error: str, cause: str) -> None:
        self.stopped.append((execution_id, error, cause))


class FakeAppConfig:
    """The flag profile on AppConfig: hosted versions, environments and their deployments.

    Deployments complete at once unless ``complete_at_once`` is False (then :meth:`complete` finishes them);
    ``before_create`` runs before each new version is created, e.g. to interleave another release's write."""

    def __init__(self, document: dict[str, Any], environments: tuple[str, ...] = ("production",)) -> None:
        self.versions: dict[int, bytes] = {1: FlagDocument.from_data(document).to_json()}
        self.deployments: dict[str, list[FlagDeployment]] = {
            env: [FlagDeployment(env, 1, "1", "COMPLETE", T0)] for env in environments}
        self.complete_at_once = True
        self.before_create: Callable[[], None] | None = None
        self.now = T0

    def environments(self) -> list[str]:
        return sorted(self.deployments)

    def _of(self, environment: str) -> list[FlagDeployment]:
        if environment not in self.deployments:
            raise NotFound(f"flags environment {environment!r}")
        return self.deployments[environment]

    def deployed(self, environment: str) -> DeployedFlags:
        latest = [d for d in self._of(environment) if d.state == "COMPLETE"][-1]
        return DeployedFlags(FlagDocument.parse_json(self.versions[int(latest.version)]), latest)

    def document(self, environment: str) -> dict[str, Any]:
        """The deployed document as JSON data (for assertions)."""
        return dict(json.loads(self.deployed(environment).document.to_json()))

    def in_progress(self, environment: str) -> FlagDeployment | None:
        return next((d for d in self._of(environment) if d.in_progress), None)

    def create_version(self, document: FlagDocument, description: str) -> str:
        if self.before_create is not None:
            hook, self.before_create = self.before_create, None
            hook()
        number = max(self.versions) + 1
        self.versions[number] = document.to_json()
        return str(number)

    def deploy(self, environment: str, version: str, description: str) -> FlagDeployment:
        running = self.in_progress(environment)
        if running is not None:
            raise FlagDeploymentBusy(f"start deployment: ConflictException: deployment {running.number} in progress")
        deployments = self._of(environment)
        state = "COMPLETE" if self.complete_at_once else "DEPLOYING"
        deployment = FlagDeployment(environment, deployments[-1].number + 1, version, state,
                                    self.now if self.complete_at_once else None)
        deployments.append(deployment)
        return deployment

    def deployment(self, environment: str, number: int) -> FlagDeployment:
        return next(d for d in self._of(environment) if d.number == number)

    def complete(self, environment: str, state: str = "COMPLETE") -> None:
        self.deployments[environment] = [replace(d, state=state, completed_at=self.now) if d.in_progress else d
                                         for d in self._of(environment)]


if TYPE_CHECKING:  # mypy proves every fake satisfies its port
    from churnguard_ops.canary import ports

    _shifter: ports.TrafficShifter = FakeAliases()
    _metrics: ports.MetricsSource = FakeCloudWatch()
    _smoke: ports.SmokeInvoker = FakeSmoke()
    _alarms: ports.AlarmStates = FakeAlarms()
    _decisions: ports.DecisionLog = MemoryDecisionLog()
    _lock: ports.ReleaseLock = MemoryLock()
    _executions: ports.ReleaseExecutions = RecordingExecutions()
    _flags: ports.FlagConfigurations = FakeAppConfig({})
