"""What a release moves: the part of each task that depends on the target (a Lambda alias, a feature flag).

The workflow (:mod:`churnguard_ops.canary.workflow`) runs the same steps for both: validate, smoke, shift,
bake, judge, promote or roll back, abort. A target answers the questions that differ: what is the stable
point, how to move to a weight, whether the move has taken effect, what samples a window holds.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from churnguard_ops.canary import metrics as cw
from churnguard_ops.canary.errors import AliasChanged, ReleaseInProgress, SmokeTestFailed, ValidationFailed
from churnguard_ops.canary.model import ReleaseRequest, ReleaseState, WindowSamples
from churnguard_ops.canary.ports import AliasRouting, LockEntry, MetricsSource, SmokeInvoker, TrafficShifter
from churnguard_ops.canary.smoke import smoke_problems
from churnguard_ops.core.errors import NotFound


@dataclass(frozen=True)
class Opening:
    """What validate learns of the target: the stable point and how to name the release."""

    stable: str
    target: dict[str, Any]


class ReleaseTarget(Protocol):
    def default_release_id(self, request: Any, now: datetime) -> str: ...

    def open(self, request: Any, now: datetime, holder: LockEntry | None) -> Opening:
        """Refuse what cannot be released (``ValidationFailed``); ``holder`` is the lock's current holder."""
        ...

    def smoke(self, state: ReleaseState) -> list[dict[str, Any]]:
        """Smoke-test results before any traffic moves; raises ``SmokeTestFailed``."""
        ...

    def move(self, state: ReleaseState, weight: int,
             holds_lock: Callable[[], bool]) -> tuple[bool, dict[str, Any] | None]:
        """Move to ``weight`` (100: everything) unless ``holds_lock()`` says no after the target was read;
        returns (moved, what the move waits for before it is live: see ``settled``)."""
        ...

    def settled(self, state: ReleaseState) -> datetime | None:
        """When the last move took effect (None: not yet). Raises when it never will."""
        ...

    def finish(self, state: ReleaseState) -> None:
        """Promote: nothing but the new side is left."""
        ...

    def restore(self, state: ReleaseState) -> None:
        """Roll back to the stable point (raises ``AliasChanged`` when the target is no longer ours)."""
        ...

    def restore_entry(self, entry: LockEntry) -> dict[str, Any]:
        """The abort path: back to the stable point the lock recorded; returns fields naming the target."""
        ...

    def samples(self, state: ReleaseState, start: datetime, end: datetime, period: int) -> WindowSamples:
        """The window's canary and baseline samples (one GetMetricData); raises ``MetricsUnavailable``."""
        ...

    def empty_samples(self, state: ReleaseState) -> WindowSamples: ...

    def prechecks(self, state: ReleaseState, samples: WindowSamples) -> tuple[list[str], list[str]]:
        """Breaches and notes checked before the judge (the sample ratio of a flag rollout)."""
        ...


class AliasTarget:
    """A Lambda alias: weighted routing between the stable and the new version, judged on AWS/Lambda."""

    def __init__(self, shifter: TrafficShifter, metrics: MetricsSource, smoke: SmokeInvoker,
                 allowed_functions: list[str] | None = None) -> None:
        self.shifter = shifter
        self.metrics = metrics
        self.smoke_invoker = smoke
        self.allowed_functions = allowed_functions or []

    def default_release_id(self, request: ReleaseRequest, now: datetime) -> str:
        return f"{request.function_name}-{request.alias}-v{request.new_version}-{now:%Y%m%dT%H%M%SZ}"

    def open(self, request: ReleaseRequest, now: datetime, holder: LockEntry | None) -> Opening:
        fn, alias, new = request.function_name, request.alias, request.new_version
        if self.allowed_functions and fn not in self.allowed_functions:
            raise ValidationFailed(f"function_name: {fn!r} is not a canary-managed function; "
                                   f"configured: {self.allowed_functions}")
        try:
            routing = self.shifter.routing(fn, alias)
        except NotFound as exc:
            raise ValidationFailed(f"function_name/alias: {fn}:{alias} not found ({exc})") from exc
        if holder is not None:
            # Named first: a running release also explains the alias's split weights below.
            raise ReleaseInProgress(f"{request.lock_key} is being released by {holder.release_id} (version "
                                    f"{holder.stable_version} -> {holder.new_version}, started "
                                    f"{holder.started_at.isoformat()})")
        if routing.split:
            raise ValidationFailed(f"alias: {fn}:{alias} already splits traffic {routing.weights} besides version "
                                   f"{routing.version}; finish or roll back that release first")
        if new == routing.version:
            raise ValidationFailed(f"new_version: {new} is already the version of {fn}:{alias}")
        if not self.shifter.has_version(fn, new):
            raise ValidationFailed(f"new_version: {new} is not a published version of {fn}")
        return Opening(stable=routing.version, target={
            "kind": "lambda_alias", "name": f"{fn}:{alias}", "function_name": fn, "alias": alias,
            "stable": f"version {routing.version}", "new": f"version {new}"})

    def smoke(self, state: ReleaseState) -> list[dict[str, Any]]:
        request = _alias_request(state)
        results: list[dict[str, Any]] = []
        for event in request.smoke_events:
            response = self.smoke_invoker.invoke(request.function_name, request.new_version, event.payload)
            problems = smoke_problems(event.expect, response)
            results.append({"name": event.name, "status": response.status, "passed": not problems,
                            "problems": problems, "body": response.body[:500]})
        failed = [r for r in results if not r["passed"]]
        if failed:
            raise SmokeTestFailed("; ".join(f"smoke event {r['name']!r} on version {request.new_version}: "
                                            + ", ".join(r["problems"]) for r in failed))
        return results

    def routing(self, state: ReleaseState) -> AliasRouting:
        request = _alias_request(state)
        return self.shifter.routing(request.function_name, request.alias)

    def require_ours(self, state: ReleaseState, routing: AliasRouting) -> None:
        if not alias_is_ours(state, routing):
            raise AliasChanged(f"{state.request.lock_key} moved outside this release: version {routing.version} "
                               f"{routing.weights}, expected {state.stable_version} and/or "
                               f"{_alias_request(state).new_version}")

    def move(self, state: ReleaseState, weight: int,
             holds_lock: Callable[[], bool]) -> tuple[bool, dict[str, Any] | None]:
        request = _alias_request(state)
        routing = self.routing(state)  # read, then check, then write with the revision read
        if not holds_lock():
            return False, None
        self.require_ours(state, routing)
        if weight < 100:
            self.shifter.shift(request.function_name, request.alias, state.stable_version, request.new_version,
                               weight, revision_id=routing.revision_id)
        else:
            self.shifter.promote(request.function_name, request.alias, request.new_version,
                                 revision_id=routing.revision_id)
        return True, None

    def settled(self, state: ReleaseState) -> datetime | None:
        return state.step_started_at  # an alias update takes effect with the call

    def finish(self, state: ReleaseState) -> None:
        request = _alias_request(state)
        routing = self.routing(state)
        if routing.version != request.new_version or routing.split:
            self.require_ours(state, routing)
            self.shifter.promote(request.function_name, request.alias, request.new_version,
                                 revision_id=routing.revision_id)

    def restore(self, state: ReleaseState) -> None:
        request = _alias_request(state)
        routing = self.routing(state)
        if routing.version != state.stable_version or routing.split:
            if not alias_is_ours(state, routing):
                raise AliasChanged(f"{request.lock_key} routes to version {routing.version} {routing.weights}, "
                                   f"which is neither {state.stable_version} nor {request.new_version}: left as is")
            self.shifter.rollback(request.function_name, request.alias, state.stable_version)

    def restore_entry(self, entry: LockEntry) -> dict[str, Any]:
        function_name, alias = entry.key.split(":", 1)
        self.shifter.rollback(function_name, alias, entry.stable_version)
        return {"function_name": function_name, "alias": alias, "stable_version": entry.stable_version,
                "new_version": entry.new_version}

    def samples(self, state: ReleaseState, start: datetime, end: datetime, period: int) -> WindowSamples:
        request = _alias_request(state)
        business = request.thresholds.business
        queries = cw.build_queries(request.function_name, request.alias, request.new_version,
                                   state.stable_version, business, period)
        values = self.metrics.fetch(queries, start, end)
        return cw.parse_results(values, request.new_version, state.stable_version, business)

    def empty_samples(self, state: ReleaseState) -> WindowSamples:
        return WindowSamples.model_validate({"canary": {"version": _alias_request(state).new_version},
                                             "baseline": {"version": state.stable_version}})

    def prechecks(self, state: ReleaseState, samples: WindowSamples) -> tuple[list[str], list[str]]:
        return [], []


def _alias_request(state: ReleaseState) -> ReleaseRequest:
    assert isinstance(state.request, ReleaseRequest), "an alias target serves alias releases only"
    return state.request


def alias_is_ours(state: ReleaseState, routing: AliasRouting) -> bool:
    """Only the stable and new versions are involved, however they are weighted."""
    ours = {state.stable_version, _alias_request(state).new_version}
    return routing.version in ours and all(v in ours for v, w in routing.weights.items() if w > 0)
