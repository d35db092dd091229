"""Cost rules one by one: thresholds at their edges, guards, and savings computed by hand (730 h/month).

Prices (tests/unit/cost_fakes.py): m5.large $0.096/h, m5.xlarge $0.192, m5.2xlarge $0.384; db.m5.large
$0.178 (Multi-AZ x2), db.m5.xlarge $0.356, db.r5.large $0.25, db.r5.xlarge $0.50; gp2 $0.10/GB-month,
gp3 $0.08/GB-month + $0.005/IOPS-month above 3000 + $0.04/MBps-month above 125.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from churnguard_ops.core.registry import PluginSpecError
from churnguard_ops.cost.model import EbsVolume, Ec2Instance, Evidence, RdsInstance
from churnguard_ops.cost.rules import COST_RULES, DEFAULT_RULES, MissingPrice, Outcome, RuleContext, build_rules
from churnguard_ops.cost.sizes import is_at_least, next_size_down, sizes_down
from tests.unit.cost_fakes import FakePriceBook, cpu, ev

PRICES = FakePriceBook()


def run(rule: str, resource: Any, evidence: Mapping[str, Evidence] | None = None, prices: FakePriceBook = PRICES,
        **params: Any) -> Outcome | None:
    return COST_RULES.lookup(rule)(params).evaluate(resource, evidence or {}, prices, RuleContext(min_points=30))


def saving(outcome: Outcome | None) -> float:
    assert outcome is not None and outcome.status == "recommended", outcome
    assert outcome.recommendation is not None
    return outcome.recommendation.monthly_saving_usd


def ec2(instance_type: str = "m5.xlarge", state: str = "running") -> Ec2Instance:
    return Ec2Instance(instance_id="i-1", instance_type=instance_type, state=state)


def rds(instance_class: str = "db.m5.xlarge", **kw: Any) -> RdsInstance:
    return RdsInstance(db_instance_id="orders", instance_class=instance_class, **kw)


def vol(size: int, volume_type: str = "gp2", state: str = "in-use", **kw: Any) -> EbsVolume:
    attached = ["i-1"] if state == "in-use" else []
    return EbsVolume(volume_id="vol-1", volume_type=volume_type, size_gb=size, state=state, attached_to=attached, **kw)


# --- sizes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "expected"), [
    ("m5.xlarge", "m5.large"), ("m5.large", None), ("m5.24xlarge", "m5.16xlarge"), ("c5.9xlarge", "c5.4xlarge"),
    ("t3.micro", "t3.nano"), ("t3.nano", None), ("db.m5.xlarge", "db.m5.large"), ("db.t3.small", "db.t3.micro"),
    ("m6g.large", "m6g.medium"), ("m5.metal", None), ("x9z.xlarge", "x9z.large"), ("x9z.9xlarge", None), ("m5", None),
])
def test_next_size_down_follows_the_family_ladder(given: str, expected: str | None) -> None:
    assert next_size_down(given) == expected


def test_sizes_down_and_xlarge_or_larger() -> None:
    assert sizes_down("m5.2xlarge", 2) == "m5.large" and sizes_down("m5.xlarge", 2) is None
    assert is_at_least("m5.xlarge", "xlarge") and is_at_least("c5.9xlarge", "xlarge")
    assert not is_at_least("m5.large", "xlarge") and not is_at_least("m5.metal", "xlarge")


# --- EC2 downsizes -------------------------------------------------------------------------------

@pytest.mark.parametrize(("rule", "size", "below", "at"), [
    ("ec2_severely_underutilized", "m5.xlarge", 19.9, 20.0),
    ("ec2_underutilized", "m5.xlarge", 39.9, 40.0),
    ("ec2_xlarge_rightsize", "m5.xlarge", 59.9, 60.0),
])
def test_cpu_threshold_is_strict(rule: str, size: str, below: float, at: float) -> None:
    # m5.xlarge -> m5.large: (0.192 - 0.096) $/h x 730 h = $70.08 (severe: m5 has no medium, so one step)
    assert saving(run(rule, ec2(size), cpu(below))) == pytest.approx(70.08)
    assert run(rule, ec2(size), cpu(at)) is None


def test_severely_underutilized_goes_two_sizes_when_the_p95_fits_else_one() -> None:
    # p95 15 % x 4 = 60 % <= 80 %: m5.2xlarge -> m5.large, (0.384 - 0.096) x 730 = $210.24
    two = run("ec2_severely_underutilized", ec2("m5.2xlarge"), cpu(10.0, p95=15.0))
    assert saving(two) == pytest.approx(210.24)
    assert two is not None and two.recommendation is not None and "Spot" in two.recommendation.action
    # p95 25 % x 4 = 100 % > 80 %: one step, m5.xlarge, (0.384 - 0.192) x 730 = $140.16
    assert saving(run("ec2_severely_underutilized", ec2("m5.2xlarge"), cpu(10.0, p95=25.0))) == pytest.approx(140.16)
    # no p95 figure at all: one step only
    assert saving(run("ec2_severely_underutilized", ec2("m5.2xlarge"), cpu(10.0))) == pytest.approx(140.16)


def test_xlarge_rule_ignores_smaller_sizes_and_takes_larger_ones() -> None:
    assert run("ec2_xlarge_rightsize", ec2("m5.large"), cpu(10.0)) is None
    assert saving(run("ec2_xlarge_rightsize", ec2("m5.2xlarge"), cpu(59.9))) == pytest.approx(140.16)


def test_30_points_give_a_verdict_and_29_do_not() -> None:
    assert saving(run("ec2_underutilized", ec2(), cpu(10.0, points=30))) == pytest.approx(70.08)
    outcome = run("ec2_underutilized", ec2(), cpu(10.0, points=29))
    assert outcome is not None and outcome.status == "insufficient_data" and "29 CPU points" in outcome.reason
    assert run("ec2_underutilized", ec2(), {}).status == "insufficient_data"  # type: ignore[union-attr]


def test_p95_guard_vetoes_a_low_average_above_the_ceiling() -> None:
    assert saving(run("ec2_underutilized", ec2(), cpu(10.0, p95=80.0))) == pytest.approx(70.08)  # 80.0 is not above
    vetoed = run("ec2_underutilized", ec2(), cpu(10.0, p95=80.1))
    assert vetoed is not None and vetoed.status == "vetoed" and "p95 CPU 80.1 % > 80 %" in vetoed.reason
    # the hourly-p95 series counts too (its window p95)
    hourly = {**cpu(10.0, p95=30.0), "cpu_p95": ev("cpu_p95", 60.0, p95=85.0, statistic="p95")}
    assert run("ec2_underutilized", ec2(), hourly).status == "vetoed"  # type: ignore[union-attr]
    assert run("ec2_underutilized", ec2(), cpu(10.0, p95=90.0), p95_ceiling_pct=95).status == "recommended"  # type: ignore[union-attr]


def test_memory_projected_per_step_vetoes() -> None:
    # one size down doubles memory use: 40.0 % -> 80.0 % (allowed), 40.1 % -> 80.2 % > 80 % (vetoed)
    ok = {**cpu(30.0), "memory": ev("memory", 35.0, p95=40.0)}
    assert saving(run("ec2_underutilized", ec2(), ok)) == pytest.approx(70.08)
    tight = {**cpu(30.0), "memory": ev("memory", 35.0, p95=40.1)}
    assert run("ec2_underutilized", ec2(), tight).status == "vetoed"  # type: ignore[union-attr]
    # severe on m5.2xlarge: memory 25 % x 4 = 100 % vetoes two steps, 25 x 2 = 50 % allows one: $140.16
    two_steps_too_tight = {**cpu(10.0, p95=15.0), "memory": ev("memory", 25.0)}
    assert saving(run("ec2_severely_underutilized", ec2("m5.2xlarge"), two_steps_too_tight)) == pytest.approx(140.16)


def test_network_above_the_ceiling_vetoes() -> None:
    # 120e9 bytes/h x 8 / 3600 s / 1e6 = 266.7 Mbit/s > 250; 100e9 -> 222.2 Mbit/s
    busy = {**cpu(30.0), "network_out": ev("network_out", 50e9, p95=120e9, statistic="Sum")}
    outcome = run("ec2_underutilized", ec2(), busy)
    assert outcome is not None and outcome.status == "vetoed" and "network out 266.7 Mbit/s" in outcome.reason
    calm = {**cpu(30.0), "network_in": ev("network_in", 50e9, p95=100e9, statistic="Sum")}
    assert saving(run("ec2_underutilized", ec2(), calm)) == pytest.approx(70.08)


def test_smallest_size_stopped_instances_and_missing_prices() -> None:
    smallest = run("ec2_underutilized", ec2("m5.large"), cpu(10.0))
    assert smallest is not None and smallest.status == "no_action" and "smallest m5 size" in smallest.reason
    assert run("ec2_underutilized", ec2(state="stopped"), cpu(10.0)) is None
    with pytest.raises(MissingPrice, match="m5.large"):
        run("ec2_underutilized", ec2(), cpu(10.0), prices=FakePriceBook(missing=["ec2:m5.large"]))


def test_commitment_above_100_dollars_at_28_percent() -> None:
    # m5.xlarge: 0.192 x 730 = $140.16 > $100; x 28 % = $39.2448 -> $39.24
    outcome = run("ec2_commitment", ec2(), cpu(50.0))
    assert saving(outcome) == pytest.approx(39.24)
    assert outcome is not None and outcome.recommendation is not None and outcome.recommendation.effort == "high"
    maths = outcome.recommendation.maths
    assert maths is not None and maths.proposed[0].usd == pytest.approx(0.13824)  # 0.192 x (1 - 0.28)
    # exactly $100.00 a month is not above $100; $100.01 is
    book = FakePriceBook(ec2={"x9.large": 100 / 730, "x9.xlarge": 100.01 / 730})
    assert run("ec2_commitment", ec2("x9.large"), cpu(50.0), prices=book) is None
    # $100.01 x 28 % = $28.0028 -> $28.00
    assert saving(run("ec2_commitment", ec2("x9.xlarge"), cpu(50.0), prices=book)) == pytest.approx(28.0)
    assert run("ec2_commitment", ec2(), cpu(50.0, points=29)).status == "insufficient_data"  # type: ignore[union-attr]


# --- RDS -----------------------------------------------------------------------------------------

def test_rds_downsizes() -> None:
    # db.m5.xlarge -> db.m5.large: (0.356 - 0.178) x 730 = $129.94; Multi-AZ doubles both: $259.88
    assert saving(run("rds_underutilized", rds(), cpu(29.9))) == pytest.approx(129.94)
    assert run("rds_underutilized", rds(), cpu(30.0)) is None
    assert saving(run("rds_underutilized", rds(multi_az=True), cpu(10.0))) == pytest.approx(259.88)
    # db.r5.xlarge -> db.r5.large: (0.50 - 0.25) x 730 = $182.50; 50.0 % does not qualify; large is not xlarge
    assert saving(run("rds_xlarge_rightsize", rds("db.r5.xlarge"), cpu(49.9))) == pytest.approx(182.5)
    assert run("rds_xlarge_rightsize", rds("db.r5.xlarge"), cpu(50.0)) is None
    assert run("rds_xlarge_rightsize", rds("db.r5.large"), cpu(10.0)) is None
    # 900 MiB freeable < 1024 MiB: vetoed
    tight = {**cpu(10.0), "freeable_memory": ev("freeable_memory", 900 * 2 ** 20)}
    assert run("rds_underutilized", rds(), tight).status == "vetoed"  # type: ignore[union-attr]


def test_multi_az_in_production_is_a_note_with_its_added_cost() -> None:
    # db.m5.large Single-AZ 0.178 x 730 = $129.94 > $50; Multi-AZ adds (0.356 - 0.178) x 730 = $129.94
    prod = rds("db.m5.large", tags={"Environment": "Prod"})
    outcome = run("rds_multi_az_production", prod)
    assert outcome is not None and outcome.status == "note" and outcome.recommendation is not None
    assert outcome.recommendation.monthly_saving_usd == 0 and "adds $129.94/month" in outcome.recommendation.action
    assert run("rds_multi_az_production", rds("db.m5.large", tags={"Environment": "staging"})) is None
    assert run("rds_multi_az_production", rds("db.m5.large", multi_az=True, tags={"Environment": "prod"})) is None
    assert run("rds_multi_az_production", prod, monthly_cost_above_usd=129.94) is None  # not strictly above
    assert run("rds_multi_az_production", prod, monthly_cost_above_usd=129.93) is not None


def test_backup_retention_above_7_days_is_a_note() -> None:
    note = run("rds_backup_retention_note", rds(backup_retention_days=8))
    assert note is not None and note.status == "note" and note.recommendation is not None
    assert note.recommendation.monthly_saving_usd == 0 and note.recommendation.maths is None
    assert run("rds_backup_retention_note", rds(backup_retention_days=7)) is None


# --- EBS -----------------------------------------------------------------------------------------

def test_unattached_volume_saves_its_whole_cost() -> None:
    assert saving(run("ebs_unattached", vol(500, state="available"))) == pytest.approx(50.0)  # 500 x 0.10
    # gp3 1000 GB, 6000 IOPS, 250 MB/s: 80 + 3000 x 0.005 + 125 x 0.04 = 80 + 15 + 5 = $100
    gp3 = vol(1000, "gp3", state="available", iops=6000, throughput_mbps=250)
    assert saving(run("ebs_unattached", gp3)) == pytest.approx(100.0)
    assert run("ebs_unattached", vol(500)) is None


@pytest.mark.parametrize(("size", "expected"), [
    (1000, 15.0),   # 3000 IOPS: none extra; 250 MB/s: +125 -> 80 + 5 = 85 vs 100
    (2000, 20.0),   # 6000 IOPS: +3000 = $15; +125 MB/s = $5 -> 160 + 20 = 180 vs 200
    (6000, 50.0),   # 18000 capped at 16000: +13000 = $65; +$5 -> 480 + 70 = 550 vs 600
    (100, 1.88),    # 300 IOPS < 3000 included; 128 MB/s: +3 = $0.12 -> 8.12 vs 10.00
])
def test_gp2_to_gp3_at_matching_performance(size: int, expected: float) -> None:
    assert saving(run("ebs_gp2_to_gp3", vol(size))) == pytest.approx(expected)


def test_gp2_to_gp3_not_cheaper_is_a_note_that_says_so() -> None:
    # 5 GB: gp2 $0.50; gp3 5 x 0.08 + 3 MB/s x 0.04 = 0.40 + 0.12 = $0.52
    outcome = run("ebs_gp2_to_gp3", vol(5))
    assert outcome is not None and outcome.status == "note" and outcome.recommendation is not None
    assert "not cheaper ($0.52 vs $0.50)" in outcome.recommendation.action
    assert run("ebs_gp2_to_gp3", vol(100, "gp3")) is None


def test_oversized_volume_needs_disk_usage() -> None:
    # 1000 GB gp3 at most 20 % used: ceil(1000 x 20 / 70) = 286 GB; (1000 - 286) x 0.08 = $57.12
    used = {"disk_used": ev("disk_used", 15.0, maximum=20.0)}
    assert saving(run("ebs_oversized", vol(1000, "gp3"), used)) == pytest.approx(57.12)
    assert run("ebs_oversized", vol(1000, "gp3"), {"disk_used": ev("disk_used", 25.0, maximum=30.0)}) is None
    assert run("ebs_oversized", vol(1000, "gp3")).status == "insufficient_data"  # type: ignore[union-attr]
    assert run("ebs_oversized", vol(50, "gp3"), used) is None


def test_registry_defaults_params_and_permissions() -> None:
    assert sorted(DEFAULT_RULES) == sorted(COST_RULES) and len(build_rules()) == 11
    for info in COST_RULES.describe():
        assert "Example::" in info.doc and info.permissions, info.name
    (rule,) = build_rules([{"rule": "ec2_underutilized", "params": {"cpu_below_pct": 35}}])
    assert run("ec2_underutilized", ec2(), cpu(36.0), cpu_below_pct=35) is None and rule.name == "ec2_underutilized"
    with pytest.raises(PluginSpecError, match="cpu_below_pc"):
        build_rules([{"rule": "ec2_underutilized", "params": {"cpu_below_pc": 35}}])
