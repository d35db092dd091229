"""``opsctl vuln report --local``'s run on one embedded AWS: the pretend account seeded, the four vulns handlers
invoked as their triggers would (poll, a finding closed, poll, a build report, report), and the summary.

The handlers are registered here as the vulns stack deploys them (same code, same environment variables); the
build-time scanners are canned (bandit's sample report and a pip-audit that could not reach its advisories):
``opsctl demo`` runs the real ones on the deployed stack.
"""
from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from churnguard_ops.core import aws as core_aws
from churnguard_ops.vulns.adapters_ledger import DynamoLedger
from opsctl.commands import vuln
from opsctl.local.aws import EmbeddedAws
from opsctl.vulns_world import BuildReport, Deployed
from tests.integration.conftest import create_vuln_ledger_table

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
PREFIX = "cgv5-"
OURS = ["backup-run", "cost-report", "sample-api", "dbadvisor-advise", "drill-plan", "security-analyze",
        "restore-verify"]
NOW = datetime.now(timezone.utc)


def _table(aws: EmbeddedAws) -> str:
    return create_vuln_ledger_table(aws.client("dynamodb"), f"vulns-{uuid.uuid4().hex[:8]}")


def _our_functions(aws: EmbeddedAws) -> list[str]:
    """Our functions in the Lambda control plane (ListFunctions is how the poll finds what Inspector covers)."""
    role = aws.client("iam").create_role(RoleName=f"v5-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    names = [f"{PREFIX}{short}" for short in OURS]
    for name in names:
        aws.client("lambda").create_function(FunctionName=name, Runtime="python3.13", Role=role,
                                             Handler="app.handler", Code={"ZipFile": buffer.getvalue()})
    return names


def _canned_scanners(scanned_at: datetime) -> list[BuildReport]:
    bandit = json.loads((ROOT / "tests" / "unit" / "vuln_samples" / "bandit.json").read_text())
    why = "none of the 16 locked dependencies could be audited: Dependency not found on PyPI and could not be audited"
    return [BuildReport("bandit", {"source": "bandit", "scanned_at": scanned_at.isoformat(), "report": bandit,
                                   "targets": ["layers/ops/python", "functions"]}, "checked"),
            BuildReport("pip-audit", {"source": "pip-audit", "scanned_at": scanned_at.isoformat(),
                                      "not_checked": why}, "not checked", why)]


@pytest.fixture(scope="module")
def run() -> Iterator[tuple[vuln.ReportRun, str]]:
    with EmbeddedAws(region=REGION) as aws:
        core_aws.reset_clients()
        aws.reset()
        bucket, table = f"ops-{uuid.uuid4().hex[:8]}", _table(aws)
        aws.client("s3").create_bucket(Bucket=bucket)
        env = {"POWERTOOLS_SERVICE_NAME": "vulns", "POWERTOOLS_METRICS_NAMESPACE": "ChurnGuardOps",
               "POWERTOOLS_TRACE_DISABLED": "true", "VULNS_LEDGER_TABLE": table, "VULNS_BUCKET": bucket,
               "VULNS_FUNCTION_PREFIX": PREFIX}
        names = {}
        for role, short in vuln.FUNCTIONS.items():
            names[role] = f"{PREFIX}{short}"
            aws.register(names[role], f"app.{role}", code_dir=ROOT / "functions" / "vulns", environment=env)
        deployed = Deployed.from_environment(REGION, env)
        result = vuln.run_seeded(aws, names, deployed, _our_functions(aws), NOW, _canned_scanners)
        yield result, table
    core_aws.reset_clients()


def test_the_local_run_reports_one_layer_cve_for_two_functions_one_breach_and_the_coverage_gap(
        run: tuple[vuln.ReportRun, str]) -> None:
    result, _ = run
    assert result.ok, [s.error for s in [*result.steps, result.invoked] if not s.ok]
    report = result.report
    assert report is not None
    [critical] = report["critical"]
    assert (critical["vuln_id"], critical["resource"], critical["sources"]) == ("CVE-2026-41001", "layer:ops",
                                                                                ["inspector"])
    assert [(f["vuln_id"], f["days_open"]) for f in report["sla_breaches"]] == [("CVE-2026-41002", 40)]
    gaps = vuln.coverage_gaps(report)
    assert [g["resource"] for g in gaps] == [f"function:{PREFIX}restore-verify"]
    assert "package scan, STALE_INVENTORY" in gaps[0]["reason"]
    statuses = {s["source"]: s["status"] for s in report["sources"]}
    assert statuses["pip-audit"] == "not checked" and statuses["bandit"] == "checked"


def test_the_expired_exception_reopens_its_finding_and_the_expiring_one_is_listed(
        run: tuple[vuln.ReportRun, str]) -> None:
    result, table = run
    assert result.report is not None and result.world is not None
    [(finding, exception)] = vuln.reopened_by_expiry(result.report)
    assert (finding["vuln_id"], exception["id"]) == ("CVE-2026-41004", "CVE-2026-41004")
    entry = DynamoLedger(table, REGION).get(finding["key"])
    assert entry is not None and entry.history[-1].why == f"exception CVE-2026-41004 expired on {exception['expires']}"
    assert [e["id"] for e in result.report["expiring_exceptions"]] == [result.world.expiring["id"]]
    closed = [e for e in DynamoLedger(table, REGION).query(states=["fixed"]) if e.finding.vuln_id == "CVE-2026-41003"]
    assert len(closed) == 1


def test_the_summary_names_each_promise_of_the_local_run(run: tuple[vuln.ReportRun, str]) -> None:
    result, _ = run
    text = "\n".join(vuln.summary_lines(result.invoked.payload, result.report))
    assert "1 past SLA" in text and "CVE-2026-41002 requests 2.32.3" in text
    assert "pip-audit  not checked (none of the 16 locked dependencies" in text
    assert "reopened CVE-2026-41004 sqlglot 30.30.0 on layer:ops: exception CVE-2026-41004 expired on" in text
    assert f"function:{PREFIX}restore-verify" in text


def save_writes(result: vuln.ReportRun, out: Path) -> dict[str, Any]:
    vuln.save(result, str(out))
    written: dict[str, Any] = json.loads((out / "vuln-report.json").read_text())
    return written


def test_out_copies_the_three_formats_and_writes_the_summary(run: tuple[vuln.ReportRun, str],
                                                               tmp_path: Path) -> None:
    result, _ = run
    written = save_writes(result, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "report.md", "report.sarif",
                                                          "vuln-report.json"]
    assert written["sources"]["pip-audit"] == "not checked"
    assert [r["vuln_id"] for r in written["reopened_by_expired_exceptions"]] == ["CVE-2026-41004"]
