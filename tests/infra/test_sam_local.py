"""SAM local: each synthesized function carries the asset metadata ``sam local invoke -t cdk.out/<Stack>.template.json``
needs, and every sample in ``events/`` parses as the event its function (or state machine) expects."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.events import EVENTS_DIR

pytestmark = pytest.mark.infra


def _model(model: Any) -> Callable[[Any], Any]:
    def parse_event(event: Any) -> Any:
        from aws_lambda_powertools.utilities.parser import parse

        return parse(event=event, model=model)
    return parse_event


def _security_documents(event: Any) -> Any:
    """What the analyzer accepts in one SQS message body: CloudTrail (record, log file, EventBridge envelope)
    or an application security event; each document yields at least one event."""
    from churnguard_ops.security.sources import to_events

    events = list(to_events(event))
    assert events, "no security event in the document"
    return events


def _sqs_batch(event: Any) -> Any:
    """An SQS batch of analyzer documents. The sample carries one malformed body on purpose (envelope id
    ``bad-...``, what the analyzer quarantines): that one, and only that one, must be refused."""
    from aws_lambda_powertools.utilities.parser.models import SqsModel

    from churnguard_ops.security.sources import UnsupportedInput

    SqsModel.model_validate(event)
    parsed = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        if str(body.get("id", "")).startswith("bad-"):
            with pytest.raises(UnsupportedInput):
                _security_documents(body)
        else:
            parsed.append(_security_documents(body))
    return parsed


def _alarm_router(event: Any) -> Any:
    from churnguard_ops.alarms.events import AlarmStateChangeEvent

    return _model(AlarmStateChangeEvent)(event)


def _canary_abort(event: Any) -> Any:
    from churnguard_ops.canary.events import abort_trigger

    return abort_trigger(event)


def _incident_command(event: Any) -> Any:
    from churnguard_ops.incidents.events import parse_command

    return parse_command(event)


def _flags_evaluate(event: Any) -> Any:
    from churnguard_ops.flags.events import EvaluateRequest

    return EvaluateRequest.parse_event(event)


def _lazy(module: str, name: str) -> Callable[[Any], Any]:
    def parse_event(event: Any) -> Any:
        import importlib

        return _model(getattr(importlib.import_module(module), name))(event)
    return parse_event


#: events/ path pattern -> (what receives it: "function <name suffix>" or "state machine <name suffix>", parser).
#: A new sample (or a new events folder) without a pattern here fails the test; so does a pattern matching nothing.
EVENT_TARGETS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "alarms/state-change-*.json": ("function alarm-router", _alarm_router),
    "backup/manual-run-database.json": ("function backup", _lazy("churnguard_ops.backup.events", "BackupTick")),
    "backup/scheduled-tick-*.json": ("function backup", _lazy("churnguard_ops.backup.events", "BackupTick")),
    "backup/probe/scheduled-tick.json": ("function backup-probe", _lazy("churnguard_ops.backup.events", "ProbeTick")),
    "canary/alarm-state-change.json": ("function canary-abort", _canary_abort),
    "canary/execution-status-change.json": ("function canary-abort", _canary_abort),
    "canary/decision-request-approval.json": ("function canary-decide",
                                              _lazy("churnguard_ops.canary.events", "DecisionRequest")),
    "canary/task-evaluate.json": ("function canary-release", _lazy("churnguard_ops.canary.events", "ReleaseTask")),
    "canary/start-release.json": ("state machine canary-release",
                                  _lazy("churnguard_ops.canary.model", "ReleaseRequest")),
    "cost/*.json": ("function cost-report", _lazy("churnguard_ops.cost.events", "ReportRequest")),
    "dbadvisor/*.json": ("function dbadvisor", _lazy("churnguard_ops.dbadvisor.events", "AdviseRequest")),
    "drill/dr-region-copy.json": ("state machine restore-drill", _lazy("churnguard_ops.drill.model", "DrillInput")),
    "drill/manual-fresh-snapshot.json": ("state machine restore-drill",
                                         _lazy("churnguard_ops.drill.model", "DrillInput")),
    "drill/weekly-schedule.json": ("state machine restore-drill", _lazy("churnguard_ops.drill.model", "DrillInput")),
    # Scheduled handlers that read nothing of their tick: the EventBridge scheduled-event shape.
    "drill/freshness-scheduled-tick.json": ("function drill-freshness", _lazy(
        "aws_lambda_powertools.utilities.parser.models", "EventBridgeModel")),
    "drill/sweeper-scheduled-tick.json": ("function drill-sweeper", _lazy(
        "aws_lambda_powertools.utilities.parser.models", "EventBridgeModel")),
    "drill/task-plan.json": ("function drill-plan", _lazy("churnguard_ops.drill.model", "ExecutionTask")),
    "drill/task-execution-state.json": ("function drill-report",
                                        _lazy("churnguard_ops.drill.model", "LenientExecutionTask")),
    "drill/task-poll-instance.json": ("function drill-poll", _lazy("churnguard_ops.drill.model", "PollRequest")),
    "drill/task-state-after-restore.json": ("function drill-validate",
                                            _lazy("churnguard_ops.drill.model", "DrillState")),
    "flags/evaluate-*.json": ("function flags-evaluate", _flags_evaluate),
    # A flag rollout is a canary release whose target is a flag.
    "flags/rollout-*.json": ("state machine canary-release",
                             _lazy("churnguard_ops.canary.model", "FlagReleaseRequest")),
    "incidents/*.json": ("function incidents", _incident_command),
    "performance/scheduled-check.json": ("function performance-check",
                                         _lazy("churnguard_ops.performance.events", "CheckRequest")),
    "performance/*-report.json": ("function performance-report",
                                  _lazy("churnguard_ops.performance.events", "ReportRequest")),
    "security/alert-brute-force.json": ("function security-remediate",
                                        _lazy("churnguard_ops.security.events", "AlertEvent")),
    "security/scheduled-sweep.json": ("function security-remediate",
                                      _lazy("churnguard_ops.security.events", "SweepTick")),
    "security/scheduled-report.json": ("function security-report",
                                       _lazy("churnguard_ops.security.events", "ReportRequest")),
    "security/sqs-batch.json": ("function security-analyze", _sqs_batch),
    # Documents the analyzer receives as SQS message bodies (EventBridge and S3 notifications put them there).
    "security/eventbridge-app-event.json": ("function security-analyze", _security_documents),
    "security/cloudtrail/*.json": ("function security-analyze", _security_documents),
    "security/app-events.jsonl": ("function security-analyze", _security_documents),  # one document per line
    "vulns/scheduled-poll.json": ("function vulns-poll", _lazy("churnguard_ops.vulns.events", "PollRequest")),
    "vulns/scheduled-report.json": ("function vulns-report", _lazy("churnguard_ops.vulns.events", "ReportRequest")),
    "vulns/inspector-finding.json": ("function vulns-on-finding",
                                     _lazy("churnguard_ops.vulns.events", "InspectorFindingEvent")),
    "vulns/build-report-created.json": ("function vulns-ingest-build",
                                        _lazy("churnguard_ops.vulns.events", "BuildReportCreated")),
}


def _samples() -> list[str]:
    return sorted(str(p.relative_to(EVENTS_DIR)) for p in EVENTS_DIR.rglob("*") if p.is_file())


def _target(sample: str) -> tuple[str, Callable[[Any], Any]] | None:
    # The most specific pattern wins (fewest wildcards), so a named file overrides its folder's pattern.
    hits = [p for p in EVENT_TARGETS if fnmatch.fnmatchcase(sample, p)]
    return EVENT_TARGETS[min(hits, key=lambda p: (p.count("*"), -len(p)))] if hits else None


def _documents(sample: str) -> list[Any]:
    text = (EVENTS_DIR / sample).read_text()
    if sample.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return [json.loads(text)]


def _resources(synth: Any, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(template file, logical id) -> resource, for every resource of ``kind`` in the cloud assembly."""
    found = {}
    for template in sorted(Path(synth.outdir).glob("*.template.json")):
        for logical_id, resource in json.loads(template.read_text())["Resources"].items():
            if resource["Type"] == kind:
                found[(template.name, logical_id)] = resource
    return found


def test_every_sample_event_has_a_target_and_every_target_pattern_a_sample():
    samples = _samples()
    assert [s for s in samples if _target(s) is None] == []
    assert [p for p in EVENT_TARGETS if not any(fnmatch.fnmatchcase(s, p) for s in samples)] == []


@pytest.mark.parametrize("sample", _samples())
def test_sample_event_parses_as_the_event_its_target_expects(sample: str):
    target = _target(sample)
    assert target is not None, f"events/{sample} has no target in EVENT_TARGETS"
    _, parse_event = target
    for document in _documents(sample):
        assert parse_event(document) is not None


def test_every_event_target_is_a_synthesized_function_or_state_machine(synth):
    from churnguard_ops.core.contracts import NAME_PREFIX

    functions = {r["Properties"].get("FunctionName") for r in _resources(synth, "AWS::Lambda::Function").values()}
    machines = {r["Properties"].get("StateMachineName")
                for r in _resources(synth, "AWS::StepFunctions::StateMachine").values()}
    unknown = []
    for kind_and_name, _ in EVENT_TARGETS.values():
        kind, name = kind_and_name.rsplit(" ", 1)
        if f"{NAME_PREFIX}-{name}" not in (functions if kind == "function" else machines):
            unknown.append(kind_and_name)
    assert unknown == []


def test_every_function_and_layer_carries_the_asset_metadata_sam_local_needs(synth):
    functions = _resources(synth, "AWS::Lambda::Function")
    layers = _resources(synth, "AWS::Lambda::LayerVersion")
    assert functions and layers
    problems = []
    for (template, logical_id), resource in {**functions, **layers}.items():
        metadata = resource.get("Metadata", {})
        want = "Code" if resource["Type"] == "AWS::Lambda::Function" else "Content"
        path = metadata.get("aws:asset:path")
        asset = Path(synth.outdir) / path if path else None
        # A directory, or a zip CDK ships prebuilt (BucketDeployment's AWS CLI layer): SAM takes either.
        usable = asset is not None and (asset.is_dir() or (asset.is_file() and asset.suffix == ".zip"))
        if metadata.get("aws:asset:property") != want or not usable:
            problems.append(f"{template} {logical_id}: {metadata}")
    assert problems == []
