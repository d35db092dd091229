"""A feature flag as a release target: each step deploys the flag's next rollout percentage.

The stable point is the percentage the environment serves when the release starts (normally 0); a
rollback restores it, a promotion sets 100. A move waits for its AppConfig deployment to complete
before the bake counts. The window is judged on the ``on`` cohort against the ``off`` cohort
(:mod:`churnguard_ops.canary.cohorts`), after the sample-ratio check.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from churnguard_ops.canary import cohorts
from churnguard_ops.canary import metrics as cw
from churnguard_ops.canary.errors import FlagDeploymentFailed, ReleaseInProgress, ValidationFailed
from churnguard_ops.canary.flag_shifter import FlagShifter
from churnguard_ops.canary.model import FLAG_LOCK_PREFIX, FlagReleaseRequest, ReleaseState, WindowSamples
from churnguard_ops.canary.ports import LockEntry, MetricsSource
from churnguard_ops.canary.targets import Opening
from churnguard_ops.core.contracts import FLAG_VARIANT_OFF, FLAG_VARIANT_ON
from churnguard_ops.core.errors import NotFound


class FlagTarget:
    def __init__(self, shifter: FlagShifter, metrics: MetricsSource) -> None:
        self.shifter = shifter
        self.metrics = metrics

    def default_release_id(self, request: FlagReleaseRequest, now: datetime) -> str:
        return f"flag-{request.flag.environment}-{request.flag.key}-{now:%Y%m%dT%H%M%SZ}"[:128]

    def open(self, request: FlagReleaseRequest, now: datetime, holder: LockEntry | None) -> Opening:
        environment, key = request.flag.environment, request.flag.key
        known = self.shifter.store.environments()
        if environment not in known:
            raise ValidationFailed(f"flag.environment: {environment!r} is not a flags environment; "
                                   f"configured: {known}")
        if holder is not None:
            raise ReleaseInProgress(f"flag {key} in {environment} is being released by {holder.release_id} "
                                    f"(rollout {holder.stable_version} % -> 100 %, started "
                                    f"{holder.started_at.isoformat()})")
        try:
            stable = self.shifter.percentage(environment, key)
        except NotFound as exc:
            raise ValidationFailed(f"flag.key: {exc}") from exc
        if stable is None:
            raise ValidationFailed(f"flag.key: {key} has no rollout in {environment}: only a flag with a rollout "
                                   "percentage can be ramped")
        if request.steps[0] <= stable:
            raise ValidationFailed(f"steps[0] = {request.steps[0]}: the flag {key} is already at {stable:g} % in "
                                   f"{environment}; every step must be above it")
        return Opening(stable=f"{stable:g}", target={
            "kind": "feature_flag", "name": f"flag {key} in {environment}", "flag": key,
            "environment": environment, "stable": f"{stable:g} %", "new": "100 %"})

    def smoke(self, state: ReleaseState) -> list[dict[str, Any]]:
        return []  # a flag has no version to invoke on its own: its first step is the smallest exposure

    def move(self, state: ReleaseState, weight: int,
             holds_lock: Callable[[], bool]) -> tuple[bool, dict[str, Any] | None]:
        flag = _flag_request(state).flag
        deployment = self.shifter.set_percentage(flag.environment, flag.key, weight, state.release_id,
                                                 guard=holds_lock)
        if deployment is None:
            return False, None
        return True, {"environment": deployment.environment, "deployment": deployment.number,
                      "version": deployment.version, "percentage": weight}

    def settled(self, state: ReleaseState) -> datetime | None:
        if not state.pending:
            return state.step_started_at
        environment, number = state.pending["environment"], int(state.pending["deployment"])
        deployment = self.shifter.deployment(environment, number)
        if deployment.state == "COMPLETE":
            live = deployment.completed_at or state.step_started_at
            requested = _flag_request(state).propagation_seconds
            propagation = self.shifter.propagation_seconds if requested is None else requested
            if not propagation or live is None:
                return live
            live += timedelta(seconds=propagation)  # the applications' caches have seen it by then
            return live if self.shifter.clock() >= live else None
        if deployment.in_progress:
            return None
        raise FlagDeploymentFailed(f"{environment}: deployment {number} of the flag profile ended "
                                   f"{deployment.state}; {_flag_request(state).flag.key} may not serve "
                                   f"{state.weight} %")

    def finish(self, state: ReleaseState) -> None:
        flag = _flag_request(state).flag
        self.shifter.set_percentage(flag.environment, flag.key, 100, state.release_id)

    def restore(self, state: ReleaseState) -> None:
        flag = _flag_request(state).flag
        self.shifter.set_percentage(flag.environment, flag.key, float(state.stable_version), state.release_id)

    def restore_entry(self, entry: LockEntry) -> dict[str, Any]:
        environment, key = entry.key.removeprefix(FLAG_LOCK_PREFIX).split(":", 1)
        self.shifter.set_percentage(environment, key, float(entry.stable_version), entry.release_id)
        return {"kind": "feature_flag", "flag": key, "environment": environment,
                "stable_percentage": float(entry.stable_version)}

    def samples(self, state: ReleaseState, start: datetime, end: datetime, period: int) -> WindowSamples:
        request = _flag_request(state)
        business = request.thresholds.business
        values = self.metrics.fetch(cohorts.build_queries(request.flag.key, business, period), start, end)
        return cw.parse_results(values, FLAG_VARIANT_ON, FLAG_VARIANT_OFF, business)

    def empty_samples(self, state: ReleaseState) -> WindowSamples:
        return WindowSamples.model_validate({"canary": {"version": FLAG_VARIANT_ON},
                                             "baseline": {"version": FLAG_VARIANT_OFF}})

    def prechecks(self, state: ReleaseState, samples: WindowSamples) -> tuple[list[str], list[str]]:
        breach, note = cohorts.sample_ratio_check(samples.canary.invocations, samples.baseline.invocations,
                                                  state.weight, state.request.bake.min_invocations)
        return ([breach] if breach else []), [note]


def _flag_request(state: ReleaseState) -> FlagReleaseRequest:
    assert isinstance(state.request, FlagReleaseRequest), "a flag target serves flag releases only"
    return state.request



