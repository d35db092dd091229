"""opsctl vuln report: the vulnerability ledger's report now -- open findings by severity, each source checked or
not (and why), SLA breaches, exceptions expiring soon or expired, and the functions Inspector does not scan.

Without ``--local`` it invokes the deployed ``<prefix>-vulns-report`` function and prints its summary. With
``--local`` (or no AWS credentials) it starts the embedded default, gives it a pretend account
(:mod:`opsctl.vulns_world`: Inspector findings and coverage, the exceptions file, the ledger's earlier state),
runs the build-time scanners for real on this repository (bandit, pip-audit) and uploads their build reports,
then invokes the deployed functions as their triggers would: poll (twice: one finding closes in between),
ingest_build for each build report, report. ``--out DIR`` copies report.json, report.md and report.sarif and
writes the summary as vuln-report.json.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsctl.commands.common import (
    add_target_options,
    check_out_dir,
    copy_reports,
    function_name,
    local_target,
    read_s3,
    running,
)
from opsctl.console import progress, still_running, write_json

if TYPE_CHECKING:
    from opsctl.environment import LocalEnvironment
    from opsctl.vulns_world import BuildReport, Deployed, VulnWorld

FUNCTIONS = {"poll": "vulns-poll", "on_finding": "vulns-on-finding", "ingest_build": "vulns-ingest-build",
             "report": "vulns-report"}
REPORT_FILES = {"report.json": "report.json", "report.md": "report.md", "report.sarif": "report.sarif"}
SEVERITIES = ("critical", "high", "medium", "low", "informational", "unknown")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("vuln", help="vulnerability management: the ledger's report")
    actions = parser.add_subparsers(dest="action", required=True)
    report = actions.add_parser(
        "report", help="run the vulnerability report now; print the ledger's summary and where the report is",
        description="Invokes the deployed vulns-report function and prints open findings by severity, each source "
                    "checked or not checked (and why), SLA breaches, exceptions expiring within 14 days, expired "
                    "exceptions and what they reopened, and the functions Inspector does not scan. --local seeds "
                    "a pretend account and runs bandit and pip-audit on this repository first. Exit code 0: a "
                    "report was written; 1: a function failed; 2: bad input.")
    add_target_options(report)
    report.set_defaults(run=run)


@dataclass
class Invoked:
    """One function invocation: its name, whether it succeeded, its answer (or error)."""

    function: str
    ok: bool
    payload: dict[str, Any]

    @property
    def error(self) -> str:
        return f"{self.payload.get('errorType', 'error')}: {self.payload.get('errorMessage', self.payload)}"


@dataclass
class ReportRun:
    """The report function's answer and the report.json it wrote; locally also what led to it."""

    invoked: Invoked
    report: dict[str, Any] | None = None
    steps: list[Invoked] = field(default_factory=list)  # locally: poll, poll, ingest_build ...
    build: list[dict[str, Any]] = field(default_factory=list)  # locally: each build report's source and status
    world: VulnWorld | None = None
    notes: list[str] = field(default_factory=list)  # locally: what happened besides the invocations

    @property
    def ok(self) -> bool:
        return self.invoked.ok and all(s.ok for s in self.steps)


def invoke(name: str, event: dict[str, Any]) -> Invoked:
    from opsctl.lambda_calls import invoke as lambda_invoke

    with still_running(f"waiting for {name}"):
        result = lambda_invoke(name, event)
    payload = result.payload if isinstance(result.payload, dict) else {"result": result.payload}
    return Invoked(name, result.ok, payload)


def read_report(invoked: Invoked) -> dict[str, Any] | None:
    location = invoked.payload.get("locations", {}).get("report.json") if invoked.ok else None
    if not location:
        return None
    try:
        report: dict[str, Any] = json.loads(read_s3(location))
    except Exception as exc:  # the function's answer stands on its own; the details are a bonus
        progress(f"could not read {location} ({type(exc).__name__}: {exc}); printing the function's answer only")
        return None
    return report


# -- the local run: the pretend account, the real scanners, the functions as their triggers call them ----------


def _our_functions(prefix: str, region: str) -> list[str]:
    from churnguard_ops.core import aws

    names: list[str] = []
    for page in aws.client("lambda", region).get_paginator("list_functions").paginate():
        names += [f["FunctionName"] for f in page["Functions"] if f["FunctionName"].startswith(prefix)]
    return sorted(names)


def _deployed(poll: str, region: str) -> Deployed:
    from churnguard_ops.core import aws
    from opsctl.vulns_world import Deployed

    config = aws.client("lambda", region).get_function_configuration(FunctionName=poll)
    return Deployed.from_environment(region, (config.get("Environment") or {}).get("Variables") or {})


def _ingested(deployed: Deployed, source: str, scanned_at: datetime) -> bool:
    """Whether the ledger holds ``source``'s scan of ``scanned_at`` (its build report was ingested)."""
    return any(abs((s.scanned_at - scanned_at).total_seconds()) < 0.001 for s in _ledger(deployed).scans([source]))


def _ledger(deployed: Deployed) -> Any:
    from churnguard_ops.vulns.adapters_ledger import DynamoLedger

    return DynamoLedger(deployed.table, deployed.region)


def _drain(aws: Any) -> None:
    """Let the asynchronous invocations the seeding caused (Inspector's finding events) finish."""
    if aws.lambda_dispatch is not None:
        aws.lambda_dispatch.drain()


#: Runs the build-time scanners: (scanned_at) -> build reports (the integration test passes canned ones).
Scanners = Callable[[datetime], "list[BuildReport]"]


def run_local(env: LocalEnvironment, now: datetime | None = None) -> ReportRun:
    """The embedded default's deployed functions on the pretend account and this repository's scans."""
    from opsctl import vulns_world

    names = {role: env.function_name(short) for role, short in FUNCTIONS.items()}
    deployed = _deployed(names["poll"], env.region)
    return run_seeded(env.aws, names, deployed, _our_functions(deployed.function_prefix, env.region),
                      now or datetime.now(timezone.utc), vulns_world.run_build_scanners)


def run_seeded(aws: Any, names: dict[str, str], deployed: Deployed, functions: list[str], now: datetime,
               scanners: Scanners) -> ReportRun:
    """Seed the pretend account, scan, then poll, close a finding, poll, ingest each build report, report."""
    from opsctl import vulns_world

    world = vulns_world.build_world(deployed, functions, now, vulns_world.repo_exceptions())
    # The scanners (subprocesses, ~10 s for bandit) run while the account is seeded and polled.
    progress("running bandit (layers/ops/python, functions) and pip-audit (layers/ops/requirements.lock)")
    pool = ThreadPoolExecutor(max_workers=1)
    scanning = pool.submit(scanners, now)
    pool.shutdown(wait=False)
    progress(f"seeding Inspector: {len(world.findings)} findings on {len(set(world.functions.values()))} functions, "
             f"coverage of {len(world.coverage)} functions ({world.stale_function}: {vulns_world.STALE_REASON}); "
             f"the exceptions file at s3://{deployed.bucket}/{deployed.exceptions_key}")
    vulns_world.seed_account(aws, world)
    _drain(aws)
    notes = []
    before_poll = len(_ledger(deployed).query())
    if before_poll > 1:  # the seeded earlier entry is one
        notes.append(f"before the first poll the ledger already held {before_poll} finding(s): Inspector's "
                     "finding events reached on_finding")
    steps = [invoke(names["poll"], {"action": "poll"})]
    # Fixed in the function's next deployment: Inspector closes the finding; the next poll sees it CLOSED.
    aws.inspector2.update_finding(world.arns["closed"], status="CLOSED")
    _drain(aws)
    steps.append(invoke(names["poll"], {"action": "poll"}))
    with still_running("bandit and pip-audit"):
        reports = scanning.result()
    run_id = f"local-{now:%Y%m%dT%H%M%SZ}"
    s3 = aws.client("s3")
    build: list[dict[str, Any]] = []
    for report in reports:
        key = vulns_world.build_report_key(run_id, report.source)
        body = json.dumps(report.document).encode()
        s3.put_object(Bucket=deployed.bucket, Key=key, Body=body, ContentType="application/json")
        build.append({"source": report.source, "status": report.status, "reason": report.reason,
                      "location": f"s3://{deployed.bucket}/{key}", "key": key, "size": len(body)})
    _drain(aws)  # the bucket's "Object Created" events reach ingest_build where the route is deployed
    for item in build:
        if _ingested(deployed, item["source"], now):
            item["ingested_by"] = "the bucket's Object Created event"
            continue
        # No route delivered it: ingest_build invoked with the event S3 would have sent.
        item["ingested_by"] = "ingest_build invoked with its Object Created event"
        steps.append(invoke(names["ingest_build"], vulns_world.object_created(
            deployed.bucket, item["key"], deployed.region, item["size"], now)))
    invoked = invoke(names["report"], {"action": "report"})
    return ReportRun(invoked, read_report(invoked), steps=steps, build=build, world=world, notes=notes)


# -- what is printed ----------------------------------------------------------------------------------------------


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{s} {counts[s]}" for s in SEVERITIES if counts.get(s)) or "none"


def _what(finding: dict[str, Any]) -> str:
    subject = (f"{finding['package']} {finding.get('version') or ''}".strip() if finding.get("package")
               else finding.get("rule") or "")
    return f"{finding['vuln_id']} {subject} on {finding['resource']}".replace("  ", " ")


def reopened_by_expiry(report: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each reopened finding an expired exception covered (by id or alias and resource), with that exception."""
    out = []
    for finding in report.get("findings", []):
        if finding["state"] != "reopened":
            continue
        ids = {finding["vuln_id"].upper(), *(a.upper() for a in finding.get("aliases", []))}
        if finding.get("rule"):
            ids.add(finding["rule"].upper())
        for exception in report.get("expired_exceptions", []):
            if exception["id"].upper() in ids and fnmatchcase(finding["resource"], exception["resource"]):
                out.append((finding, exception))
                break
    return out


def coverage_gaps(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Our functions Inspector does not scan, with why (Inspector's not-checked resources)."""
    inspector: dict[str, Any] = next((s for s in report.get("sources", []) if s["source"] == "inspector"), {})
    return [n for n in inspector.get("not_checked", []) if n.get("resource")]


def _source_line(source: dict[str, Any]) -> str:
    text = f"    {source['source']:<10} {source['status']}"
    whole = [n["reason"] for n in source.get("not_checked", []) if not n.get("resource")]
    parts = [n for n in source.get("not_checked", []) if n.get("resource")]
    if whole:
        text += f" ({'; '.join(whole)})"
    elif parts:
        text += f" ({len(parts)} resource(s) not checked)"
    if source.get("open_by_severity"):
        text += f"; open: {_counts(source['open_by_severity'])}"
    return text


def summary_lines(answer: dict[str, Any], report: dict[str, Any] | None) -> list[str]:
    """The report function's answer, detailed from its report.json where it could be read."""
    open_ = answer.get("open_by_severity", {})
    generated = str(answer.get("generated_at", ""))[:16].replace("T", " ")
    lines = [f"Vulnerability report {generated} UTC: {sum(open_.values())} open ({_counts(open_)}), "
             f"{answer.get('sla_breaches', 0)} past SLA",
             "  ledger       " + ", ".join(f"{k} {v}" for k, v in answer.get("totals", {}).items())]
    if answer.get("reopened_now"):
        lines.append(f"  reopened by this run (expired exceptions): {answer['reopened_now']}")
    if report is None:
        lines += [f"  {source:<10} {status}" for source, status in answer.get("not_checked", {}).items()]
    else:
        lines.append("  sources:")
        lines += [_source_line(s) for s in report.get("sources", [])]
        breaches = report.get("sla_breaches", [])
        lines.append(f"  SLA breaches {len(breaches)}" + (":" if breaches else ""))
        lines += [f"    {_what(f)}: {f['severity']}, {f['days_open']} days open, due "
                  f"{str(f.get('sla_due') or '')[:10]}" for f in breaches]
        critical = report.get("critical", [])
        if critical:
            lines.append(f"  critical     {len(critical)}:")
            lines += [f"    {_what(f)} ({'+'.join(f['sources'])}), due {str(f.get('sla_due') or '')[:10]}"
                      for f in critical]
        expiring = report.get("expiring_exceptions", [])
        lines.append(f"  exceptions expiring within 14 days: {len(expiring)}" + (":" if expiring else ""))
        lines += [f"    {e['id']} on {e['resource']}: expires {e['expires']} ({e['days_left']} days), approved by "
                  f"{e['approver']}" for e in expiring]
        expired = report.get("expired_exceptions", [])
        reopened = reopened_by_expiry(report)
        lines.append(f"  expired exceptions: {len(expired)}" + (":" if expired else ""))
        lines += [f"    {e['id']} on {e['resource']}: expired on {e['expires']}" for e in expired]
        lines += [f"    reopened {_what(f)}: exception {e['id']} expired on {e['expires']}" for f, e in reopened]
        gaps = coverage_gaps(report)
        lines.append(f"  not scanned by Inspector: {len(gaps)}" + (":" if gaps else ""))
        lines += [f"    {g['resource']}: {g['reason']}" for g in gaps]
        problems = report.get("exception_problems", [])
        if problems:
            lines.append(f"  exceptions file problems: {len(problems)}: " + "; ".join(problems[:3]))
    lines.append("Report:")
    lines += [f"  {name:<13} {location}" for name, location in answer.get("locations", {}).items()]
    return lines


def local_lines(run: ReportRun) -> list[str]:
    """Locally, what led to the report: each invocation's outcome and each build report."""
    lines = [f"  {note}" for note in run.notes]
    for step in run.steps:
        p = step.payload
        if not step.ok:
            lines.append(f"  {step.function}: FAILED: {step.error}")
            continue
        transitions = ", ".join(f"{k} {v}" for k, v in sorted(p.get("transitions", {}).items())) or "none"
        lines.append(f"  {step.function}: {p.get('source', '?')}: {p.get('findings', 0)} finding(s), "
                     f"{p.get('created', 0)} new, {p.get('updated', 0)} updated; transitions: {transitions}")
    if run.build:
        ran = {b["source"] for b in run.build}
        skipped = [s for s in ("cdk-nag", "cfn-lint") if s not in ran]
        if skipped:
            lines.append(f"  {', '.join(skipped)}: not run here (they need the synthesized app with cdk-nag's "
                         "reports: make audit writes their build reports)")
    for b in run.build:
        why = f" ({b['reason']})" if b.get("reason") else ""
        lines.append(f"  build report {b['source']}: {b['status']}{why} -> {b['location']}, ingested by "
                     f"{b.get('ingested_by', '?')}")
    return lines


def save(run: ReportRun, out: str) -> dict[str, Path]:
    """report.json, report.md and report.sarif copied into ``out``; the summary as vuln-report.json."""
    paths = copy_reports(run.invoked.payload.get("locations", {}), REPORT_FILES, out)
    summary = {**run.invoked.payload, "steps": [{"function": s.function, "ok": s.ok, "result": s.payload}
                                                for s in run.steps], "build_reports": run.build}
    if run.report is not None:
        summary["reopened_by_expired_exceptions"] = [
            {"key": f["key"], "vuln_id": f["vuln_id"], "resource": f["resource"], "exception": e["id"],
             "expired_on": e["expires"]} for f, e in reopened_by_expiry(run.report)]
        summary["not_scanned_by_inspector"] = coverage_gaps(run.report)
        summary["sources"] = {s["source"]: s["status"] for s in run.report.get("sources", [])}
    written = write_json(out, "vuln-report.json", summary)
    if written:
        paths["summary"] = written
    return paths


def run(args: argparse.Namespace) -> int:
    check_out_dir(args.out)
    env = local_target(args)
    if env is not None:
        env.with_postgres = env.seed = False  # the vulnerability world is seeded below; no database is needed
    name = function_name(env, args, FUNCTIONS["report"])
    with running(env):
        if env is not None:
            result = run_local(env)
        else:
            progress(f"invoking {name}")
            invoked = invoke(name, {"action": "report"})
            result = ReportRun(invoked, read_report(invoked))
        if env is not None:
            for line in local_lines(result):
                print(line)
        if not result.ok:
            failed = [s for s in [*result.steps, result.invoked] if not s.ok]
            for step in failed:
                print(f"{step.function}: FAILED: {step.error}")
            if env is not None:
                progress(f"function logs: {env.aws.lambdas.log_path(failed[0].function)}")
            return 1
        for line in summary_lines(result.invoked.payload, result.report):
            print(line)
        if args.out:
            for path in save(result, args.out).values():
                print(f"wrote {path}")
    return 0
