"""opsctl perf report | check: run the deployed performance functions and print what they found.

``--local`` (or no AWS credentials) starts the embedded default, seeds two days of ChurnGuard metrics
(:mod:`opsctl.perf_world`) and invokes the deployed ``<prefix>-performance-report`` / ``-check`` function
through the Lambda API, as ``opsctl invoke`` does; otherwise it invokes the functions deployed in the account.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsctl.commands.common import (
    UsageError,
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
    from opsctl.perf_world import PerfWorld

REPORT_FUNCTION = "performance-report"
CHECK_FUNCTION = "performance-check"
REPORT_FILES = {"json": "report.json", "markdown": "report.md"}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("perf", help="performance: graded threshold alerts and reports")
    actions = parser.add_subparsers(dest="action", required=True)
    report = actions.add_parser(
        "report", help="a performance report over the last N hours; print what is over threshold and why",
        description="Invokes the deployed performance report function (locally: on two days of seeded ChurnGuard "
                    "metrics) and prints each metric over its threshold with its severity, the trend against the "
                    "window before, the recommendations with their numbers and where the report is. Exit code 0: "
                    "a report was written; 1: the function failed; 2: bad input.")
    report.add_argument("--hours", type=int, metavar="N", help="window length, 1-744 (default: the configured "
                                                               "performance.report_hours, 24)")
    report.add_argument("--end", metavar="TIME", help="window end, ISO 8601 (default: now; locally: the end of "
                                                      "the seeded data's last full hour)")
    add_target_options(report)
    report.set_defaults(run=run_report)
    check = actions.add_parser(
        "check", help="run the performance check now: graded readings and the alerts it sent",
        description="Invokes the deployed performance check (locally: on seeded metrics whose API p99 breaches). "
                    "Alerts are deduplicated: a metric that stays high alerts once. Exit code 0: the check ran; "
                    "1: it failed; 2: bad input.")
    add_target_options(check)
    check.set_defaults(run=run_check)


def report_event(hours: int | None, end: str | None) -> dict[str, Any]:
    """The report function's event, checked with the model the handler parses it with."""
    from pydantic import ValidationError

    from churnguard_ops.performance.events import ReportRequest

    event: dict[str, Any] = {}
    if hours is not None:
        event["hours"] = hours
    if end is not None:
        event["end"] = end
    try:
        ReportRequest.model_validate(event)
    except ValidationError as exc:
        error = exc.errors()[0]
        option = "--hours" if error["loc"] and error["loc"][0] == "hours" else "--end"
        value = hours if option == "--hours" else end
        raise UsageError(f"{option} {value}: {error['msg']}") from None
    return event


@dataclass
class Run:
    function: str
    ok: bool
    headline: dict[str, Any]
    report: dict[str, Any] | None = None
    error: str | None = None


def invoke_function(name: str, event: dict[str, Any], *, read_report: bool = False) -> Run:
    from opsctl.lambda_calls import invoke

    with still_running(f"waiting for {name}"):
        result = invoke(name, event)
    payload = result.payload if isinstance(result.payload, dict) else {}
    if not result.ok:
        return Run(name, False, {}, error=f"{payload.get('errorType', 'error')}: "
                                          f"{payload.get('errorMessage', result.payload)}")
    run = Run(name, True, payload)
    if read_report:
        try:
            run.report = json.loads(read_s3(payload["reports"]["json"]))
        except Exception as exc:  # the headline stands on its own
            progress(f"could not read the report ({type(exc).__name__}: {exc}); printing the headline only")
    return run



def save_report(run: Run, out: str) -> dict[str, Path]:
    paths = copy_reports(run.headline.get("reports", {}), REPORT_FILES, out)
    headline = write_json(out, "perf-report.json", run.headline)
    if headline:
        paths["headline"] = headline
    return paths


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def report_lines(run: Run) -> list[str]:
    h, report = run.headline, run.report or {}
    start, end = (datetime.fromisoformat(h[k]) for k in ("window_start", "window_end"))
    period = report.get("period_seconds")
    lines = [f"Performance report: {h['hours']} h, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
             + (f" ({period // 60}-minute periods)" if period else "") + f"; trend against the {h['hours']} h before",
             f"  series        {h['metrics']}, {h['with_data']} with data; {len(h['breaching'])} over threshold "
             f"({h['violations']} periods)",
             f"  CloudWatch    {h['cloudwatch_queries']} metric queries in {h['cloudwatch_calls']} GetMetricData "
             f"call(s) (500 per call)"]
    over = [m for m in report.get("metrics", []) if m["current"]["violations"]]
    if over:
        lines.append("Over threshold:")
        for m in sorted(over, key=lambda m: -(m["current"]["maximum"] or 0) / m["threshold"]):
            c, t = m["current"], m["trend"]
            trend = f"{t['delta']:+,.2f}" + (f", {t['pct']:+.1f} %" if t["pct"] is not None else "") \
                if t["delta"] is not None else "no previous data"
            lines.append(f"  {c['worst_severity'].upper():<9} {m['label']} {m['resource']}: max {_n(c['maximum'])} "
                         f"{m['unit']} ({c['maximum'] / m['threshold']:.2f}x {_n(m['threshold'])}), "
                         f"{c['violations']} of {c['periods']} periods; average {_n(c['average'])} ({trend})")
    elif report:
        lines.append("Nothing over its threshold in this window.")
    recommendations = report.get("recommendations", [])
    if recommendations:
        lines.append("Recommendations:")
        lines += [f"  - {r['advice']}\n      {r['evidence']}" for r in recommendations]
    for note in report.get("notes", []):
        lines.append(f"Note: {note}")
    lines.append("Report:")
    lines += [f"  {kind:<9} {location}" for kind, location in h.get("reports", {}).items()]
    return lines


def check_lines(run: Run) -> list[str]:
    h = run.headline
    lines = [f"Performance check at {h['checked_at']}: {h['with_data']} of {h['series']} series with data, "
             f"{len(h['breaching'])} over threshold; {h['cloudwatch_queries']} metric queries in "
             f"{h['cloudwatch_calls']} GetMetricData call(s)"]
    lines += [f"  {severity.upper():<9} {key}" for key, severity in sorted(h["breaching"].items())]
    if h["alerts"]:
        lines.append(f"Alerts sent ({len(h['alerts'])}, to EventBridge and the ops topic):")
        lines += [f"  {a['transition']:<10} {a['key']}: {_n(a['value'])} ({a['ratio']:.2f}x threshold)"
                  + (f", {a['severity']}" if a["severity"] else "")
                  + (f", was {a['previous_severity']}" if a["previous_severity"] else "") for a in h["alerts"]]
    else:
        lines.append("No alert sent: nothing newly over threshold, risen in severity or recovered since the last "
                     "check (alerts are deduplicated).")
    if h["skipped_claims"]:
        lines.append(f"Told by an overlapping run: {', '.join(h['skipped_claims'])}")
    for note in h["notes"]:
        lines.append(f"Note: {note}")
    return lines


def _seed(env: LocalEnvironment) -> PerfWorld:
    from opsctl.perf_world import seed_perf_world

    targets = env.context.performance.targets
    progress("seeding 48 hours of ChurnGuard metrics (API, functions, queue, database) into the local CloudWatch")
    world = seed_perf_world(env.aws, targets, region=env.region)
    progress(f"  {world.datapoints} datapoints in {world.put_metric_calls} PutMetricData call(s); data up to "
             f"{world.anchor:%H:%M} UTC, plus the last 5-minute period for the check")
    return world


def _local(args: argparse.Namespace) -> LocalEnvironment | None:
    env = local_target(args)
    if env is not None:
        env.with_postgres = env.seed = False  # the metrics (and the database's record) are seeded here
    return env


def run_report(args: argparse.Namespace) -> int:
    check_out_dir(args.out)
    event = report_event(args.hours, args.end)
    env = _local(args)
    name = function_name(env, args, REPORT_FUNCTION)
    with running(env):
        if env is not None:
            world = _seed(env)
            event.setdefault("end", world.anchor.isoformat())
        progress(f"invoking {name} with {json.dumps(event)}")
        run = invoke_function(name, event, read_report=True)
        if not run.ok:
            print(f"{name}: FAILED: {run.error}")
            return 1
        for line in report_lines(run):
            print(line)
        if args.out:
            for kind, path in save_report(run, args.out).items():
                print(f"wrote {path}" if kind != "headline" else f"wrote {path} (the headline)")
    return 0


def run_check(args: argparse.Namespace) -> int:
    check_out_dir(args.out)
    env = _local(args)
    name = function_name(env, args, CHECK_FUNCTION)
    with running(env):
        if env is not None:
            _seed(env)
        progress(f"invoking {name}")
        run = invoke_function(name, {})
        if not run.ok:
            print(f"{name}: FAILED: {run.error}")
            return 1
        for line in check_lines(run):
            print(line)
        path = write_json(args.out, "perf-check.json", run.headline)
        if path:
            print(f"wrote {path}")
    return 0


__all__ = ["UsageError", "register"]
