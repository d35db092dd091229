"""Demo steps of cost reports: a seeded account's report checked against figures computed by hand from the
seeded data (:mod:`opsctl.cost_world`), then a second run in the same period that Cost Explorer does not bill.

Prices are the bundled table's (moto has no Pricing API), a month is 730 hours. The arithmetic of each
check is in its text.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from opsctl.commands.cost import ReportRun, invoke_report, save_report
from opsctl.commands.demo_steps import Step
from opsctl.cost_world import CostWorld, seed_cost_world

#: Cost Explorer's month without the load test: EC2 compute $1,255.31 (web-1 m5.2xlarge 280.32, web-2 and
#: worker-2 m5.xlarge 2 x 140.16, web-3 m5.large 70.08, api-1 c5.xlarge 124.10, batch-1 c5.2xlarge 248.20,
#: api-2 t3.large 60.74, analytics-1 r5.xlarge 183.96, bastion t3.micro 7.59) + EC2 - Other $739.45 (gp2 3,705 GB
#: x 0.10 = 370.50, gp3 420 GB x 0.08 = 33.60, io1 500 GB x 0.125 = 62.50 + 3,000 IOPS x 0.065 = 195.00, NAT
#: gateway 32.85, transfer 45.00) + RDS $820.94 (259.88 + 52.56 + Multi-AZ 365.00 instance-hours, storage 69.00
#: + 46.00, backups 28.50) + seven other services $93.40.
MONTHLY_USD = 2909.10
LOAD_TEST_USD = 32.64  # 2 c5.4xlarge x $0.68 x 24 h, billed in the month when the anomaly day falls in it
#: EC2 550.43 (web-1 210.24, analytics-1 91.98, web-2 70.08, worker-2 70.08, batch-1 69.50, api-1 34.75, bastion
#: 3.80) + RDS 129.94 (orders-db) + EBS 162.88 (unattached 76.00, gp2 -> gp3 15.00 + 20.00 + 1.88, io1 50.00).
SAVING_USD = 843.25
RECOMMENDATIONS = 15
FOOTPRINT_USD = 7.68  # 3.10 + 1.84 + 1.00 + 0.75 + 0.62 + 0.35 + 0.02 under Project=churnguard-ops
#: 10 running instances x 5 series + 3 databases x 4 + 17 attached volumes x 2 + 1 mount path.
METRICS = 97


class _Run:
    """What the first step seeded and saw; the second compares with it."""

    world: CostWorld | None = None
    first: ReportRun | None = None


def _near(a: Any, b: float) -> bool:
    return isinstance(a, (int, float)) and abs(a - b) < 0.005


def _resources(run: ReportRun) -> dict[str, dict[str, Any]]:
    return {r["resource_id"]: r for r in (run.report or {}).get("resources", [])}


def _chosen(resource: dict[str, Any] | None) -> tuple[str | None, float | None]:
    chosen = (resource or {}).get("chosen") or {}
    return chosen.get("rule"), chosen.get("monthly_saving_usd")


def cost_report(env: Any, out: str | None) -> Step:
    step = Step("Cost report: a seeded account (12 EC2 instances, 3 RDS, 20 volumes, Cost Explorer's month) -> "
                "savings with their maths")
    world = seed_cost_world(env.aws, metric=env.context.cost.cost_metric, region=env.region)
    run = invoke_report(env.function_name("cost-report"), {"action": "report"}, embedded=env.aws)
    _Run.world, _Run.first = world, run
    step.expect("the report function ran and wrote its report", run.ok and run.report is not None,
                run.error or str(run.headline.get("reports", {}).get("html")))
    if not run.ok or run.report is None:
        return step
    h, report = run.headline, run.report
    in_period = world.anomaly_day is not None and world.period[0] <= world.anomaly_day < world.period[1]
    monthly = MONTHLY_USD + (LOAD_TEST_USD if in_period else 0.0)
    step.expect(f"Cost Explorer: 3 requests ($0.03); {world.period[0]:%B}'s bill ${monthly:,.2f} = compute "
                "$1,255.31 + EC2 - Other $739.45 + RDS $820.94 + other services $93.40"
                + (" + the load test $32.64" if in_period else ""),
                h["cost_explorer_requests"] == 3 and _near(h["cost_explorer_usd"], 0.03)
                and _near(h["monthly_cost_usd"], monthly) and _near(world.monthly_total, monthly),
                f"{h['cost_explorer_requests']} requests, ${h['monthly_cost_usd']:,.2f}")
    pct = round(100 * SAVING_USD / monthly, 1)
    step.expect(f"potential saving ${SAVING_USD:,.2f}/month ({pct} %) in {RECOMMENDATIONS} recommendations, one "
                "per resource", _near(h["potential_monthly_saving_usd"], SAVING_USD) and h["saving_pct"] == pct
                and h["recommendations"] == RECOMMENDATIONS,
                f"${h['potential_monthly_saving_usd']:,.2f} ({h['saving_pct']} %), {h['recommendations']}")
    by_id = _resources(run)

    def res(name: str) -> dict[str, Any] | None:
        return by_id.get(world.instances.get(name) or world.volumes.get(name) or name)

    web1 = res("web-1")
    step.expect("web-1 (m5.2xlarge, CPU 12 % average, p95 15 %): two sizes down to m5.large, (0.384 - 0.096) "
                "x 730 = $210.24", _chosen(web1) == ("ec2_severely_underutilized", 210.24)
                and "m5.large" in ((web1 or {}).get("chosen") or {}).get("action", ""), str(_chosen(web1)))
    batch = res("batch-1")
    step.expect("batch-1 (CPU 15 % average, p95 92 %): the p95 guard vetoes every downsize; a commitment "
                "0.34 x 730 x 28 % = $69.50 is its action", _chosen(batch) == ("ec2_commitment", 69.5)
                and "p95 CPU 92.0 % > 80 %" in (batch or {}).get("reason", ""),
                ((batch or {}).get("reason") or "")[:140])
    api2 = res("api-2")
    step.expect("api-2: memory 65 % would reach 130 % one size down: vetoed",
                (api2 or {}).get("status") == "vetoed" and "memory use 65.0 %" in (api2 or {}).get("reason", ""),
                ((api2 or {}).get("reason") or "")[:140])
    worker1 = res("worker-1")
    step.expect("worker-1 (launched 20 hours ago): no verdict, 20 CPU points < 30",
                (worker1 or {}).get("status") == "insufficient_data"
                and "20 CPU points" in (worker1 or {}).get("reason", ""), (worker1 or {}).get("status", "missing"))
    unattached = [_chosen(res(n)) for n in ("old-export", "pre-migration-copy", "orphan-dev-3")]
    step.expect("3 unattached volumes: snapshot and delete, $50.00 + $16.00 + $10.00 = $76.00",
                unattached == [("ebs_unattached", 50.0), ("ebs_unattached", 16.0), ("ebs_unattached", 10.0)],
                str(unattached))
    gp3 = [_chosen(res(n)) for n in ("web-1-data", "worker-2-data", "api-1-data")]
    scratch = res("batch-1-scratch")
    step.expect("gp2 -> gp3 at gp2's performance: 1000 GB $15.00, 2000 GB $20.00, 100 GB $1.88; 5 GB is not "
                "cheaper ($0.52 vs $0.50: a note)",
                gp3 == [("ebs_gp2_to_gp3", 15.0), ("ebs_gp2_to_gp3", 20.0), ("ebs_gp2_to_gp3", 1.88)]
                and (scratch or {}).get("status") == "note", f"{gp3}, 5 GB: {(scratch or {}).get('status')}")
    orders, reporting = res("orders-db"), res("reporting-db")
    notes = {n["rule"] for n in (orders or {}).get("notes", [])}
    step.expect("orders-db (CPU 18 %): db.m5.xlarge -> db.m5.large $129.94; notes: Multi-AZ would add $259.88, "
                "14-day backups", _chosen(orders) == ("rds_underutilized", 129.94)
                and notes == {"rds_multi_az_production", "rds_backup_retention_note"}, f"{_chosen(orders)} {notes}")
    step.expect("reporting-db: 800 MiB freeable memory (< 1024 MiB) vetoes its downsize",
                (reporting or {}).get("status") == "vetoed" and "800 MiB" in (reporting or {}).get("reason", ""),
                ((reporting or {}).get("reason") or "")[:140])
    anomalies = [(a["service"], a["day"]) for a in report.get("anomalies", [])]
    expected = [("Amazon Elastic Compute Cloud - Compute", str(world.anomaly_day))]
    step.expect(f"the load test's day ({world.anomaly_day}) found: EC2 compute $73.91 against $41.27 a day "
                "(1.79x both baselines)", anomalies == expected, str(anomalies))
    others = [r for r in by_id.values() if r["resource_id"] not in world.resource_ids()]
    metrics = METRICS + 4 * sum(1 for r in others if r["resource_kind"] == "rds")
    step.expect(f"CloudWatch: {metrics} series in ceil({metrics} / 500) = {math.ceil(metrics / 500)} GetMetricData "
                f"call(s) ({METRICS} seeded + 4 per other database); others add no saving",
                h["cloudwatch_metrics"] == metrics and h["cloudwatch_calls"] == math.ceil(metrics / 500)
                and all(r["chosen"] is None for r in others),
                f"{h['cloudwatch_metrics']} metrics, {h['cloudwatch_calls']} call(s), {len(others)} other resource(s)")
    step.expect(f"ChurnGuard Ops' own footprint ${FOOTPRINT_USD:.2f}/month (its Project tag)",
                _near(h["footprint_monthly_usd"], FOOTPRINT_USD), f"${h['footprint_monthly_usd']:.2f}")
    prices = report.get("prices", [])
    step.expect("every price from the bundled table (moto has no Pricing API), and the report says so",
                bool(prices) and all(p["source"] == "bundled_table" for p in prices)
                and any("bundled price table" in n for n in report.get("notes", [])),
                f"{len(prices)} prices; {run.pricing_refusals} Pricing API request(s) refused")
    folder = Path(out or Path(__file__).resolve().parents[2] / ".opsctl" / "demo") / "cost"
    paths = save_report(run, str(folder))
    html = paths.get("html")
    step.expect("the HTML report written", html is not None and "<html" in html.read_text()[:2000].lower(),
                str(html.resolve()) if html else "missing")
    if html:
        print(f"    HTML report: {html.resolve()}")
    return step


def cost_report_cached(env: Any, out: str | None) -> Step:
    step = Step("Cost report again in the same period: Cost Explorer answered from the cache ($0.00)")
    first = _Run.first
    run = invoke_report(env.function_name("cost-report"), {"action": "report"}, embedded=env.aws)
    h = run.headline
    step.expect("the report function ran", run.ok, run.error or "")
    step.expect("0 Cost Explorer requests, $0.00: this period's results came from the ops bucket",
                run.ok and h["cost_explorer_requests"] == 0 and h["cost_explorer_cached"]
                and h["cost_explorer_usd"] == 0, f"{h.get('cost_explorer_requests')} request(s)")
    same = first is not None and run.ok and all(
        _near(h[k], first.headline[k]) for k in ("monthly_cost_usd", "potential_monthly_saving_usd"))
    step.expect("the same month's cost and saving as the first run", same,
                f"${h.get('monthly_cost_usd', 0):,.2f}, ${h.get('potential_monthly_saving_usd', 0):,.2f}")
    return step


COST_SCENARIOS = [cost_report, cost_report_cached]
