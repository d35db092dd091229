"""The cost report on the embedded default: the deployed function run on the seeded account
(``opsctl.cost_world``), its figures equal to what the seeded data implies, worked out by hand below.

Prices are the bundled table's (moto has no Pricing API); a month is 730 hours; the CloudWatch series hold one
point per hour for the last 48 hours (``cost_world.HISTORY_HOURS``), each UTC hour twice.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

import pytest
import requests

from churnguard_ops.core import aws
from churnguard_ops.core.stores import S3Documents
from churnguard_ops.cost.anomalies import detect_anomalies
from churnguard_ops.cost.explorer import EC2_COMPUTE_SERVICE, CostExplorerSource
from churnguard_ops.cost.model import ApiUsage
from opsctl.commands.cost import ReportRun, invoke_report
from opsctl.cost_world import CostWorld, cost_bill, cost_explorer_results, seed_cost_world
from opsctl.environment import LocalEnvironment

pytestmark = pytest.mark.integration

FUNCTION = "churnguard-ops-cost-report"
LOAD_TEST_USD = 32.64  # 2 c5.4xlarge x $0.68/h x 24 h


# Runs first, before the module's embedded AWS starts: in-process moto (mock_aws) shares moto's process-global
# backends with it.
def test_the_seeded_daily_series_has_one_anomaly_when_a_week_precedes_it(moto_aws: None) -> None:
    """The same Cost Explorer results for a run on 3 November: requests for [1 Oct, 1 Nov) and the daily
    series of the 35 days before the run, [29 Sep, 3 Nov); the load test four days before its end, on 30 October
    (inside the billed month)."""
    now = datetime(2026, 11, 3, 9, 0, tzinfo=timezone.utc)
    world = cost_bill(now)
    assert world.daily_window == (date(2026, 9, 29), date(2026, 11, 3)) and world.anomaly_day == date(2026, 10, 30)
    response = requests.post("http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
                             json={"results": cost_explorer_results(world, "UnblendedCost")}, timeout=10)
    assert response.status_code == 201
    aws.client("s3", "us-east-1").create_bucket(Bucket="ops-bucket")
    data = CostExplorerSource(S3Documents("ops-bucket", "us-east-1")).costs(
        date(2026, 10, 1), date(2026, 11, 1), date(2026, 9, 29), ApiUsage(), daily_end=date(2026, 11, 3))
    # The month includes the load test: 2,909.098 + 32.64 = 2,941.738
    assert sum(s.monthly_usd for s in data.by_service) == pytest.approx(2941.738)
    # A flat day of EC2 compute: 1,255.308 x 24 / 730 = 41.27; the load test's day 41.27 + 32.64 = 73.91,
    # 1.79x both means (> 1.5x) and $32.64 above them (>= $10). Nothing else moves.
    (anomaly,) = detect_anomalies(data.daily)
    assert (anomaly.service, anomaly.day, anomaly.usd, anomaly.baseline_7d_usd, anomaly.baseline_28d_usd,
            anomaly.ratio_7d) == (EC2_COMPUTE_SERVICE, date(2026, 10, 30), 73.91, 41.27, 41.27, 1.79)
    assert json.loads(json.dumps(world.footprint)) == {s.service: s.monthly_usd for s in data.own_by_service}


class Seeded:
    def __init__(self, world: CostWorld, first: ReportRun, second: ReportRun) -> None:
        self.world, self.first, self.second = world, first, second
        assert first.report is not None, first.error
        self.report: dict[str, Any] = first.report
        self.by_id = {r["resource_id"]: r for r in self.report["resources"]}

    def resource(self, name: str) -> dict[str, Any]:
        return self.by_id[self.world.instances.get(name) or self.world.volumes.get(name) or name]


@pytest.fixture(scope="module")
def seeded() -> Any:
    with LocalEnvironment(with_postgres=False, seed=False) as env:
        world = seed_cost_world(env.aws, metric=env.context.cost.cost_metric, region=env.region)
        first = invoke_report(FUNCTION, {"action": "report"}, embedded=env.aws)
        second = invoke_report(FUNCTION, {"action": "report"}, embedded=env.aws)
        yield Seeded(world, first, second)


def _load_test_in_month(world: CostWorld) -> bool:
    return world.anomaly_day is not None and world.period[0] <= world.anomaly_day < world.period[1]


def test_the_bill_is_the_seeded_resources_at_list_prices(seeded: Seeded) -> None:
    h = seeded.first.headline
    # EC2 compute, 730 h each, running last month (worker-1 is new, dev-1/dev-2 stopped):
    #   m5.2xlarge 0.384 + 2 x m5.xlarge 0.192 + m5.large 0.096 + c5.xlarge 0.17 + c5.2xlarge 0.34 + t3.large 0.0832
    #   + r5.xlarge 0.252 + t3.micro 0.0104 = 1.7196 $/h x 730 = 1,255.308
    # EC2 - Other: gp2 (1000 + 2000 + 100 + 5 + 500 + 100) GB x 0.10 = 370.50; gp3 (11 roots x 20 + 200) GB x 0.08
    #   = 33.60; io1 500 GB x 0.125 = 62.50 + 3,000 IOPS x 0.065 = 195.00; NAT 0.045 x 730 = 32.85; 500 GB out x 0.09
    #   = 45.00 -> 739.45
    # RDS: 0.356 x 730 = 259.88 + 0.072 x 730 = 52.56 + 0.25 x 2 x 730 = 365.00; storage 600 GB x 0.115 = 69.00 +
    #   200 GB x 0.23 = 46.00; backups 300 GB x 0.095 = 28.50 -> 820.94
    # others: 46.00 + 24.00 + 12.40 + 6.25 + 4.00 + 0.40 + 0.35 = 93.40
    # total 1,255.308 + 739.45 + 820.94 + 93.40 = 2,909.098 -> $2,909.10 (+ 32.64 when the load test is in the month)
    monthly = 2909.10 + (LOAD_TEST_USD if _load_test_in_month(seeded.world) else 0.0)
    assert h["monthly_cost_usd"] == pytest.approx(monthly, abs=0.005)
    services = {s["service"]: s["monthly_usd"] for s in seeded.report["services"]}
    assert services[EC2_COMPUTE_SERVICE] == pytest.approx(1255.308 + monthly - 2909.10, abs=0.001)
    assert services["EC2 - Other"] == pytest.approx(739.45)
    assert services["Amazon Relational Database Service"] == pytest.approx(820.94)
    # Our own tag: 3.10 + 1.84 + 1.00 + 0.75 + 0.62 + 0.35 + 0.02 = 7.68
    assert h["footprint_monthly_usd"] == pytest.approx(7.68)
    # Three GetCostAndUsage requests, one page each, $0.01 apiece.
    assert (h["cost_explorer_requests"], h["cost_explorer_usd"], h["cost_explorer_cached"]) == (3, 0.03, False)


def test_the_saving_is_one_best_action_per_resource(seeded: Seeded) -> None:
    h = seeded.first.headline
    # EC2: web-1 210.24 + analytics-1 91.98 + web-2 70.08 + worker-2 70.08 + batch-1 69.50 + api-1 34.75
    #   + bastion 3.80 = 550.43; RDS: orders-db 129.94; EBS: unattached 50 + 16 + 10, gp2 -> gp3 15 + 20 + 1.88,
    #   io1 shrink 50 = 162.88. Total 843.25 in 15 recommendations; 843.25 / 2,909.098 = 29.0 %.
    assert h["potential_monthly_saving_usd"] == pytest.approx(843.25)
    assert h["recommendations"] == 15
    monthly = 2909.098 + (LOAD_TEST_USD if _load_test_in_month(seeded.world) else 0.0)
    assert h["saving_pct"] == round(100 * 843.25 / monthly, 1)
    # The plan: quick wins (low effort) 210.24 + 91.98 + 3.80 + 76.00 + 36.88 = 418.90; rightsizing (medium)
    # 129.94 + 70.08 + 70.08 + 50.00 = 320.10; commitments (high) 69.50 + 34.75 = 104.25.
    assert [p["monthly_saving_usd"] for p in seeded.report["plan"]] == [418.90, 320.10, 104.25]


# name -> (status, chosen rule, saving): each worked out from the seeded profile and the bundled prices.
EXPECTED = {
    # CPU 11 % x 18 h + 15 % x 6 h: average 12 %, p95 15 %; 15 x 4 = 60 <= 80 allows two sizes down;
    # memory p95 18 % x 4 = 72 <= 80. (0.384 - 0.096) x 730 = 210.24
    "web-1": ("recommended", "ec2_severely_underutilized", 210.24),
    # 25 % x 18 h + 45 % x 6 h = 30 % average (< 40): one size down, (0.192 - 0.096) x 730 = 70.08 (the xlarge
    # rule saves the same; the first listed wins); a commitment would save 0.192 x 730 x 28 % = 39.24
    "web-2": ("recommended", "ec2_underutilized", 70.08),
    "web-3": ("no_action", None, None),  # 35 % < 40 % but m5.large is the smallest m5
    # 65 % average: no downsize; 0.17 x 730 = 124.10 > 100: commitment 124.10 x 28 % = 34.748
    "api-1": ("recommended", "ec2_commitment", 34.75),
    # 25 % average, memory p95 65 % x 2 = 130 > 80: vetoed; t3.large 60.74 <= 100: no commitment
    "api-2": ("vetoed", None, None),
    # 8 % x 22 h + 92 % x 2 h = 15 % average but p95 92 % > 80: every downsize vetoed;
    # commitment 0.34 x 730 x 28 % = 69.496
    "batch-1": ("recommended", "ec2_commitment", 69.50),
    "worker-1": ("insufficient_data", None, None),  # 20 hourly points < 30
    # 40/60 % -> 50 % average: only the xlarge rule (< 60 %), (0.192 - 0.096) x 730 = 70.08
    "worker-2": ("recommended", "ec2_xlarge_rightsize", 70.08),
    # 6/10 % -> 8 %: r5 has no size below large, so one step: (0.252 - 0.126) x 730 = 91.98; the severe rule
    # ties with two medium-effort ones and wins on its low effort
    "analytics-1": ("recommended", "ec2_severely_underutilized", 91.98),
    "bastion": ("recommended", "ec2_severely_underutilized", 3.80),  # t3.micro -> t3.nano: 0.0052 x 730 = 3.796
    "dev-1": ("no_action", None, None),  # stopped
    "dev-2": ("no_action", None, None),
    # 14/22 % -> 18 % (< 30): (0.356 - 0.178) x 730 = 129.94 (the xlarge rule ties; listed second)
    "orders-db": ("recommended", "rds_underutilized", 129.94),
    "reporting-db": ("vetoed", None, None),  # 800 MiB freeable < 1024 MiB
    "sessions-db": ("no_action", None, None),  # 45 % average, a large: no rule applies
    # gp2 1000 GB: 3,000 IOPS, 250 MB/s -> gp3 80.00 + (250 - 125) x 0.04 = 85.00 vs 100.00
    "web-1-data": ("recommended", "ebs_gp2_to_gp3", 15.00),
    # gp2 2000 GB: 6,000 IOPS, 250 MB/s -> gp3 160.00 + 3,000 x 0.005 + 5.00 = 180.00 vs 200.00
    "worker-2-data": ("recommended", "ebs_gp2_to_gp3", 20.00),
    # gp2 100 GB: 300 IOPS, 128 MB/s -> gp3 8.00 + 3 x 0.04 = 8.12 vs 10.00
    "api-1-data": ("recommended", "ebs_gp2_to_gp3", 1.88),
    "batch-1-scratch": ("note", None, None),  # 5 GB: gp3 0.40 + 0.12 = 0.52 > 0.50
    # disk use at most 14 %: ceil(500 x 14 / 70) = 100 GB; (500 - 100) x 0.125 = 50.00 (IOPS unchanged)
    "analytics-1-data": ("recommended", "ebs_oversized", 50.00),
    "old-export": ("recommended", "ebs_unattached", 50.00),  # 500 GB x 0.10 (beats gp3's 5.00)
    "pre-migration-copy": ("recommended", "ebs_unattached", 16.00),  # 200 GB x 0.08
    "orphan-dev-3": ("recommended", "ebs_unattached", 10.00),  # 100 GB x 0.10 (beats gp3's 1.88)
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_resource_gets_the_verdict_its_data_implies(seeded: Seeded, name: str) -> None:
    status, rule, saving = EXPECTED[name]
    resource = seeded.resource(name)
    chosen = resource["chosen"] or {}
    assert (resource["status"], chosen.get("rule"), chosen.get("monthly_saving_usd")) == (status, rule, saving), \
        resource["reason"]


def test_the_reasons_name_the_guard_that_stopped_a_downsize(seeded: Seeded) -> None:
    assert "p95 CPU 92.0 % > 80 %" in seeded.resource("batch-1")["reason"]
    assert "memory use 65.0 % would reach 130.0 % (> 80 %)" in seeded.resource("api-2")["reason"]
    assert "freeable memory averages 800 MiB (< 1024 MiB)" in seeded.resource("reporting-db")["reason"]
    assert "20 CPU points (fewer than 30)" in seeded.resource("worker-1")["reason"]
    notes = {n["rule"] for n in seeded.resource("orders-db")["notes"]}
    assert notes == {"rds_multi_az_production", "rds_backup_retention_note"}
    # (0.712 - 0.356) x 730 = 259.88 added by Multi-AZ, quoted, never saved
    multi_az = next(n for n in seeded.resource("orders-db")["notes"] if n["rule"] == "rds_multi_az_production")
    assert "$259.88" in multi_az["action"] and multi_az["monthly_saving_usd"] == 0


def test_the_evidence_is_the_seeded_distribution_with_percentiles_from_the_embedded_aws(seeded: Seeded) -> None:
    cpu = {e["metric"]: e for e in seeded.resource("web-1")["evidence"]}
    # 48 hourly points: 36 at 11 %, 12 at 15 %; nearest-rank p95 = value 46 of 48 sorted = 15
    assert (cpu["cpu"]["points"], cpu["cpu"]["average"], cpu["cpu"]["p95"]) == (48, 12.0, 15.0)
    # the per-hour p95 series (Stat p95, computed by the embedded AWS's percentile middleware): one sample per hour
    assert (cpu["cpu_p95"]["statistic"], cpu["cpu_p95"]["points"], cpu["cpu_p95"]["p95"]) == ("p95", 48, 15.0)
    batch = {e["metric"]: e for e in seeded.resource("batch-1")["evidence"]}
    # 44 points at 8 %, 4 at 92 %: average (44 x 8 + 4 x 92) / 48 = 15; value 46 of 48 sorted = 92
    assert (batch["cpu"]["average"], batch["cpu"]["p95"], batch["cpu_p95"]["maximum"]) == (15.0, 92.0, 92.0)


def test_cloudwatch_reads_every_series_in_one_batched_call(seeded: Seeded) -> None:
    # 10 running instances x 5 + 3 databases x 4 + 17 attached volumes x 2 + 1 mount path = 97; ceil(97 / 500) = 1
    h = seeded.first.headline
    assert (h["cloudwatch_metrics"], h["cloudwatch_calls"]) == (97, 1)
    assert seeded.report["api_usage"]["calls"] == {"ec2:DescribeInstances": 1, "ec2:DescribeVolumes": 1,
                                                    "rds:DescribeDBInstances": 1}


def test_a_second_run_in_the_same_period_asks_cost_explorer_nothing(seeded: Seeded) -> None:
    again = seeded.second.headline
    assert (again["cost_explorer_requests"], again["cost_explorer_usd"], again["cost_explorer_cached"]) == (0, 0.0,
                                                                                                           True)
    assert again["monthly_cost_usd"] == seeded.first.headline["monthly_cost_usd"]
    assert again["potential_monthly_saving_usd"] == seeded.first.headline["potential_monthly_saving_usd"]


def test_prices_come_from_the_bundled_table_and_the_report_says_so(seeded: Seeded) -> None:
    prices = seeded.report["prices"]
    assert prices and {p["source"] for p in prices} == {"bundled_table"}
    assert any(n.startswith(f"{len(prices)} of {len(prices)} prices come from the bundled price table")
               for n in seeded.report["notes"])
    assert seeded.first.pricing_refusals > 0  # the embedded AWS was asked first and could not answer


def test_the_anomaly_day_four_days_ago_is_found(seeded: Seeded) -> None:
    world, anomalies = seeded.world, seeded.report["anomalies"]
    assert (world.daily_window[1] - world.daily_window[0]).days == 35 and world.anomaly_day is not None
    assert [(a["service"], a["day"]) for a in anomalies] == [(EC2_COMPUTE_SERVICE, world.anomaly_day.isoformat())]
