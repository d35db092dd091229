"""The canary use cases, one per Step Functions task. Each takes the release state and returns it whole,
with ``action`` set to what the state machine does next (``core.contracts.CANARY_ACTIONS``):

=========  ==========================================================================================
action     the state machine then
=========  ==========================================================================================
smoke      calls ``smoke``
advance    calls ``shift`` (the next step's weight; 100 points the alias at the new version)
approve    waits for a human (task token, ``request.approval.timeout_seconds``), then calls ``approve``
           (or ``rollback`` with reason "approval timed out"/"rejected")
bake       waits ``wait_seconds``, then calls ``evaluate``
promote    calls ``promote``
rollback   calls ``rollback`` (``reason`` says why)
hold       notifies and waits for an operator: ``resume`` (bake again, longer) or ``rollback``
aborted    stops: the alarm path rolled the alias back and gave the lock up (or another release holds it)
done       stops: ``outcome`` is promoted or rolled_back
=========  ==========================================================================================

What is released is a *target* (:mod:`churnguard_ops.canary.targets`): a Lambda alias (the request as it
always was) or a feature flag (``"kind": "feature_flag"``, :mod:`churnguard_ops.canary.flag_target`). The
steps are the same; the target knows its stable point, how to move, when a move is live, and the window's
samples (versions of the alias, or the flag's ``on`` / ``off`` cohorts after a sample-ratio check).

A task that moves traffic first re-reads the target, then checks that this release still holds the lock,
then writes conditionally (the alias's RevisionId; a flag under its environment's write lock); the alarm
path marks the lock before it rolls back. So a shift racing an abort either fails or sees the mark: it
never re-opens traffic.
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from pydantic import TypeAdapter, ValidationError

from churnguard_ops.canary.errors import (
    AlarmAlreadyFiring,
    MetricsUnavailable,
    ValidationFailed,
)
from churnguard_ops.canary.events import AbortReleaseRequest, AlarmStateChange, ExecutionStatusChange
from churnguard_ops.canary.flag_shifter import FlagShifter
from churnguard_ops.canary.flag_target import FlagTarget
from churnguard_ops.canary.judge import business_change_pct, judge
from churnguard_ops.canary.metrics import window
from churnguard_ops.canary.model import (
    FLAG_LOCK_PREFIX,
    Action,
    AnyReleaseRequest,
    DecisionRecord,
    FlagReleaseRequest,
    Judgement,
    LastDecision,
    ReleaseRequest,
    ReleaseState,
    Verdict,
    WindowSamples,
)
from churnguard_ops.canary.ports import (
    AlarmStates,
    DecisionLog,
    LockEntry,
    MetricsSource,
    ReleaseExecutions,
    ReleaseLock,
    SmokeInvoker,
    TrafficShifter,
)
from churnguard_ops.canary.targets import AliasTarget, ReleaseTarget
from churnguard_ops.core import contracts
from churnguard_ops.core.clock import Clock, utcnow
from churnguard_ops.core.errors import OpsError
from churnguard_ops.core.ports import EventPublisher


class CanaryWorkflow:
    def __init__(self, shifter: TrafficShifter, metrics: MetricsSource, smoke: SmokeInvoker, alarms: AlarmStates,
                 decisions: DecisionLog, lock: ReleaseLock, events: EventPublisher | None = None,
                 clock: Clock = utcnow, allowed_functions: list[str] | None = None,
                 executions: ReleaseExecutions | None = None, flags: FlagShifter | None = None) -> None:
        self.alias_target = AliasTarget(shifter, metrics, smoke, allowed_functions)
        #: None: this deployment has no feature flags to release (the canary stack got no FlagsTarget)
        self.flag_target = FlagTarget(flags, metrics) if flags is not None else None
        self.alarms = alarms
        self.decisions = decisions
        self.lock = lock
        self.events = events
        self.clock = clock
        self.executions = executions

    def _target(self, request: ReleaseRequest | FlagReleaseRequest) -> ReleaseTarget:
        if isinstance(request, ReleaseRequest):
            return self.alias_target
        return self._flags()

    def _target_of_key(self, key: str) -> ReleaseTarget:
        return self._flags() if key.startswith(FLAG_LOCK_PREFIX) else self.alias_target

    def _flags(self) -> FlagTarget:
        if self.flag_target is None:
            raise ValidationFailed("kind: feature_flag releases are not configured here (no flags application)")
        return self.flag_target

    # -- validate -----------------------------------------------------------------------------
    def validate(self, request: ReleaseRequest | FlagReleaseRequest) -> ReleaseState:
        """Refuse what cannot be released, take the target's lock, remember its stable point."""
        target = self._target(request)
        now = self.clock()
        execution_name = (request.execution_id or "").rsplit(":", 1)[-1]
        release_id = request.release_id or execution_name or target.default_release_id(request, now)
        holder = self.lock.holder(request.lock_key)
        foreign = holder if holder is not None and holder.release_id != release_id and holder.expires_at >= now \
            else None
        opening = target.open(request, now, foreign)
        states = self.alarms.states(request.alarms) if request.alarms else {}
        missing = [name for name in request.alarms if name not in states]
        if missing:
            raise ValidationFailed(f"alarms: not found: {missing}")
        firing = sorted(name for name, state in states.items() if state.value == "ALARM")
        if firing and request.pre_existing_alarm == "block":
            raise AlarmAlreadyFiring(f"alarms: {firing} already in ALARM before the release; fix them or set "
                                     "pre_existing_alarm to 'ignore'")
        # A retried validate must find its own lock: the id comes from the request or the execution when given.
        self.lock.acquire(LockEntry(key=request.lock_key, release_id=release_id,
                                    new_version=getattr(request, "new_version", "100"),
                                    stable_version=opening.stable, started_at=now,
                                    expires_at=now + timedelta(seconds=request.max_duration_seconds()),
                                    alarms=tuple(request.alarms), execution_id=request.execution_id), now)
        state = ReleaseState(request=request, release_id=release_id, stable_version=opening.stable, started_at=now,
                             action="smoke", preexisting_alarms=firing, target=opening.target)
        self._announce("started", state)
        return state

    def validate_input(self, payload: dict[str, Any]) -> ReleaseState:
        return self.validate(_parse(_REQUEST, payload, "release request"))

    # -- smoke --------------------------------------------------------------------------------
    def smoke(self, state: ReleaseState) -> ReleaseState:
        """Each smoke event straight to the new version (no alias traffic yet); all must meet expectations."""
        results = self._target(state.request).smoke(state)
        return state.model_copy(update={"smoke": results, "action": self._to_next_step(state)})

    # -- shift --------------------------------------------------------------------------------
    def shift(self, state: ReleaseState) -> ReleaseState:
        """Move to the next step's weight; 100 points the alias at the new version / the flag at 100 %."""
        target_weight = state.next_weight
        if target_weight is None:
            raise ValidationFailed(f"step_index {state.step_index}: no step left after {state.steps}")
        if target_weight == 100 and state.request.approval.required and not state.approved_by:
            return state.model_copy(update={"action": "approve"})
        request = state.request
        # The target reads, then asks whether this release still holds the lock, then writes conditionally
        # (the alias's RevisionId; a flag under its environment's write lock): a shift racing an abort either
        # fails or sees the abort's mark, and never re-opens traffic.
        moved_ok, pending = self._target(request).move(state, target_weight, lambda: self._holds_lock(state))
        if not moved_ok:
            return self._aborted(state)
        now = self.clock()
        moved = state.model_copy(update={"step_index": state.step_index + 1, "weight": target_weight,
                                         "step_started_at": now, "extensions": 0, "pending": pending})
        if target_weight == 100 and request.bake.final_seconds == 0 and not pending:
            return moved.model_copy(update={"action": "promote", "wait_seconds": 0})
        return moved.model_copy(update={"action": "bake", "wait_seconds": request.evaluation_interval_seconds})

    # -- evaluate -----------------------------------------------------------------------------
    def evaluate(self, state: ReleaseState) -> ReleaseState:
        """Judge the current step on CloudWatch (one GetMetricData request) and the gating alarms."""
        if state.step_started_at is None or state.step_index < 0:
            raise ValidationFailed("step_started_at: evaluate runs after shift")
        if not self._holds_lock(state):
            return self._aborted(state)
        request = state.request
        target = self._target(request)
        now = self.clock()
        bake = request.bake.final() if state.final else request.bake
        if state.pending:  # the move is not live yet (a flag deployment): the bake starts when it is
            live_since = target.settled(state)
            if live_since is None:
                if (now - state.step_started_at).total_seconds() >= bake.max_wait_seconds:
                    from churnguard_ops.canary.errors import FlagDeploymentFailed

                    raise FlagDeploymentFailed(f"{state.target.get('name')}: the move to {state.weight} % did "
                                               f"not complete within {bake.max_wait_seconds} s")
                return state.model_copy(update={"action": "bake", "wait_seconds": request.evaluation_interval_seconds})
            state = state.model_copy(update={"pending": None, "step_started_at": max(live_since,
                                                                                   state.step_started_at)})
            if state.final and bake.final_seconds == 0:
                return state.model_copy(update={"action": "promote", "wait_seconds": 0})
        assert state.step_started_at is not None
        elapsed = (now - state.step_started_at).total_seconds()
        deadline = bake.max_wait_seconds * (1 + state.extensions)
        start, end, period = window(state.step_started_at, now, request.metric_period_seconds)
        business = request.thresholds.business
        samples: WindowSamples | None = None
        provider_error: str | None = None
        try:
            samples = target.samples(state, start, end, period)
        except MetricsUnavailable as exc:
            provider_error = str(exc)
        judgement = judge(samples, request.thresholds, bake, elapsed, max_wait_seconds=deadline,
                          compare_baseline=not state.final, provider_error=provider_error)
        if samples is not None:
            judgement = _with_prechecks(judgement, *target.prechecks(state, samples))
        verdict, reasons = judgement.verdict, list(judgement.reasons)
        firing: list[str] = []
        try:
            firing = self._firing_alarms(state)
        except OpsError as exc:
            if verdict is None or verdict == Verdict.PASS:  # unread alarms are no evidence of health
                verdict, reasons = Verdict.PROVIDER_ERROR, [f"alarms could not be read: {exc}"]
        if firing:
            verdict = Verdict.FAIL
            reasons = [f"alarm {name} is in ALARM" for name in firing] + (
                reasons if judgement.verdict == Verdict.FAIL else [])
        base = {"evaluations": state.evaluations + 1, "wait_seconds": request.evaluation_interval_seconds}
        if verdict is None:
            return state.model_copy(update={**base, "action": "bake", "reason": None})
        action, extensions = self._after_verdict(state, verdict)
        notes = list(judgement.notes)
        if action == "rollback":  # what a rollback restores: the stable version, or the flag's earlier percentage
            notes.append(f"rolls back to {state.target.get('stable') or state.stable_version}")
        seen = samples or target.empty_samples(state)
        decision = DecisionRecord(
            release_id=state.release_id, **_names(state), step_index=state.step_index, weight=state.weight,
            window_start=start, window_end=end,
            elapsed_seconds=elapsed, canary=seen.canary, baseline=seen.baseline,
            canary_error_rate_pct=seen.canary.error_rate_pct, baseline_error_rate_pct=seen.baseline.error_rate_pct,
            thresholds=request.thresholds, bake=bake, alarms_in_alarm=firing, verdict=verdict, reasons=reasons,
            notes=notes, action=action, evaluated_at=now)
        location = self.decisions.write(decision)
        last = LastDecision(verdict=verdict, reasons=reasons, location=location, evaluated_at=now,
                            step_index=state.step_index, weight=state.weight,
                            canary_invocations=seen.canary.invocations,
                            canary_error_rate_pct=seen.canary.error_rate_pct, canary_p99_ms=seen.canary.p99_ms,
                            baseline_error_rate_pct=seen.baseline.error_rate_pct,
                            baseline_p99_ms=seen.baseline.p99_ms,
                            business_change_pct=business_change_pct(samples, business), action=action)
        return state.model_copy(update={
            **base, "action": action, "extensions": extensions, "last_decision": last,
            "decisions": [*state.decisions, last],
            "reason": "; ".join(reasons) if action in ("rollback", "hold") else None})

    def _after_verdict(self, state: ReleaseState, verdict: Verdict) -> tuple[Action, int]:
        request = state.request
        if verdict == Verdict.PASS:
            return ("promote" if state.final else self._to_next_step(state)), state.extensions
        if verdict == Verdict.FAIL:
            return "rollback", state.extensions
        if verdict == Verdict.NO_DATA:
            if request.on_no_data == "extend" and state.extensions == 0:
                return "bake", 1  # one more max_wait_seconds; a second NO_DATA rolls back
            return ("hold" if request.on_no_data == "hold" else "rollback"), state.extensions
        return ("hold" if request.on_provider_error == "hold" else "rollback"), state.extensions

    def _firing_alarms(self, state: ReleaseState) -> list[str]:
        """Gating alarms in ALARM, except those already firing at validation that have not changed since."""
        if not state.request.alarms:
            return []
        firing = []
        for name, alarm in sorted(self.alarms.states(state.request.alarms).items()):
            if alarm.value != "ALARM":
                continue
            changed_since_start = alarm.updated_at is not None and alarm.updated_at > state.started_at
            if name not in state.preexisting_alarms or changed_since_start:
                firing.append(name)
        return firing

    # -- approval and hold --------------------------------------------------------------------
    def approve(self, state: ReleaseState, approved_by: str | None = None) -> ReleaseState:
        """A human said yes (the task-token callback's output carries ``approved_by``)."""
        return state.model_copy(update={"approved_by": approved_by or state.approved_by or "unknown",
                                        "action": "advance"})

    def resume(self, state: ReleaseState) -> ReleaseState:
        """After a hold: bake the current step again, with one more max_wait_seconds."""
        if not self._holds_lock(state):
            return self._aborted(state)
        return state.model_copy(update={"action": "bake", "extensions": state.extensions + 1, "reason": None,
                                        "wait_seconds": state.request.evaluation_interval_seconds})

    # -- endings ------------------------------------------------------------------------------
    def promote(self, state: ReleaseState) -> ReleaseState:
        """The alias on the new version alone / the flag at 100 %, the lock given back."""
        request = state.request
        if not self._holds_lock(state):
            return self._aborted(state)
        self._target(request).finish(state)
        self.lock.release(request.lock_key, state.release_id)
        done = state.model_copy(update={"action": "done", "outcome": "promoted", "weight": 100, "pending": None,
                                        "finished_at": self.clock(), "wait_seconds": 0})
        self._announce("promoted", done)
        return done

    def rollback(self, state: ReleaseState, reason: str | None = None) -> ReleaseState:
        """Back to the stable version (a flag: the percentage it had before the release), the lock given back.
        Safe to repeat, after a failure anywhere, and when nothing was shifted yet (a failed smoke test)."""
        request = state.request
        why = reason or state.reason or _error_reason(state.error) or "rollback requested"
        holder = self.lock.holder(request.lock_key)
        if holder is not None and holder.release_id != state.release_id:
            # Another release owns the target now (ours was aborted): its traffic is not ours to move.
            return self._aborted(state, why)
        self._target(request).restore(state)
        self.lock.release(request.lock_key, state.release_id)
        done = state.model_copy(update={"action": "done", "outcome": "rolled_back", "weight": 0, "reason": why,
                                        "pending": None, "finished_at": self.clock(), "wait_seconds": 0})
        self._announce("rolled_back", done)
        return done

    def abort(self, event: AlarmStateChange) -> dict[str, Any]:
        """The alarm path: every running release gated by this alarm is rolled back at once."""
        name, value = event.detail.alarm_name, event.detail.state.value
        result: dict[str, Any] = {"alarm": name, "state": value, "aborted": []}
        if value != "ALARM":
            result["ignored"] = f"alarm {name} went to {value}, not ALARM"
            return result
        for entry in self.lock.running():
            if name not in entry.alarms or entry.status != "running":
                continue
            reason = f"alarm {name} went to ALARM: {event.detail.state.reason}".rstrip(": ")
            detail = self._abort_entry(entry, reason, stop_execution=True)
            if detail is not None:
                result["aborted"].append(detail)
        return result

    def abort_function(self, request: AbortReleaseRequest) -> dict[str, Any]:
        """An explicit abort (the alarm router): every running release of the function (or the flag) is
        rolled back."""
        result: dict[str, Any] = {"function_name": request.function_name, "aborted": []}
        if request.flag is not None:
            result["flag"] = request.flag.model_dump()
        for entry in self.lock.running():
            if not request.matches(entry.key) or entry.status != "running":
                continue
            detail = self._abort_entry(entry, request.reason, stop_execution=True)
            if detail is not None:
                result["aborted"].append(detail)
        return result

    def execution_ended(self, event: ExecutionStatusChange) -> dict[str, Any]:
        """A release's execution ended without giving its target back (stopped by hand, timed out, failed in a
        way no Catch saw): roll it back to the stable point and free the lock."""
        arn, status = event.detail.execution_arn, event.detail.status
        result: dict[str, Any] = {"execution": arn, "status": status, "aborted": []}
        for entry in self.lock.running():
            if entry.execution_id != arn:
                continue
            detail = self._abort_entry(entry, f"its execution ended {status} while it held the release",
                                       stop_execution=False)
            if detail is not None:
                result["aborted"].append(detail)
        return result

    def _abort_entry(self, entry: LockEntry, reason: str, *, stop_execution: bool) -> dict[str, Any] | None:
        if not self.lock.mark_aborting(entry.key, entry.release_id):
            return None  # finished or taken over meanwhile
        names = self._target_of_key(entry.key).restore_entry(entry)
        self.lock.release(entry.key, entry.release_id)
        detail: dict[str, Any] = {"release_id": entry.release_id, **names,
                                  "execution_id": entry.execution_id, "reason": reason}
        if stop_execution and self.executions and entry.execution_id:
            # The target is already safe; stopping the execution ends the release now, with the reason.
            try:
                self.executions.stop(entry.execution_id, "AlarmAbort", reason)
            except OpsError as exc:  # its next task sees the lock gone and ends as aborted anyway
                detail["stop_error"] = str(exc)
        if self.events:
            self.events.publish(contracts.CANARY_RELEASE_DETAIL_TYPES["aborted"], detail)
        return detail

    # -- helpers ------------------------------------------------------------------------------
    def _to_next_step(self, state: ReleaseState) -> Action:
        approval = state.request.approval
        if state.next_weight == 100 and approval.required and not state.approved_by:
            return "approve"
        return "advance"

    def _holds_lock(self, state: ReleaseState) -> bool:
        holder = self.lock.holder(state.request.lock_key)
        return holder is not None and holder.release_id == state.release_id and holder.status == "running"

    def _aborted(self, state: ReleaseState, reason: str | None = None) -> ReleaseState:
        return state.model_copy(update={
            "action": "aborted", "outcome": "aborted", "finished_at": self.clock(), "wait_seconds": 0,
            "pending": None,
            "reason": reason or f"{state.release_id} no longer holds {state.request.lock_key} (aborted by an alarm?)"})

    def _announce(self, kind: str, state: ReleaseState) -> None:
        if self.events is None:
            return
        request = state.request
        self.events.publish(contracts.CANARY_RELEASE_DETAIL_TYPES[kind], {
            "release_id": state.release_id, **_names(state), "stable_version": state.stable_version,
            "new_version": getattr(request, "new_version", "100"), "weight": state.weight,
            "outcome": state.outcome, "reason": state.reason, "execution_id": request.execution_id})

    # -- JSON entry points --------------------------------------------------------------------
    def task(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Run one task on Step Functions JSON; returns JSON. See :data:`TASKS`."""
        if name not in TASKS:
            raise ValidationFailed(f"task: {name!r} is not one of {sorted(TASKS)}")
        if name == "validate":
            return self.validate_input(payload).model_dump(mode="json")
        if name == "abort":
            return self.abort(_parse(AlarmStateChange, payload, "alarm state change event"))
        state = _parse(ReleaseState, payload, "release state")
        if name == "approve":
            result = self.approve(state, payload.get("approved_by"))
        elif name == "rollback":
            result = self.rollback(state, payload.get("reason"))
        else:
            result = getattr(self, name)(state)
        return result.model_dump(mode="json")


#: The task names :meth:`CanaryWorkflow.task` accepts.
TASKS = ("validate", "smoke", "shift", "evaluate", "approve", "resume", "promote", "rollback", "abort")


def _parse(model: Any, payload: dict[str, Any], what: str) -> Any:
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(payload)
        return model.model_validate(payload)
    except ValidationError as exc:
        # Field first, as every refusal in this system reads: "<field>: <problem>".
        problems = "; ".join(_problem(e) for e in exc.errors())
        raise ValidationFailed(f"{problems} (invalid {what})") from None


def _problem(error: Any) -> str:
    if error["type"] == "union_tag_invalid":  # the release's kind picks the request model
        return (f"{_field((*error['loc'], 'kind'))}: {error['ctx'].get('tag')!r} is not a release kind "
                f"({', '.join(_TAGS)})")
    return f"{_field(error['loc'])}: {error['msg']}"


def _field(loc: tuple[Any, ...]) -> str:
    """``request.steps.2``; a key with spaces or symbols percent-encoded, so the field stays one word (the
    union's tags, ``lambda_alias`` / ``feature_flag``, are no fields and are left out)."""
    return ".".join(quote(str(part), safe="_-") for part in loc if part not in _TAGS) or "(root)"


_TAGS = ("lambda_alias", "feature_flag")
_REQUEST: TypeAdapter[ReleaseRequest | FlagReleaseRequest] = TypeAdapter(AnyReleaseRequest)


def _names(state: ReleaseState) -> dict[str, Any]:
    """What a decision or event names: the function and alias, or the flag and environment."""
    request = state.request
    if isinstance(request, ReleaseRequest):
        return {"function_name": request.function_name, "alias": request.alias}
    return {"flag": request.flag.key, "environment": request.flag.environment}


def _with_prechecks(judgement: Judgement, breaches: list[str], notes: list[str]) -> Judgement:
    """Checks that come before the judge (the sample ratio): a breach FAILs whatever the judge said."""
    if breaches:
        return Judgement(verdict=Verdict.FAIL, ready=judgement.ready, notes=[*notes, *judgement.notes],
                         reasons=[*breaches, *(judgement.reasons if judgement.verdict == Verdict.FAIL else [])])
    return judgement.model_copy(update={"notes": [*notes, *judgement.notes]}) if notes else judgement


def _error_reason(error: dict[str, Any] | None) -> str | None:
    if not error:
        return None
    cause = error.get("Cause")
    try:  # Lambda's Cause is JSON: {"errorMessage": ..., "errorType": ...}
        cause = json.loads(cause).get("errorMessage", cause) if isinstance(cause, str) else cause
    except (ValueError, AttributeError):
        pass
    return f"{error.get('Error', 'error')}: {cause}" if cause else str(error.get("Error"))


