"""opsctl cost report: run the deployed cost report function, print its headline and where the report is.

``--local`` (or no AWS credentials) starts the embedded default, seeds it with a realistic account
(:mod:`opsctl.cost_world`: EC2, RDS, EBS, CloudWatch metrics and Cost Explorer results) and invokes the
deployed ``<prefix>-cost-report`` function through the Lambda API, as ``opsctl invoke`` does; otherwise it
invokes the function deployed in the account. ``--out DIR`` copies ``report.json``, ``report.md`` and
``report.html`` there and writes the headline as ``cost-report.json``.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
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
    from opsctl.local.aws import EmbeddedAws

FUNCTION = "cost-report"
REPORT_FILES = {"json": "report.json", "markdown": "report.md", "html": "report.html"}
STATUS_ORDER = ("recommended", "vetoed", "insufficient_data", "note", "no_action")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("cost", help="cost reports: costs, utilisation and savings with their maths")
    actions = parser.add_subparsers(dest="action", required=True)
    report = actions.add_parser(
        "report", help="run the cost report now; print the headline and where the report is",
        description="Invokes the deployed cost report function (locally: on a seeded embedded account) and prints "
                    "the monthly cost, the potential saving, the top recommendations, anomalies, what the run cost in "
                    "API calls and the report's locations. Exit code 0: a report was written; 1: the function "
                    "failed; 2: bad input.")
    report.add_argument("--lookback-days", type=int, metavar="N",
                        help="days of CloudWatch evidence, 1-63 (default: the configured cost.lookback_days, 14)")
    add_target_options(report)
    report.set_defaults(run=run)


def report_event(lookback_days: int | None) -> dict[str, Any]:
    """The function's event, checked with the model the handler parses it with."""
    from pydantic import ValidationError

    from churnguard_ops.cost.events import ReportRequest

    event: dict[str, Any] = {"action": "report"}
    if lookback_days is not None:
        event["lookback_days"] = lookback_days
    try:
        ReportRequest.model_validate(event)
    except ValidationError as exc:
        raise UsageError(f"--lookback-days {lookback_days}: {exc.errors()[0]['msg']}") from None
    return event


@dataclass
class ReportRun:
    """One invocation of the function: its headline (the result) and, where readable, the report itself."""

    function: str
    ok: bool
    headline: dict[str, Any]
    report: dict[str, Any] | None = None
    pricing_refusals: int = 0  # requests the embedded AWS could not route (it has no Pricing API)
    error: str | None = None


def invoke_report(name: str, event: dict[str, Any], *, embedded: EmbeddedAws | None = None) -> ReportRun:
    """Invoke the function and read the report.json it wrote (None where it cannot be read). On the embedded
    AWS, count the Pricing API requests it refused (moto has none: the bundled table answers)."""
    from opsctl.lambda_calls import invoke

    def refused() -> int:
        return embedded.unsupported.refused.get("pricing", 0) if embedded is not None else 0

    before = refused()
    with still_running(f"waiting for {name}"):
        result = invoke(name, event)
    run = ReportRun(name, result.ok, result.payload if isinstance(result.payload, dict) else {},
                    pricing_refusals=refused() - before)
    if not result.ok:
        payload = result.payload if isinstance(result.payload, dict) else {}
        run.error = f"{payload.get('errorType', 'error')}: {payload.get('errorMessage', result.payload)}"
        return run
    try:
        run.report = json.loads(read_s3(run.headline["reports"]["json"]))
    except Exception as exc:  # the headline stands on its own; the details are a bonus
        progress(f"could not read the report ({type(exc).__name__}: {exc}); printing the headline only")
    return run



def save_report(run: ReportRun, out: str) -> dict[str, Path]:
    """Copy the report's files into ``out`` (report.json, .md, .html) and write the headline."""
    paths = copy_reports(run.headline.get("reports", {}), REPORT_FILES, out)
    headline = write_json(out, "cost-report.json", run.headline)
    if headline:
        paths["headline"] = headline
    return paths


def _usd(amount: float) -> str:
    return f"${amount:,.2f}"


def summary_lines(run: ReportRun, *, local: bool) -> list[str]:
    """What the command prints: the headline, the top recommendations, anomalies, statuses, locations."""
    h, report = run.headline, run.report or {}
    lines = []
    if report:
        lines.append(f"Cost report: {report['period_start']} to {report['period_end']} (exclusive) from Cost "
                     f"Explorer; {report['lookback_days']} days of CloudWatch evidence")
    recs = h.get("recommendations", 0)
    lines += [
        f"  monthly cost          {_usd(h['monthly_cost_usd'])}",
        f"  potential saving      {_usd(h['potential_monthly_saving_usd'])}/month ({h['saving_pct']:.1f} %), "
        f"{recs} recommendation{'s' if recs != 1 else ''}",
        f"  ChurnGuard Ops itself {_usd(h['footprint_monthly_usd'])}/month",
    ]
    anomalies = report.get("anomalies", [])
    if anomalies:
        lines.append(f"  anomalies             {len(anomalies)}: " + "; ".join(
            f"{a['service']} on {a['day']} {_usd(a['usd'])} ({a['ratio_7d']:.2f}x its 7-day mean)"
            for a in anomalies[:3]))
    else:
        days = sorted({d["day"] for d in report.get("daily", [])})
        judged = f" in {len(days)} days of daily costs ({days[0]}..{days[-1]})" if days else ""
        short = "; a day is judged against the 7 before it" if days and len(days) < 8 else ""
        lines.append(f"  anomalies             {h.get('anomalies', 0)}{judged}{short}")
    cached = (" (answered from this period's cache)" if h["cost_explorer_cached"]
              else " (cached for later runs this period)")
    lines.append(f"  Cost Explorer         {h['cost_explorer_requests']} request(s), "
                 f"{_usd(h['cost_explorer_usd'])}{cached}")
    lines.append(f"  CloudWatch            {h['cloudwatch_metrics']} metrics in {h['cloudwatch_calls']} "
                 f"GetMetricData call(s) (500 per call)")
    prices = report.get("prices", [])
    bundled = [p for p in prices if p.get("source") == "bundled_table"]
    if prices:
        why = " (the embedded AWS has no Pricing API)" if local else ""
        as_of = max((p["as_of"] for p in bundled), default="")
        lines.append(f"  prices                {len(bundled)} of {len(prices)} from the bundled table"
                     f"{' of ' + as_of if as_of else ''}{why}")
    resources = report.get("resources", [])
    if resources:
        statuses = Counter(r["status"] for r in resources)
        lines.append(f"  resources             {len(resources)}: " + ", ".join(
            f"{statuses[s]} {s.replace('_', ' ')}" for s in STATUS_ORDER if statuses[s]))
        described = {r["resource_id"]: r["description"] for r in resources}
        top = report.get("top_recommendations", [])
        if top:
            lines.append("Top recommendations:")
            lines += [f"  {_usd(r['monthly_saving_usd']):>10}/month  {described.get(r['resource_id'], '')} "
                      f"{r['resource_id']}: {r['action']}" for r in top]
        unseen = [f"{described.get(r['resource_id'], '')} {r['resource_id']}".strip()
                  for r in resources if r["status"] == "insufficient_data"]
        if unseen:
            lines.append(f"No verdict (too little data): {', '.join(unseen)}")
    lines.append("Report:")
    lines += [f"  {kind:<9} {location}" for kind, location in h.get("reports", {}).items()]
    if h.get("link") and not local:
        lines.append(f"  link      {h['link']}")
    return lines


def run(args: argparse.Namespace) -> int:
    check_out_dir(args.out)
    event = report_event(args.lookback_days)
    env = local_target(args)
    if env is not None:
        env.with_postgres = env.seed = False  # the cost world is seeded below; no database is needed
    name = function_name(env, args, FUNCTION)
    with running(env):
        if env is not None:
            from opsctl.cost_world import seed_cost_world

            progress("seeding the local account for cost: 12 EC2 instances, 3 RDS instances, 20 EBS volumes, "
                     "CloudWatch metrics, Cost Explorer results")
            world = seed_cost_world(env.aws, metric=env.context.cost.cost_metric, region=env.region)
            progress(f"  {world.datapoints} datapoints in {world.put_metric_calls} PutMetricData call(s); Cost "
                     f"Explorer's month {world.period[0]}..{world.period[1]}: {_usd(world.monthly_total)}")
        progress(f"invoking {name} with {json.dumps(event)}")
        result = invoke_report(name, event, embedded=env.aws if env is not None else None)
        if not result.ok:
            print(f"{name}: FAILED: {result.error}")
            if env is not None:
                progress(f"function logs: {env.aws.lambdas.log_path(name)}")
            return 1
        for line in summary_lines(result, local=env is not None):
            print(line)
        if args.out:
            paths = save_report(result, args.out)
            for kind in ("json", "markdown", "headline"):
                if kind in paths:
                    print(f"wrote {paths[kind]}")
            if "html" in paths:
                print(f"HTML report: {paths['html'].resolve()}")
    return 0
