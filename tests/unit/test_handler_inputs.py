"""Property: whatever arrives, a handler validates it before touching AWS, and fails only by saying which field.

Each handler gets every event one mutation away from the sample files in ``events/`` (each key or item
dropped, each value -- the whole event too -- replaced by a value of every JSON kind, a key added to each
object), then ``FUZZ_EXAMPLES`` (default 60) events of 1-3 random mutations with arbitrary JSON values, drawn
by hypothesis. AWS is a tripwire: the first client the code asks for raises ``AwsReached``, which means
validation passed. Any outcome other than that or a validation error naming a field (a ``TypeError``,
``KeyError``, ``AttributeError``...) is a bug.

Why this split: the structural space is small (11-92 paths per handler, x 3 operations), so enumerating it
covers every single mutation for sure, at ~1 ms an event, where 1,000 random events (~12 ms each, nearly all
of it hypothesis drawing the mutation) covered it only probably; the random events keep what enumeration
cannot: combined mutations and arbitrary nested values (60 per handler keeps 25 handlers within ~1 minute of
the suite; ``FUZZ_EXAMPLES=1000`` runs more).
"""
from __future__ import annotations

import importlib.util
import json
import os
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from churnguard_ops.core import aws
from churnguard_ops.core.errors import InvalidEvent
from churnguard_ops.drill.errors import GuardViolation, NoRecoveryPoint
from tests.events import EVENTS_DIR

# Powertools' Tracer imports the X-Ray SDK, whose module-level recorder makes a UDP socket object (it
# sends nothing with tracing disabled). Import it here, at collection, before sockets are forbidden.
importlib.import_module("aws_xray_sdk.core")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))  # random events per handler, after the enumerated ones
NOW = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class AwsReached(BaseException):  # BaseException: no `except Exception` in the code under test swallows it
    """Validation passed and the code asked for an AWS client."""


def _handler_module(capability: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"fuzz_{capability}_app", ROOT / "functions" / capability / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _event(name: str, **overrides: Any) -> Any:
    return {**json.loads((EVENTS_DIR / name).read_text()), **overrides}


# Cleanup and Report run whatever arrives: an invalid state becomes the drill's recorded error (a drill
# must always clean up and report); the sweeper reads nothing from its scheduled event.
RUNS_ON_ANY_INPUT = {("drill", "cleanup"), ("drill", "report"), ("drill", "sweep"), ("drill", "freshness")}

# handler -> the sample payloads it receives (backup ticks are re-dated to now, as EventBridge delivers them)
BACKUP_EVENTS = [_event(f"backup/{p.name}", time=NOW) for p in sorted((EVENTS_DIR / "backup").glob("*.json"))]
STATE = _event("drill/task-state-after-restore.json")
# Plan, Cleanup and Report get {"execution": <$$.Execution>, "drill": <state>} (the drill id is the execution's).
EXECUTION = _event("drill/task-plan.json")["execution"]
HANDLERS: dict[tuple[str, str], list[Any]] = {
    ("backup", "handler"): BACKUP_EVENTS,
    ("backup", "probe"): [_event("backup/probe/scheduled-tick.json", time=NOW)],
    ("drill", "plan"): [_event("drill/task-plan.json"),
                        {"execution": EXECUTION, "drill": _event("drill/dr-region-copy.json")},
                        {"execution": EXECUTION, "drill": _event("drill/manual-fresh-snapshot.json")}],
    ("drill", "poll"): [_event("drill/task-poll-instance.json")],
    ("drill", "restore"): [STATE],
    ("drill", "validate"): [STATE],
    ("drill", "measure"): [STATE],
    ("drill", "cleanup"): [_event("drill/task-execution-state.json")],
    ("drill", "report"): [_event("drill/task-execution-state.json")],
    ("drill", "freshness"): [_event("drill/freshness-scheduled-tick.json")],
    ("drill", "sweep"): [_event("drill/sweeper-scheduled-tick.json")],
    ("canary", "release"): [_event("canary/task-evaluate.json"),
                            {"task": "validate", "state": _event("canary/start-release.json"),
                             "execution_id": "arn:aws:states:us-east-1:123456789012:execution:canary:run-1"}],
    ("canary", "await_decision"): [_event("canary/decision-request-approval.json")],
    ("canary", "abort"): [_event("canary/alarm-state-change.json"), _event("canary/execution-status-change.json")],
    ("drill", "prove_indexes"): [STATE],
    ("performance", "check"): [_event("performance/scheduled-check.json")],
    ("performance", "report"): [_event("performance/scheduled-report.json"), _event("performance/manual-report.json")],
    ("dbadvisor", "advise"): [_event("dbadvisor/scheduled-advise.json"), _event("dbadvisor/on-demand-advise.json")],
    ("alarms", "route"): [_event(f"alarms/{p.name}") for p in sorted((EVENTS_DIR / "alarms").glob("*.json"))],
    ("incidents", "handle"): [_event(f"incidents/{p.name}") for p in sorted((EVENTS_DIR / "incidents").glob("*.json"))],
    ("flags", "evaluate"): [_event(f"flags/{p.name}") for p in sorted((EVENTS_DIR / "flags").glob("evaluate-*.json"))],
    ("vulns", "poll"): [_event("vulns/scheduled-poll.json")],
    ("vulns", "on_finding"): [_event("vulns/inspector-finding.json")],
    ("vulns", "ingest_build"): [_event("vulns/build-report-created.json")],
    ("vulns", "report"): [_event("vulns/scheduled-report.json")],
}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**63, max_value=2**63) | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(["", "2026-11-28T10:00:00Z", "database", "churnguard-prod", "dr", "-1"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


#: One value of each JSON kind (and the shapes of strings the samples hold): each value of a sample is
#: replaced by each of these in turn.
KINDS: list[Any] = [None, True, False, 0, -1, 2**63, 1.5, "", "x", "2026-11-28T10:00:00Z", "-1", [], [None], {},
                    {"": None}]


def _at(event: Any, path: tuple) -> Any:
    for key in path:
        event = event[key]
    return event


def _single_mutations(event: Any) -> list[Any]:
    """Every event one mutation away from ``event``: each value replaced by each of KINDS, each key or list
    item dropped, a key added to each object."""
    found = []
    for path in _paths(event):
        for value in KINDS:
            if not path:
                found.append(json.loads(json.dumps(value)))
                continue
            mutated = json.loads(json.dumps(event))
            _at(mutated, path[:-1])[path[-1]] = json.loads(json.dumps(value))
            found.append(mutated)
        if path:
            mutated = json.loads(json.dumps(event))
            del _at(mutated, path[:-1])[path[-1]]
            found.append(mutated)
        if isinstance(_at(event, path), dict):
            mutated = json.loads(json.dumps(event))
            _at(mutated, path)["fuzz-unexpected-key"] = "x"
            found.append(mutated)
    return found


def _mutate(data: st.DataObject, event: Any) -> Any:
    event = json.loads(json.dumps(event))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="mutations")):
        path = data.draw(st.sampled_from(_paths(event)), label="path")
        operation = data.draw(st.sampled_from(["replace", "delete", "add"]), label="operation")
        if not path:
            event = data.draw(JSON, label="whole event") if operation == "replace" else event
            continue
        *parents, last = path
        container = event
        for key in parents:
            container = container[key]
        if operation == "replace":
            container[last] = data.draw(JSON, label="value")
        elif operation == "delete":
            del container[last]
        elif isinstance(container, dict):
            container[data.draw(st.text(max_size=10), label="new key")] = data.draw(JSON, label="new value")
    return event


_WHOLE_EVENT_ERRORS = {"model_type", "model_attributes_type", "dict_type", "json_invalid", "json_type"}


def _names_a_field(exc: BaseException) -> bool:
    if isinstance(exc, ValidationError):  # an empty loc is the event itself (not an object, not JSON)
        return all(error["loc"] or error["type"] in _WHOLE_EVENT_ERRORS for error in exc.errors())
    message = str(exc)
    return ":" in message.split(" ", 1)[0] or "$." in message or "source_instance" in message \
        or "target_region" in message or "mode" in message


@pytest.fixture
def tripwired(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "ChurnGuardOps",
        "POWERTOOLS_SERVICE_NAME": "fuzz", "LOG_LEVEL": "CRITICAL", "AWS_DEFAULT_REGION": "us-east-1",
        "BACKUP_DB_INSTANCE_IDS": '["churnguard-prod", "churnguard-analytics"]', "BACKUP_BUCKET": "backups",
        "BACKUP_DR_REGION": "us-west-2", "BACKUP_SSM_PATHS": '["/churnguard/"]',
        "BACKUP_APP_DATA_BUCKETS": '["churnguard-app-data"]',
        "DRILL_DB_INSTANCE_IDS": '["churnguard-prod", "churnguard-analytics"]', "DRILL_DR_REGION": "us-west-2",
        "DRILL_BUCKET": "backups", "DRILL_HISTORY_TABLE": "history", "DRILL_TOPIC_ARN": "arn:aws:sns:us-east-1:1:ops",
        "DRILL_DB_SECRETS": '{"churnguard-prod": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}',
        "CANARY_LOCK_TABLE": "releases", "CANARY_DECISIONS_BUCKET": "backups", "CANARY_FUNCTIONS": '["churnguard-api"]',
        "CANARY_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:ops",
        "PERFORMANCE_STATE_TABLE": "performance-alerts", "PERFORMANCE_REPORTS_BUCKET": "backups",
        "PERFORMANCE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:ops",
        "DBADVISOR_BUCKET": "backups",
        "DBADVISOR_DB_SECRETS": '{"churnguard-prod": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}',
        "ALARMS_TOPIC_ARNS": '{"critical": "arn:aws:sns:us-east-1:123456789012:c", '
                             '"warning": "arn:aws:sns:us-east-1:123456789012:w", '
                             '"info": "arn:aws:sns:us-east-1:123456789012:i"}',
        "ALARMS_IDEMPOTENCY_TABLE": "alarm-idempotency",
        "INCIDENTS_TABLE": "incidents", "INCIDENTS_BUCKET": "backups",
        "VULNS_LEDGER_TABLE": "vulns-ledger", "VULNS_BUCKET": "churnguard-ops-reports-123456789012",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def tripwire(service: str, region: str | None = None) -> Any:
        raise AwsReached(service)

    monkeypatch.setattr(aws, "client", tripwire)


@pytest.mark.parametrize(("capability", "handler"), list(HANDLERS), ids=[f"{c}.{h}" for c, h in HANDLERS])
def test_a_mutated_event_is_processed_or_refused_naming_the_field_before_any_aws_call(
        tripwired: None, capability: str, handler: str) -> None:
    function = getattr(_handler_module(capability), handler)
    context = SimpleNamespace(function_name=f"churnguard-ops-{capability}", memory_limit_in_mb=256,
                              invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:fuzz",
                              aws_request_id="fuzz")
    outcomes: Counter[str] = Counter()

    def handle(event: Any) -> None:
        try:
            result = function(event, context)
        except AwsReached:
            outcomes["validated, then AWS"] += 1
        except (ValidationError, InvalidEvent, ValueError, GuardViolation, NoRecoveryPoint) as exc:
            assert _names_a_field(exc), f"refusal does not name a field: {exc!r} for {event!r}"
            outcomes["refused"] += 1
        else:
            if isinstance(result, dict) and set(result) == {"error"}:  # a command API answers its refusals
                assert _names_a_field(ValueError(result["error"])), f"refusal does not name a field: {result!r}"
                outcomes["refused"] += 1
            else:
                outcomes["no AWS needed"] += 1

    enumerated = [m for sample in HANDLERS[(capability, handler)] for m in _single_mutations(sample)]
    for event in enumerated:
        handle(event)

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def one_event(data: st.DataObject) -> None:
        handle(_mutate(data, data.draw(st.sampled_from(HANDLERS[(capability, handler)]), label="sample")))

    one_event()
    assert sum(outcomes.values()) >= len(enumerated) + EXAMPLES
    if (capability, handler) in RUNS_ON_ANY_INPUT:
        assert outcomes["refused"] == 0, outcomes
    else:  # not vacuous: both valid and invalid input were generated and handled
        assert outcomes["refused"] > 0 and outcomes["validated, then AWS"] + outcomes["no AWS needed"] > 0, outcomes


def test_the_enumerated_mutations_change_every_value_and_key_of_a_sample() -> None:
    sample = {"a": {"b": [1]}, "c": "d"}
    mutations = _single_mutations(sample)
    paths = _paths(sample)  # (), ("a",), ("a", "b"), ("a", "b", 0), ("c",)
    assert len(mutations) == len(paths) * len(KINDS) + (len(paths) - 1) + 2  # replace each, drop each, add to 2 dicts
    assert {"c": "d"} in mutations and {"a": {"b": []}, "c": "d"} in mutations  # dropped a key, a list item
    assert {"a": {"b": [None]}, "c": "d"} in mutations and {"a": {"b": [1]}, "c": {}} in mutations  # replaced
    assert {"a": {"b": [1], "fuzz-unexpected-key": "x"}, "c": "d"} in mutations  # a key added to an inner object
    assert None in mutations and sample == {"a": {"b": [1]}, "c": "d"}  # the whole event; the sample untouched
