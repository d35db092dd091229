"""The vulnerability functions' pieces on fakes: build report envelopes, trigger events, Inspector coverage
reasons, the runs (poll, event, build report, report) over a fake ledger, and the handlers' refusals."""
from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from churnguard_ops.core import aws
from churnguard_ops.core.errors import InvalidEvent
from churnguard_ops.vulns.adapters_build import scan_result
from churnguard_ops.vulns.adapters_inspector import NOT_IN_COVERAGE, FunctionCoverage
from churnguard_ops.vulns.events import BuildReportCreated, InspectorFindingEvent
from churnguard_ops.vulns.exceptions import ExceptionSet, parse_exceptions
from churnguard_ops.vulns.model import NotChecked, ScanSummary, SlaPolicy
from churnguard_ops.vulns.normalize.common import ReportFormatError
from churnguard_ops.vulns.runs import VulnRuns, report
from churnguard_ops.vulns.wiring import RENDERERS
from tests.events import load_event
from tests.unit.vulns_fakes import (
    T0,
    Clock,
    FakeFindingSource,
    FakeLedgerStore,
    FakeReportSink,
    inspector_raw,
    sample,
    sample_json,
)

# Powertools' Tracer imports the X-Ray SDK, whose recorder makes a UDP socket object at import (it sends nothing
# with tracing off): imported here, at collection, before sockets are forbidden (as test_handler_inputs does).
importlib.import_module("aws_xray_sdk.core")

ROOT = Path(__file__).resolve().parents[2]
ARN = "arn:aws:inspector2:us-east-1:123456789012:finding/"


class FakeLedgerState(FakeLedgerStore):
    """The fake ledger plus the watermarks and scan summaries the runs keep beside it."""

    def __init__(self) -> None:
        super().__init__()
        self.watermarks: dict[str, datetime] = {}
        self.summaries: dict[str, ScanSummary] = {}

    def watermark(self, source: str) -> datetime | None:
        return self.watermarks.get(source)

    def save_watermark(self, source: str, at: datetime) -> bool:
        if source in self.watermarks and self.watermarks[source] > at:
            return False
        self.watermarks[source] = at
        return True

    def save_scan(self, summary: ScanSummary) -> None:
        self.summaries[summary.source] = summary

    def scans(self, sources: Iterable[str]) -> list[ScanSummary]:
        return [self.summaries[s] for s in sources if s in self.summaries]


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def publish(self, subject: str, message: str) -> None:
        self.sent.append((subject, message))


def runs_on(store: FakeLedgerState, clock: Clock, source: FakeFindingSource | None = None,
            exceptions: ExceptionSet | None = None) -> VulnRuns:
    return VulnRuns(store, policy=SlaPolicy(), exceptions=lambda today: exceptions or ExceptionSet(), clock=clock,
                    inspector=source or FakeFindingSource())


# -- build report envelopes -------------------------------------------------------------------------------------


def test_a_pip_audit_envelope_is_a_complete_scan_of_the_layer() -> None:
    scan = scan_result({"source": "pip-audit", "scanned_at": "2026-11-30T09:00:00Z",
                        "report": sample_json("pip-audit.json"), "resource": "layer:ops"}, expected_source="pip-audit")
    assert scan.complete and scan.source == "pip-audit" and scan.findings
    assert {f.resource for f in scan.findings} == {"layer:ops"}


def test_a_tool_that_could_not_run_is_an_incomplete_scan_not_checked_as_a_whole() -> None:
    scan = scan_result({"source": "pip-audit", "scanned_at": "2026-11-30T09:00:00Z",
                        "not_checked": "the advisory service could not be reached"}, expected_source="pip-audit")
    assert not scan.complete and scan.findings == ()
    assert scan.not_checked == (NotChecked(reason="the advisory service could not be reached"),)


def test_cdk_nag_reports_of_several_stacks_are_one_scan() -> None:
    report = sample("AwsSolutions-ChurnGuardOps-Vulns-NagReport.csv")
    template = sample_json("ChurnGuardOps-Vulns.template.json")
    scan = scan_result({"source": "cdk-nag", "scanned_at": "2026-11-30T09:00:00Z", "reports": [
        {"name": "AwsSolutions-ChurnGuardOps-Vulns-NagReport.csv", "report": report, "template": template},
        {"name": "AwsSolutions-ChurnGuardOps-Other-NagReport.csv", "report": report}]}, expected_source="cdk-nag")
    stacks = {f.resource.split("/", 1)[0] for f in scan.findings}
    assert stacks == {"template:ChurnGuardOps-Vulns.template.json", "template:ChurnGuardOps-Other.template.json"}


@pytest.mark.parametrize(("document", "message"), [
    ({"source": "bandit", "scanned_at": "2026-11-30T09:00:00Z"}, "either the tool's report"),
    ({"source": "bandit", "scanned_at": "2026-11-30T09:00:00Z", "report": {}, "not_checked": "x"},
     "either the tool's report"),
    ({"source": "bandit", "scanned_at": "yesterday", "report": {}}, "build report scanned_at"),
    ({"source": "bandit", "scanned_at": "2026-11-30T09:00:00Z", "report": {}, "surprise": 1}, "build report surprise"),
    ({"source": "pip-audit", "scanned_at": "2026-11-30T09:00:00Z", "report": {}}, "named for 'bandit'"),
    ([], "build report document"),
])
def test_a_malformed_build_report_is_refused_with_one_line_naming_the_field(document: Any, message: str) -> None:
    with pytest.raises(ReportFormatError, match=message):
        scan_result(document, expected_source="bandit")


# -- trigger events ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "message"), [
    ("vulns/reports/run-1/bandit.json", "object.key must be vulns/build/"),
    ("vulns/build/run-1/trivy.json", "names no build-time source"),
    ("vulns/build/run-1/inspector.json", "inspector findings come from Inspector"),
    ("vulns/build/run 1/bandit.json", "object.key must be"),
])
def test_a_build_report_event_for_an_object_that_is_not_a_build_report_is_refused(key: str, message: str) -> None:
    event = load_event("vulns/build-report-created.json")
    event["detail"]["object"]["key"] = key
    with pytest.raises(ValidationError, match=message):
        BuildReportCreated.model_validate(event)


def test_the_sample_build_report_event_names_its_source_and_run() -> None:
    parsed = BuildReportCreated.model_validate(load_event("vulns/build-report-created.json"))
    assert (parsed.report_source, parsed.run_id) == ("pip-audit", "2026-11-30T0912Z-4b1c9e2")


def test_an_inspector_event_of_another_resource_type_is_refused() -> None:
    event = load_event("vulns/inspector-finding.json")
    event["detail"]["resources"][0]["type"] = "AWS_EC2_INSTANCE"
    with pytest.raises(ValidationError, match="no AWS_LAMBDA_FUNCTION resource"):
        InspectorFindingEvent.model_validate(event)


# -- Inspector coverage -----------------------------------------------------------------------------------------


def test_a_function_is_scanned_only_when_its_package_scan_is_active_and_successful() -> None:
    scanned = FunctionCoverage(function="f", scans={"PACKAGE": "SUCCESSFUL"}, active={"PACKAGE": True})
    assert scanned.scanned and scanned.not_checked() == []
    pending = FunctionCoverage(function="f", scans={"PACKAGE": "PENDING_INITIAL_SCAN"}, active={"PACKAGE": True})
    assert not pending.scanned
    assert pending.not_checked()[0].reason == ("not scanned (package scan, PENDING_INITIAL_SCAN): waiting for its "
                                              "first scan")


def test_a_function_missing_from_coverage_and_an_unknown_reason_are_both_reported() -> None:
    assert FunctionCoverage(function="f", scans={}, active={}).not_checked() == [
        NotChecked(resource="function:f", reason=NOT_IN_COVERAGE)]
    code = FunctionCoverage(function="f", scans={"PACKAGE": "SUCCESSFUL", "CODE": "SOMETHING_NEW"},
                            active={"PACKAGE": True, "CODE": False})
    assert [g.reason for g in code.not_checked()] == ["not scanned (code scan, SOMETHING_NEW): something new"]


# -- the runs over a fake ledger --------------------------------------------------------------------------------


def test_poll_moves_the_watermark_after_the_ledger_has_the_findings() -> None:
    store, clock = FakeLedgerState(), Clock(T0 + timedelta(hours=1))
    source = FakeFindingSource([inspector_raw(f"{ARN}a", "churnguard-ops-api", updated=T0)])
    result = runs_on(store, clock, source).poll()
    assert result.created == 1 and store.watermarks["inspector"] == T0
    assert store.summaries["inspector"].complete is False


def test_a_poll_whose_ledger_write_fails_leaves_the_watermark_where_it_was() -> None:
    store, clock = FakeLedgerState(), Clock(T0 + timedelta(hours=1))
    store.watermarks["inspector"] = T0 - timedelta(days=1)
    store.conflicts = 99  # every write loses
    source = FakeFindingSource([inspector_raw(f"{ARN}a", "churnguard-ops-api", updated=T0)])
    with pytest.raises(Exception, match="injected"):
        runs_on(store, clock, source).poll()
    assert store.watermarks["inspector"] == T0 - timedelta(days=1)  # the next poll reads the same window


def test_an_inspector_event_updates_the_ledger_but_not_the_sources_latest_scan() -> None:
    from churnguard_ops.vulns.normalize import inspector

    store, clock = FakeLedgerState(), Clock(T0 + timedelta(hours=1))
    gap = NotChecked(resource="function:churnguard-ops-idle", reason="not scanned")
    store.save_scan(ScanSummary(source="inspector", scanned_at=T0, complete=False, findings=0, not_checked=(gap,)))
    raw = inspector_raw(f"{ARN}b", "churnguard-ops-api", updated=T0)
    result = runs_on(store, clock).on_finding(inspector.normalize_finding(raw))
    assert result.created == 1
    assert store.summaries["inspector"].not_checked == (gap,)  # the poll's coverage gaps are kept


def test_the_weekly_report_writes_every_format_notifies_and_counts_reopened_exceptions() -> None:
    store, clock = FakeLedgerState(), Clock(T0)
    exceptions = parse_exceptions(
        '[[exception]]\nid = "CVE-2023-43804"\npackage = "urllib3"\nresource = "layer:ops"\nreason = "not reachable"\n'
        'approver = "alice@churnguard.example"\nexpires = 2026-11-10\n', T0.date())
    source = FakeFindingSource([inspector_raw(f"{ARN}a", "churnguard-ops-api", updated=T0)])
    runs_on(store, clock, source, exceptions).poll()
    assert store.only().state == "excepted"
    clock.advance(days=20)  # the exception expired on 2026-11-10; the report's refresh reopens the finding
    expired = parse_exceptions(
        '[[exception]]\nid = "CVE-2023-43804"\npackage = "urllib3"\nresource = "layer:ops"\nreason = "not reachable"\n'
        'approver = "alice@churnguard.example"\nexpires = 2026-11-10\n', clock().date())
    sink, notifier = FakeReportSink(), FakeNotifier()
    run = report(runs_on(store, clock, source, expired), sink, RENDERERS, notifier, expiring_days=14)
    assert run.reopened_now == 1 and store.only().state == "reopened"
    assert store.only().history[-1].why == "exception CVE-2023-43804 expired on 2026-11-10"
    assert sorted(name.rsplit("/", 1)[1] for name in sink.written) == ["report.json", "report.md", "report.sarif"]
    assert json.loads(sink.written[f"{clock():%Y-%m-%dT%H%M%SZ}/report.sarif"][0])["version"] == "2.1.0"
    [(subject, message)] = notifier.sent
    assert subject.startswith("Vulnerabilities: 1 open")
    assert "Reopened by this run (expired exceptions): 1" in message and "report.md: s3://" in message


# -- the handlers' refusals (AWS is a tripwire: nothing may be called) ------------------------------------------


class AwsReached(BaseException):
    pass


@pytest.fixture
def handlers(monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "ChurnGuardOps",
                       "POWERTOOLS_SERVICE_NAME": "vulns", "VULNS_LEDGER_TABLE": "ledger",
                       "VULNS_BUCKET": "ops-bucket", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)

    def tripwire(service: str, region: str | None = None) -> Any:
        raise AwsReached(service)

    monkeypatch.setattr(aws, "client", tripwire)
    spec = importlib.util.spec_from_file_location("vulns_app_unit", ROOT / "functions" / "vulns" / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONTEXT = SimpleNamespace(function_name="churnguard-ops-vulns", memory_limit_in_mb=256, aws_request_id="unit",
                          invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:churnguard-ops-vulns")


def test_a_build_report_in_another_bucket_is_refused_before_any_aws_call(handlers: Any) -> None:
    with pytest.raises(InvalidEvent, match="detail.bucket.name: 'churnguard-ops-reports-123456789012' is not"):
        handlers.ingest_build(load_event("vulns/build-report-created.json"), CONTEXT)


def test_an_inspector_event_the_normalizer_cannot_read_is_refused_naming_the_detail(handlers: Any) -> None:
    event = load_event("vulns/inspector-finding.json")
    event["detail"]["lastObservedAt"] = "the day before yesterday"
    with pytest.raises(InvalidEvent, match="^detail: .*lastObservedAt"):
        handlers.on_finding(event, CONTEXT)


def test_the_sample_inspector_event_is_normalized_and_then_reaches_aws(handlers: Any) -> None:
    with pytest.raises(AwsReached):
        handlers.on_finding(load_event("vulns/inspector-finding.json"), CONTEXT)


# -- settings ---------------------------------------------------------------------------------------------------


def test_sla_settings_override_the_defaults_per_severity(monkeypatch: pytest.MonkeyPatch) -> None:
    from churnguard_ops.vulns.settings import VulnsSettings

    monkeypatch.setenv("VULNS_SLA_DAYS", '{"critical": 7}')
    policy = VulnsSettings(ledger_table="t", bucket="b").sla_policy()
    assert policy.days == {"critical": 7, "high": 30, "medium": 90, "low": 120}


@pytest.mark.parametrize(("variable", "value", "field"), [
    ("VULNS_SLA_DAYS", '{"critcal": 7}', "sla_days"),
    ("VULNS_SLA_DAYS", '{"high": 0}', "sla_days"),
    ("VULNS_LAYER_RESOURCES", '{"churnguard-ops-shared": "ops"}', "layer_resources"),
    ("VULNS_PAGE_SIZE", "101", "page_size"),
])
def test_a_setting_a_user_can_get_wrong_fails_at_start_up_naming_it(monkeypatch: pytest.MonkeyPatch, variable: str,
                                                                     value: str, field: str) -> None:
    from churnguard_ops.vulns.settings import VulnsSettings

    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        VulnsSettings(ledger_table="t", bucket="b")
    assert refused.value.errors()[0]["loc"][0] == field
