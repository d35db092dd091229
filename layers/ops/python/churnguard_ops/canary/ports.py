"""What canary gates need beyond the shared ports of :mod:`churnguard_ops.core.ports`.

Adapters in :mod:`churnguard_ops.canary.adapters`, fakes in ``tests/unit/canary_fakes.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from churnguard_ops.canary.model import DecisionRecord
from churnguard_ops.core.flag_document import FlagDocument


@dataclass(frozen=True)
class AliasRouting:
    """Where an alias sends traffic: ``version`` gets what ``weights`` (version -> percent) leave."""

    function_name: str
    alias: str
    version: str
    weights: dict[str, float] = field(default_factory=dict)
    revision_id: str = ""

    @property
    def split(self) -> bool:
        return any(weight > 0 for weight in self.weights.values())


class TrafficShifter(Protocol):
    """A Lambda alias. Every write is conditional on ``revision_id`` where one is given (optimistic
    concurrency: a change by someone else in between makes it fail with ``AliasChanged``)."""

    def routing(self, function_name: str, alias: str) -> AliasRouting:
        """Raises NotFound for an unknown function or alias."""
        ...

    def has_version(self, function_name: str, version: str) -> bool:
        """Whether ``version`` is a published version of the function."""
        ...

    def shift(self, function_name: str, alias: str, stable_version: str, new_version: str, weight_pct: int,
              revision_id: str | None = None) -> AliasRouting:
        """``weight_pct`` (1..99) of the alias's traffic to ``new_version``, the rest to ``stable_version``."""
        ...

    def promote(self, function_name: str, alias: str, new_version: str,
                revision_id: str | None = None) -> AliasRouting:
        """The alias points at ``new_version`` with no additional weights."""
        ...

    def rollback(self, function_name: str, alias: str, stable_version: str) -> AliasRouting:
        """The alias points at ``stable_version`` with no additional weights, whoever changed it since."""
        ...


class MetricsSource(Protocol):
    def fetch(self, queries: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, list[float]]:
        """Query id -> datapoint values, from exactly one GetMetricData request (plus its NextToken pages).
        A query without datapoints may be missing or empty. Raises ``MetricsUnavailable`` on failure."""
        ...


@dataclass(frozen=True)
class SmokeResponse:
    status: Literal["success", "error"]
    body: str
    function_error: str | None = None


class SmokeInvoker(Protocol):
    def invoke(self, function_name: str, version: str, payload: dict[str, Any]) -> SmokeResponse:
        """Invoke exactly ``version`` (not the alias) synchronously."""
        ...


@dataclass(frozen=True)
class AlarmState:
    name: str
    value: str  # OK | ALARM | INSUFFICIENT_DATA
    updated_at: datetime | None = None


class AlarmStates(Protocol):
    def states(self, names: list[str]) -> dict[str, AlarmState]:
        """The named alarms that exist (metric and composite); a missing name is absent from the result."""
        ...


class DecisionLog(Protocol):
    def write(self, decision: DecisionRecord) -> str | None:
        """Store the record and announce it; returns where it is stored (None when not stored)."""
        ...


@dataclass(frozen=True)
class LockEntry:
    """The running release of one alias (``key`` = ``<function>:<alias>``)."""

    key: str
    release_id: str
    new_version: str
    stable_version: str
    started_at: datetime
    expires_at: datetime
    alarms: tuple[str, ...] = ()
    status: Literal["running", "aborting"] = "running"
    execution_id: str | None = None


class ReleaseLock(Protocol):
    def acquire(self, entry: LockEntry, now: datetime) -> LockEntry:
        """Take the alias; idempotent for the same release_id, and an expired entry is taken over.
        Raises ``ReleaseInProgress`` naming the holder otherwise."""
        ...

    def holder(self, key: str) -> LockEntry | None: ...

    def mark_aborting(self, key: str, release_id: str) -> bool:
        """Flag the entry so the release's own tasks stop; False when ``release_id`` no longer holds it."""
        ...

    def release(self, key: str, release_id: str) -> None:
        """Give the alias back; nothing happens when ``release_id`` does not hold it."""
        ...

    def running(self) -> list[LockEntry]: ...


class ReleaseExecutions(Protocol):
    def stop(self, execution_id: str, error: str, cause: str) -> None:
        """Stop a release's workflow execution (the alarm path ends it at once, not at its next evaluation).
        An execution that already ended is not an error."""
        ...


#: AppConfig deployment states that still hold the environment (one deployment per environment at a time).
DEPLOYMENT_IN_PROGRESS = frozenset({"BAKING", "VALIDATING", "DEPLOYING", "ROLLING_BACK"})


@dataclass(frozen=True)
class FlagDeployment:
    """One AppConfig deployment of the flag profile to an environment."""

    environment: str
    number: int
    version: str
    state: str  # COMPLETE | DEPLOYING | BAKING | VALIDATING | ROLLING_BACK | ROLLED_BACK | REVERTED
    completed_at: datetime | None = None

    @property
    def in_progress(self) -> bool:
        return self.state in DEPLOYMENT_IN_PROGRESS


@dataclass(frozen=True)
class DeployedFlags:
    """What an environment serves: the flag document of its latest completed deployment."""

    document: FlagDocument
    deployment: FlagDeployment


class FlagConfigurations(Protocol):
    """ChurnGuard's flag profile on AppConfig (its application, profile and deployment strategy are fixed)."""

    def environments(self) -> list[str]:
        """The environment names releases may change."""
        ...

    def deployed(self, environment: str) -> DeployedFlags:
        """Raises NotFound for an unknown environment or one that never completed a deployment."""
        ...

    def in_progress(self, environment: str) -> FlagDeployment | None:
        """The environment's deployment that has not finished, if any."""
        ...

    def create_version(self, document: FlagDocument, description: str) -> str:
        """A new hosted version of the profile; returns its number. ``FlagDeploymentBusy`` when another
        version was created meanwhile (optimistic concurrency)."""
        ...

    def deploy(self, environment: str, version: str, description: str) -> FlagDeployment:
        """Start deploying ``version`` with the immediate strategy; ``FlagDeploymentBusy`` while the
        environment has another deployment in progress (AppConfig's ConflictException)."""
        ...

    def deployment(self, environment: str, number: int) -> FlagDeployment: ...
