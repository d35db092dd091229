"""The cost report use case on fakes: what it asks for, what it writes, and what the summary says."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from churnguard_ops.core.fakes import RecordingNotifier
from churnguard_ops.cost.model import CostData, EbsVolume, Ec2Instance, Inventory, ServiceCost
from churnguard_ops.cost.rules import build_rules
from churnguard_ops.cost.service import CostReporter, last_complete_month

from .cost_fakes import FakeCostSource, FakeInventorySource, FakeMetricSource, FakePriceBook, ev

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)


class MemoryReportStore:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[str, str]] = {}

    def put(self, key: str, body: str, content_type: str) -> str:
        self.objects[key] = (body, content_type)
        return f"s3://ops/{key}"

    def link(self, key: str, expires_seconds: int) -> str:
        return f"https://ops.s3.example/{key}?expires={expires_seconds}"


def _reporter(**overrides: object) -> tuple[CostReporter, FakeCostSource, FakeMetricSource, MemoryReportStore,
                                             RecordingNotifier]:
    inventory = Inventory(ec2=[Ec2Instance(instance_id="i-web1", instance_type="m5.xlarge", tags={"Name": "web-1"})],
                          ebs=[EbsVolume(volume_id="vol-idle", volume_type="gp2", size_gb=500, state="available")])
    costs = FakeCostSource(CostData(period_start=date(2026, 10, 1), period_end=date(2026, 11, 1), by_service=[
        ServiceCost(service="Amazon Elastic Compute Cloud - Compute", monthly_usd=140.16, category="compute"),
        ServiceCost(service="EC2 - Other", monthly_usd=50.0, category="storage")]))
    metrics = FakeMetricSource({("i-web1", "cpu"): ev("cpu", 8.0, p95=12.0, maximum=20.0)})
    store, notifier = MemoryReportStore(), RecordingNotifier()
    reporter = CostReporter(costs, FakeInventorySource(inventory), metrics, FakePriceBook(), build_rules(), store,
                            notifier, lambda: NOW, **overrides)  # type: ignore[arg-type]
    return reporter, costs, metrics, store, notifier


@pytest.mark.parametrize("today, expected", [
    (date(2026, 11, 30), (date(2026, 10, 1), date(2026, 11, 1))),
    (date(2026, 11, 1), (date(2026, 10, 1), date(2026, 11, 1))),
    (date(2026, 1, 15), (date(2025, 12, 1), date(2026, 1, 1))),  # across the year
])
def test_the_period_is_the_last_complete_month_with_an_exclusive_end(today, expected):
    assert last_complete_month(today) == expected


def test_one_run_asks_for_one_period_and_one_metrics_batch_and_writes_three_documents():
    reporter, costs, metrics, store, _ = _reporter()
    run = reporter.run()
    # Cost Explorer once for October, with the daily series from 35 days ago; one metrics request for all series.
    assert costs.requests == [(date(2026, 10, 1), date(2026, 11, 1), date(2026, 10, 26))]
    assert len(metrics.requests) == 1
    assert sorted(key.rsplit("/", 1)[1] for key in store.objects) == ["report.html", "report.json", "report.md"]
    assert all(key.startswith("cost/reports/2026-10-01/20261130T070000Z/") for key in store.objects)
    document = json.loads(next(body for key, (body, _) in store.objects.items() if key.endswith(".json")))
    assert document["totals"]["monthly_cost_usd"] == 190.16  # 140.16 + 50.00
    assert run.headline()["cost_explorer_requests"] == 3
    assert run.link is not None and run.link.endswith("report.html?expires=604800")


def test_the_idle_volume_and_the_idle_instance_are_recommended_each_with_its_single_best_action():
    reporter, *_ = _reporter()
    report = reporter.run().report
    chosen = {r.resource_id: r.chosen for r in report.resources}
    assert chosen["vol-idle"] is not None and chosen["vol-idle"].rule == "ebs_unattached"
    assert chosen["i-web1"] is not None and chosen["i-web1"].rule == "ec2_severely_underutilized"
    saving = sum(r.monthly_saving_usd for r in report.top_recommendations)
    assert report.totals.potential_monthly_saving_usd == pytest.approx(saving)


def test_the_ops_topic_gets_the_headline_the_top_actions_and_the_link():
    reporter, *_, notifier = _reporter()
    reporter.run()
    ((subject, message),) = notifier.messages
    assert subject.startswith("Cost report: $190/month") and len(subject) <= 100
    assert "vol-idle" in message and "i-web1" in message
    assert "s3://ops/cost/reports/2026-10-01/20261130T070000Z/report.html" in message and "https://" in message


def test_a_manual_lookback_overrides_the_configured_one():
    reporter, *_ = _reporter(lookback_days=14)
    assert reporter.run(lookback_days=30).report.lookback_days == 30
