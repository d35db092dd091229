"""Daily anomalies per service: above k x both the 7-day and 28-day means of the preceding days, by at least
the minimum increase. Baselines below are computed by hand."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from churnguard_ops.cost.anomalies import AnomalyParams, detect_anomalies
from churnguard_ops.cost.model import DailyCost

START = date(2026, 10, 1)


def series(service: str, values: list[float], start: date = START) -> list[DailyCost]:
    return [DailyCost(day=start + timedelta(days=i), service=service, usd=v) for i, v in enumerate(values)]


def test_a_day_above_both_baselines_is_an_anomaly_and_the_threshold_is_strict() -> None:
    # 28 days at $100, then $160: b7 = b28 = 100; 160 > 1.5 x 100 = 150 and 160 - 100 = 60 >= 10
    (anomaly,) = detect_anomalies(series("EC2", [100.0] * 28 + [160.0]))
    assert anomaly.day == START + timedelta(days=28) and anomaly.usd == 160.0
    assert (anomaly.baseline_7d_usd, anomaly.baseline_28d_usd) == (100.0, 100.0)
    assert (anomaly.ratio_7d, anomaly.ratio_28d) == (1.6, 1.6)
    assert "1.6x its 7-day mean ($100.00)" in anomaly.reason and "28-day mean" in anomaly.reason
    # exactly 1.5 x is not above
    assert detect_anomalies(series("EC2", [100.0] * 28 + [150.0])) == []


def test_above_the_week_but_not_the_month_is_not_an_anomaly() -> None:
    # 21 days at $200, 7 at $50, then $100: b7 = 50 (100 > 75) but b28 = (21 x 200 + 7 x 50) / 28 = 162.5
    # (100 < 243.75): a return towards the usual level, not an anomaly
    assert detect_anomalies(series("RDS", [200.0] * 21 + [50.0] * 7 + [100.0])) == []


def test_small_increases_are_ignored() -> None:
    # $4/day then $9: 2.25x both baselines but only $5 above them (< $10)
    assert detect_anomalies(series("S3", [4.0] * 28 + [9.0])) == []
    (found,) = detect_anomalies(series("S3", [4.0] * 28 + [9.0]), AnomalyParams(min_increase_usd=5.0))
    assert found.ratio_7d == 2.25


def test_history_missing_days_and_fewer_than_28_days() -> None:
    # a spike on day 6 has only 6 days before it: not judged
    assert detect_anomalies(series("EC2", [10.0] * 6 + [500.0])) == []
    # 10 days of data: the "28-day" baseline is the mean of the 10 days before: (7 x $20 + 3 x $25) / 10 = 21.5;
    # b7 = (4 x 20 + 3 x 25) / 7 = 155 / 7 = 22.14; $100 > 1.5 x both and 100 - 22.14 >= 10. ($25 on day 7 is
    # not 1.5 x $20.)
    (found,) = detect_anomalies(series("EC2", [20.0] * 7 + [25.0] * 3 + [100.0]))
    assert found.baseline_28d_usd == 21.5 and found.baseline_7d_usd == pytest.approx(22.14)
    assert "10-day mean" in found.reason
    # days a service has no row cost $0: Lambda billed $30 every other day, b7 and b28 around 15, then $60
    sparse = [DailyCost(day=START + timedelta(days=i), service="Lambda", usd=30.0) for i in range(0, 28, 2)]
    sparse += series("Other", [1.0] * 29)  # keeps day 28 inside the data's range
    sparse.append(DailyCost(day=START + timedelta(days=28), service="Lambda", usd=60.0))
    (lam,) = [a for a in detect_anomalies(sparse) if a.service == "Lambda" and a.usd == 60.0]
    # days 21..27: $30 on 22, 24, 26 -> 90 / 7 = 12.86; days 0..27: 14 x 30 / 28 = 15
    assert (lam.baseline_7d_usd, lam.baseline_28d_usd) == (pytest.approx(12.86), 15.0)


def test_a_new_service_has_no_baseline_and_services_are_judged_apart() -> None:
    daily = series("EC2", [100.0] * 28 + [400.0]) + series("Bedrock", [0.0] * 28 + [300.0])
    daily += series("RDS", [50.0] * 29)
    assert [(a.service, a.usd) for a in detect_anomalies(daily)] == [("EC2", 400.0)]
    assert detect_anomalies([]) == []


def test_several_rows_of_one_service_and_day_are_summed() -> None:
    daily = series("EC2", [100.0] * 28) + [DailyCost(day=START + timedelta(days=28), service="EC2", usd=90.0),
                                           DailyCost(day=START + timedelta(days=28), service="EC2", usd=90.0)]
    (found,) = detect_anomalies(daily)
    assert found.usd == 180.0
