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

A task that moves traffic first re-reads the alias, then checks that this release still holds the lock,
then writes with the alias's RevisionId; the alarm path marks the lock before it rolls back. So a shift
racing an abort either fails on the stale RevisionId or sees the mark: it never re-opens traffic.
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from churnguard_ops.canary import metrics as cw
from churnguard_ops.canary.errors import (
    AlarmAlreadyFiring,
    AliasChanged,
    MetricsUnavailable,
    ReleaseInProgress,
    SmokeTestFailed,
    ValidationFailed,
)
from churnguard_ops.canary.events import AbortReleaseRequest, AlarmStateChange, ExecutionStatusChange
from churnguard_ops.canary.judge import business_change_pct, judge
from churnguard_ops.canary.model import (
    Action,
    DecisionRecord,
    LastDecision,
    ReleaseRequest,
    ReleaseState,
    SmokeExpectation,
    Verdict,
    WindowSamples,
)
from churnguard_ops.canary.ports import (
    AlarmStates,
    AliasRouting,
    DecisionLog,
    LockEntry,
    MetricsSource,
    ReleaseExecutions,
    ReleaseLock,
    SmokeInvoker,
    SmokeResponse,
    TrafficShifter,
)
from churnguard_ops.core import contracts
from churnguard_ops.core.clock import Clock, utcnow
from churnguard_ops.core.errors import NotFound, OpsError
from churnguard_ops.core.ports import EventPublisher


class CanaryWorkflow:
    def __init__(self, shifter: TrafficShifter, metrics: MetricsSource, smoke: SmokeInvoker, alarms: AlarmStates,
                 decisions: DecisionLog, lock: ReleaseLock, events: EventPublisher | None = None,
                 clock: Clock = utcnow, allowed_functions: list[str] | None = None,
                 executions: ReleaseExecutions | None = None) -> None:
        self.shifter = shifter
        self.metrics = metrics
        self.smoke_invoker = smoke
        self.alarms = alarms
        self.decisions = decisions
        self.lock = lock
        self.events = events
        self.clock = clock
        self.allowed_functions = allowed_functions or []
        self.executions = executions

    # -- validate -----------------------------------------------------------------------------
    def validate(self, request: ReleaseRequest) -> ReleaseState:
        """Refuse what cannot be released, take the alias's lock, remember the stable version."""
        fn, alias, new = request.function_name, request.alias, request.new_version
        if self.allowed_functions and fn not in self.allowed_functions:
            raise ValidationFailed(f"function_name: {fn!r} is not a canary-managed function; "
                                   f"configured: {self.allowed_functions}")
        try:
            routing = self.shifter.routing(fn, alias)
        except NotFound as exc:
            raise ValidationFailed(f"function_name/alias: {fn}:{alias} not found ({exc})") from exc
        now = self.clock()
        execution_name = (request.execution_id or "").rsplit(":", 1)[-1]
        release_id = request.release_id or execution_name or f"{fn}-{alias}-v{new}-{now:%Y%m%dT%H%M%SZ}"
        holder = self.lock.holder(request.lock_key)
        if holder is not None and holder.release_id != release_id and holder.expires_at >= now:
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
        states = self.alarms.states(request.alarms) if request.alarms else {}
        missing = [name for name in request.alarms if name not in states]
        if missing:
            raise ValidationFailed(f"alarms: not found: {missing}")
        firing = sorted(name for name, state in states.items() if state.value == "ALARM")
        if firing and request.pre_existing_alarm == "block":
            raise AlarmAlreadyFiring(f"alarms: {firing} already in ALARM before the release; fix them or set "
                                     "pre_existing_alarm to 'ignore'")
        # A retried validate must find its own lock: the id comes from the request or the execution when given.
        self.lock.acquire(LockEntry(key=request.lock_key, release_id=release_id, new_version=new,
                                    stable_version=routing.version, started_at=now,
                                    expires_at=now + timedelta(seconds=request.max_duration_seconds()),
                                    alarms=tuple(request.alarms), execution_id=request.execution_id), now)
        state = ReleaseState(request=request, release_id=release_id, stable_version=routing.version, started_at=now,
                             action="smoke", preexisting_alarms=firing)
        self._announce("started", state)
        return state

    def validate_input(self, payload: dict[str, Any]) -> ReleaseState:
        return self.validate(_parse(ReleaseRequest, payload, "release request"))

    # -- smoke --------------------------------------------------------------------------------
    def smoke(self, state: ReleaseState) -> ReleaseState:
        """Each smoke event straight to the new version (no alias traffic yet); all must meet expectations."""
        request = state.request
        results: list[dict[str, Any]] = []
        for event in request.smoke_events:
            response = self.smoke_invoker.invoke(request.function_name, request.new_version, event.payload)
            problems = _smoke_problems(event.expect, response)
            results.append({"name": event.name, "status": response.status, "passed": not problems,
                            "problems": problems, "body": response.body[:500]})
        failed = [r for r in results if not r["passed"]]
        if failed:
            raise SmokeTestFailed("; ".join(f"smoke event {r['name']!r} on version {request.new_version}: "
                                            + ", ".join(r["problems"]) for r in failed))
        return state.model_copy(update={"smoke": results, "action": self._to_next_step(state)})

    # -- shift --------------------------------------------------------------------------------
    def shift(self, state: ReleaseState) -> ReleaseState:
        """Move to the next step's weight; 100 points the alias at the new version (the final bake)."""
        target = state.next_weight
        if target is None:
            raise ValidationFailed(f"step_index {state.step_index}: no step left after {state.steps}")
        if target == 100 and state.request.approval.required and not state.approved_by:
            return state.model_copy(update={"action": "approve"})
        request = state.request
        routing = self.shifter.routing(request.function_name, request.alias)  # read, then check, then write
        if not self._holds_lock(state):
            return self._aborted(state)
        self._require_ours_on_alias(state, routing)
        if target < 100:
            self.shifter.shift(request.function_name, request.alias, state.stable_version, request.new_version,
                               target, revision_id=routing.revision_id)
        else:
            self.shifter.promote(request.function_name, request.alias, request.new_version,
                                 revision_id=routing.revision_id)
        now = self.clock()
        moved = state.model_copy(update={"step_index": state.step_index + 1, "weight": target,
                                         "step_started_at": now, "extensions": 0})
        if target == 100 and request.bake.final_seconds == 0:
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
        now = self.clock()
        elapsed = (now - state.step_started_at).total_seconds()
        bake = request.bake.final() if state.final else request.bake
        deadline = bake.max_wait_seconds * (1 + state.extensions)
        start, end, period = cw.window(state.step_started_at, now, request.metric_period_seconds)
        business = request.thresholds.business
        samples: WindowSamples | None = None
        provider_error: str | None = None
        try:
            queries = cw.build_queries(request.function_name, request.alias, request.new_version,
                                       state.stable_version, business, period)
            values = self.metrics.fetch(queries, start, end)
            samples = cw.parse_results(values, request.new_version, state.stable_version, business)
        except MetricsUnavailable as exc:
            provider_error = str(exc)
        judgement = judge(samples, request.thresholds, bake, elapsed, max_wait_seconds=deadline,
                          compare_baseline=not state.final, provider_error=provider_error)
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
        empty = WindowSamples.model_validate({"canary": {"version": request.new_version},
                                              "baseline": {"version": state.stable_version}})
        seen = samples or empty
        decision = DecisionRecord(
            release_id=state.release_id, function_name=request.function_name, alias=request.alias,
            step_index=state.step_index, weight=state.weight, window_start=start, window_end=end,
            elapsed_seconds=elapsed, canary=seen.canary, baseline=seen.baseline,
            canary_error_rate_pct=seen.canary.error_rate_pct, baseline_error_rate_pct=seen.baseline.error_rate_pct,
            thresholds=request.thresholds, bake=bake, alarms_in_alarm=firing, verdict=verdict, reasons=reasons,
            notes=judgement.notes, action=action, evaluated_at=now)
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
        """The alias on the new version alone, the lock given back."""
        request = state.request
        if not self._holds_lock(state):
            return self._aborted(state)
        routing = self.shifter.routing(request.function_name, request.alias)
        if routing.version != request.new_version or routing.split:
            self._require_ours_on_alias(state, routing)
            self.shifter.promote(request.function_name, request.alias, request.new_version,
                                 revision_id=routing.revision_id)
        self.lock.release(request.lock_key, state.release_id)
        done = state.model_copy(update={"action": "done", "outcome": "promoted", "weight": 100,
                                        "finished_at": self.clock(), "wait_seconds": 0})
        self._announce("promoted", done)
        return done

    def rollback(self, state: ReleaseState, reason: str | None = None) -> ReleaseState:
        """Back to the stable version with no additional weights, the lock given back. Safe to repeat,
        after a failure anywhere, and when nothing was shifted yet (a failed smoke test)."""
        request = state.request
        why = reason or state.reason or _error_reason(state.error) or "rollback requested"
        holder = self.lock.holder(request.lock_key)
        if holder is not None and holder.release_id != state.release_id:
            # Another release owns the alias now (ours was aborted): its traffic is not ours to move.
            return self._aborted(state, why)
        routing = self.shifter.routing(request.function_name, request.alias)
        if routing.version != state.stable_version or routing.split:
            if not _alias_is_ours(state, routing):
                raise AliasChanged(f"{request.lock_key} routes to version {routing.version} {routing.weights}, "
                                   f"which is neither {state.stable_version} nor {request.new_version}: left as is")
            self.shifter.rollback(request.function_name, request.alias, state.stable_version)
        self.lock.release(request.lock_key, state.release_id)
        done = state.model_copy(update={"action": "done", "outcome": "rolled_back", "weight": 0, "reason": why,
                                        "finished_at": self.clock(), "wait_seconds": 0})
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
        """An explicit abort (the alarm router): every running release of the function is rolled back."""
        result: dict[str, Any] = {"function_name": request.function_name, "aborted": []}
        for entry in self.lock.running():
            if entry.key.split(":", 1)[0] != request.function_name or entry.status != "running":
                continue
            detail = self._abort_entry(entry, request.reason, stop_execution=True)
            if detail is not None:
                result["aborted"].append(detail)
        return result

    def execution_ended(self, event: ExecutionStatusChange) -> dict[str, Any]:
        """A release's execution ended without giving the alias back (stopped by hand, timed out, failed in a
        way no Catch saw): roll the alias back to the stable version and free the lock."""
        arn, status = event.detail.execution_arn, event.detail.status
        result: dict[str, Any] = {"execution": arn, "status": status, "aborted": []}
        for entry in self.lock.running():
            if entry.execution_id != arn:
                continue
            detail = self._abort_entry(entry, f"its execution ended {status} while it held the alias",
                                       stop_execution=False)
            if detail is not None:
                result["aborted"].append(detail)
        return result

    def _abort_entry(self, entry: LockEntry, reason: str, *, stop_execution: bool) -> dict[str, Any] | None:
        if not self.lock.mark_aborting(entry.key, entry.release_id):
            return None  # finished or taken over meanwhile
        function_name, alias = entry.key.split(":", 1)
        self.shifter.rollback(function_name, alias, entry.stable_version)
        self.lock.release(entry.key, entry.release_id)
        detail: dict[str, Any] = {"release_id": entry.release_id, "function_name": function_name, "alias": alias,
                                  "stable_version": entry.stable_version, "new_version": entry.new_version,
                                  "execution_id": entry.execution_id, "reason": reason}
        if stop_execution and self.executions and entry.execution_id:
            # The alias is already safe; stopping the execution ends the release now, with the reason.
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

    def _require_ours_on_alias(self, state: ReleaseState, routing: AliasRouting) -> None:
        if not _alias_is_ours(state, routing):
            raise AliasChanged(f"{state.request.lock_key} moved outside this release: version {routing.version} "
                               f"{routing.weights}, expected {state.stable_version} and/or {state.request.new_version}")

    def _aborted(self, state: ReleaseState, reason: str | None = None) -> ReleaseState:
        return state.model_copy(update={
            "action": "aborted", "outcome": "aborted", "finished_at": self.clock(), "wait_seconds": 0,
            "reason": reason or f"{state.release_id} no longer holds {state.request.lock_key} (aborted by an alarm?)"})

    def _announce(self, kind: str, state: ReleaseState) -> None:
        if self.events is None:
            return
        request = state.request
        self.events.publish(contracts.CANARY_RELEASE_DETAIL_TYPES[kind], {
            "release_id": state.release_id, "function_name": request.function_name, "alias": request.alias,
            "stable_version": state.stable_version, "new_version": request.new_version, "weight": state.weight,
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
        return model.model_validate(payload)
    except ValidationError as exc:
        # Field first, as every refusal in this system reads: "<field>: <problem>".
        problems = "; ".join(f"{_field(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ValidationFailed(f"{problems} (invalid {what})") from None


def _field(loc: tuple[Any, ...]) -> str:
    """``request.steps.2``; a key with spaces or symbols percent-encoded, so the field stays one word."""
    return ".".join(quote(str(part), safe="_-") for part in loc) or "(root)"


def _alias_is_ours(state: ReleaseState, routing: AliasRouting) -> bool:
    """Only the stable and new versions are involved, however they are weighted."""
    ours = {state.stable_version, state.request.new_version}
    return routing.version in ours and all(v in ours for v, w in routing.weights.items() if w > 0)


def _error_reason(error: dict[str, Any] | None) -> str | None:
    if not error:
        return None
    cause = error.get("Cause")
    try:  # Lambda's Cause is JSON: {"errorMessage": ..., "errorType": ...}
        cause = json.loads(cause).get("errorMessage", cause) if isinstance(cause, str) else cause
    except (ValueError, AttributeError):
        pass
    return f"{error.get('Error', 'error')}: {cause}" if cause else str(error.get("Error"))


def _smoke_problems(expect: SmokeExpectation, response: SmokeResponse) -> list[str]:
    problems = []
    if response.status != expect.status:
        problems.append(f"status {response.status} (expected {expect.status})"
                        + (f", FunctionError {response.function_error}" if response.function_error else ""))
    if expect.body_contains is not None and expect.body_contains not in response.body:
        problems.append(f"body does not contain {expect.body_contains!r}")
    if expect.field_equals:
        try:
            body = json.loads(response.body)
        except ValueError:
            return problems + [f"body is not JSON, cannot check {sorted(expect.field_equals)}"]
        for path, wanted in expect.field_equals.items():
            found, value = _lookup(body, path)
            if not found:
                problems.append(f"{path} missing")
            elif value != wanted:
                problems.append(f"{path} = {value!r} (expected {wanted!r})")
    return problems


def _lookup(document: Any, path: str) -> tuple[bool, Any]:
    """A dotted path into JSON; a string along the way that holds JSON (API Gateway's body) is opened."""
    value = document
    for part in path.split("."):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return False, None
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value
