"""The analysis: one best action per resource (no double counting), statuses with reasons, the queries each
resource needs, and the report's totals, plan and footprint -- every figure computed by hand below."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pytest

from churnguard_ops.cost.analysis import analyze, build_report
from churnguard_ops.cost.model import (
    ApiUsage,
    CostData,
    EbsVolume,
    Ec2Instance,
    Inventory,
    RdsInstance,
    ResourceResult,
    ServiceCost,
)
from churnguard_ops.cost.plan import build_plan, plan_total
from churnguard_ops.cost.queries import DISK_PATH_TAG, evidence_by_resource, metric_queries
from churnguard_ops.cost.rules import RuleContext, build_rules
from tests.unit.cost_fakes import FakeMetricSource, FakePriceBook, cpu, ev

RULES = build_rules()
PRICES = FakePriceBook()


def one(resource: Ec2Instance | RdsInstance | EbsVolume, evidence: dict | None = None,
        prices: FakePriceBook = PRICES) -> ResourceResult:
    inventory = Inventory(ec2=[resource] if isinstance(resource, Ec2Instance) else [],
                          rds=[resource] if isinstance(resource, RdsInstance) else [],
                          ebs=[resource] if isinstance(resource, EbsVolume) else [])
    rid = inventory.ec2[0].instance_id if inventory.ec2 else (
        inventory.rds[0].db_instance_id if inventory.rds else inventory.ebs[0].volume_id)
    (result,) = analyze(inventory, {rid: evidence or {}}, prices, RULES, RuleContext(min_points=30))
    return result


def test_a_resource_saves_once_by_its_best_action() -> None:
    # m5.2xlarge at 10 % (p95 15 %): severe two sizes (0.384 - 0.096) x 730 = 210.24; underutilized and xlarge
    # one size 140.16 each; commitment 0.384 x 730 x 28 % = 78.49. Chosen: 210.24, not the sum 569.05.
    result = one(Ec2Instance(instance_id="i-big", instance_type="m5.2xlarge"), cpu(10.0, p95=15.0))
    assert result.status == "recommended" and result.chosen is not None
    assert result.chosen.rule == "ec2_severely_underutilized"
    assert result.chosen.monthly_saving_usd == pytest.approx(210.24)
    assert sorted(c.monthly_saving_usd for c in result.candidates) == pytest.approx([78.49, 140.16, 140.16, 210.24])
    assert result.monthly_cost_usd == pytest.approx(280.32)  # 0.384 x 730
    # an unattached gp2 500 GB: delete ($50) beats gp3 (500 x 0.08 + 125 MB/s x 0.04 = 45 -> saves $5)
    volume = one(EbsVolume(volume_id="vol-old", volume_type="gp2", size_gb=500, state="available"))
    assert volume.chosen is not None and volume.chosen.rule == "ebs_unattached"
    assert [c.monthly_saving_usd for c in volume.candidates] == pytest.approx([50.0, 5.0])


def test_statuses_say_why() -> None:
    low_data = one(Ec2Instance(instance_id="i-new", instance_type="m5.xlarge"), cpu(10.0, points=29))
    assert low_data.status == "insufficient_data" and "29 CPU points (fewer than 30)" in low_data.reason
    assert low_data.chosen is None
    spiky = one(Ec2Instance(instance_id="i-spiky", instance_type="m5.large"), cpu(10.0, p95=95.0))
    assert spiky.status == "vetoed" and "p95 CPU 95.0 % > 80 %" in spiky.reason
    # downsizes vetoed, the commitment still stands: 0.192 x 730 x 28 % = 39.24, and the veto is quoted
    committed = one(Ec2Instance(instance_id="i-steady", instance_type="m5.xlarge"), cpu(10.0, p95=95.0))
    assert committed.status == "recommended" and committed.chosen is not None
    assert committed.chosen.rule == "ec2_commitment" and "also:" in committed.reason
    stopped = one(Ec2Instance(instance_id="i-off", instance_type="m5.xlarge", state="stopped"))
    assert stopped.status == "no_action" and stopped.monthly_cost_usd == 0 and stopped.reason.startswith("stopped")
    noted = one(RdsInstance(db_instance_id="db", instance_class="db.t3.micro", backup_retention_days=14), cpu(50.0))
    assert noted.status == "note" and noted.notes[0].rule == "rds_backup_retention_note"
    busy = one(Ec2Instance(instance_id="i-busy", instance_type="t3.large"), cpu(70.0))
    assert busy.status == "no_action" and "CPU average 70.0 %" in busy.reason


def test_a_missing_price_is_no_verdict_not_a_crash() -> None:
    result = one(Ec2Instance(instance_id="i-1", instance_type="m5.xlarge"), cpu(30.0),
                 FakePriceBook(missing=["ec2:m5.large"]))
    # the downsize cannot be priced; the commitment can (39.24)
    assert result.chosen is not None and result.chosen.rule == "ec2_commitment"
    unpriced = one(Ec2Instance(instance_id="i-2", instance_type="z9.xlarge"), cpu(30.0))
    assert unpriced.status == "insufficient_data" and "no price for EC2 z9.xlarge" in unpriced.reason


def test_queries_per_resource_have_valid_unique_ids() -> None:
    inventory = Inventory(
        ec2=[Ec2Instance(instance_id="i-0abc", instance_type="m5.xlarge"),
             Ec2Instance(instance_id="i-0off", instance_type="m5.xlarge", state="stopped")],
        rds=[RdsInstance(db_instance_id="orders-db", instance_class="db.m5.large")],
        ebs=[EbsVolume(volume_id="vol-1", volume_type="gp3", size_gb=200, attached_to=["i-0abc"],
                       tags={DISK_PATH_TAG: "/data"}),
             EbsVolume(volume_id="vol-2", volume_type="gp2", size_gb=10, state="available")])
    queries = metric_queries(inventory)
    ids = [q.id for q in queries]
    assert len(ids) == len(set(ids)) and all(re.match(r"^[a-z][a-zA-Z0-9_]*$", i) for i in ids)
    by_resource = {(q.resource_id, q.metric): q for q in queries}
    assert sorted(m for r, m in by_resource if r == "i-0abc") == [
        "cpu", "cpu_p95", "memory", "network_in", "network_out"]
    assert by_resource[("i-0abc", "cpu_p95")].statistic == "p95"
    assert by_resource[("i-0abc", "memory")].namespace == "CWAgent"
    assert sorted(m for r, m in by_resource if r == "orders-db") == ["connections", "cpu", "cpu_p95", "freeable_memory"]
    assert by_resource[("vol-1", "read_ops")].statistic == "Sum"
    assert by_resource[("vol-1", "disk_used")].dimensions == {"InstanceId": "i-0abc", "path": "/data"}
    assert not {r for r, _ in by_resource} & {"i-0off", "vol-2"}
    source = FakeMetricSource({("i-0abc", "cpu"): ev("cpu", 12.0)})
    now = datetime(2026, 11, 30, tzinfo=timezone.utc)
    grouped = evidence_by_resource(queries, source.evidence(queries, now, now, 3600, ApiUsage()))
    assert grouped["i-0abc"]["cpu"].average == 12.0 and grouped["orders-db"]["cpu"].points == 0


def _fleet() -> list[ResourceResult]:
    inventory = Inventory(
        ec2=[Ec2Instance(instance_id="i-big", instance_type="m5.2xlarge"),      # severe, low: 210.24
             Ec2Instance(instance_id="i-steady", instance_type="m5.xlarge")],   # commitment, high: 39.24
        rds=[RdsInstance(db_instance_id="orders", instance_class="db.m5.xlarge",  # rds downsize, medium: 129.94
                         tags={"Environment": "production"})],                   # + Multi-AZ note (no saving)
        ebs=[EbsVolume(volume_id="vol-old", volume_type="gp2", size_gb=500, state="available")])  # low: 50.00
    evidence = {"i-big": cpu(10.0, p95=15.0), "i-steady": cpu(70.0), "orders": cpu(20.0)}
    return analyze(inventory, evidence, PRICES, RULES)


def test_the_plan_phases_add_up_to_the_chosen_savings() -> None:
    results = _fleet()
    plan = build_plan(results)
    assert [(p.number, p.recommendations) for p in plan] == [(1, ["i-big", "vol-old"]), (2, ["orders"]),
                                                             (3, ["i-steady"])]
    # phase 1: 210.24 + 50.00 = 260.24; phase 2: 129.94; phase 3: 39.24; total 429.42
    assert [p.monthly_saving_usd for p in plan] == pytest.approx([260.24, 129.94, 39.24])
    assert plan_total(plan) == pytest.approx(429.42)
    assert "1 production database(s) to review for Multi-AZ" in plan[1].description


def test_report_totals_categories_top_and_footprint() -> None:
    costs = CostData(
        period_start=date(2026, 11, 1), period_end=date(2026, 12, 1),
        by_service=[ServiceCost(service="Amazon Elastic Compute Cloud - Compute", monthly_usd=1000.0,
                                category="compute"),
                    ServiceCost(service="Amazon Relational Database Service", monthly_usd=500.0, category="database"),
                    ServiceCost(service="EC2 - Other", monthly_usd=200.0, category="storage"),
                    ServiceCost(service="AmazonCloudWatch", monthly_usd=50.0)],
        own_by_service=[ServiceCost(service="AWS Lambda", monthly_usd=1.25), ServiceCost(service="AWS Step Functions",
                                                                                          monthly_usd=0.5)],
        estimated=True)
    report = build_report(generated_at=datetime(2026, 12, 1, tzinfo=timezone.utc), lookback_days=14, costs=costs,
                          results=_fleet(), api_usage=ApiUsage(), top=2, notes=["caller's note"])
    t = report.totals
    # cost 1000 + 500 + 200 + 50 = 1750; saving 429.42 = 24.5 % (429.42 / 1750 = 0.24538)
    assert t.monthly_cost_usd == 1750.0 and t.potential_monthly_saving_usd == pytest.approx(429.42)
    assert t.saving_pct == 24.5
    assert t.by_category["compute"] == {"cost": 1000.0, "saving": pytest.approx(249.48)}  # 210.24 + 39.24
    assert t.by_category["database"] == {"cost": 500.0, "saving": pytest.approx(129.94)}
    assert t.by_category["storage"] == {"cost": 200.0, "saving": pytest.approx(50.0)}
    assert t.by_category["other"] == {"cost": 50.0, "saving": 0.0}
    assert [r.resource_id for r in report.top_recommendations] == ["i-big", "orders"]
    assert plan_total(report.plan) == pytest.approx(t.potential_monthly_saving_usd)
    assert report.footprint_monthly_usd == 1.75 and report.footprint[0].service == "AWS Lambda"
    assert report.prices and all(p.source == "bundled_table" for p in report.prices)
    assert report.notes[0] == "caller's note"
    assert any("bundled price table (as of 2024-06-01)" in n for n in report.notes)
    assert any("estimated" in n for n in report.notes)
    assert report.document()["totals"]["saving_pct"] == 24.5
