"""The cost report use case: one run reads costs, inventory, metrics and prices, and writes the report.

Order and API cost of a run (what ``ApiUsage`` records and the report shows):

1. Cost Explorer: the last complete calendar month by service and usage type, the daily series of the
   last ``DAILY_DAYS`` days by service, and our own footprint (resources tagged as ChurnGuard Ops'): three
   requests plus their pages, or none when this period and day are already cached;
2. the inventory (EC2 instances, RDS instances, EBS volumes; every page);
3. one batched ``GetMetricData`` per 500 series over the lookback window (hourly);
4. the rules per resource (single best action each), the totals, the plan, anomalies;
5. the report under ``cost/reports/<period>/<run>/report.{json,md,html}`` and a summary on the ops topic.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from churnguard_ops.core import contracts
from churnguard_ops.core.clock import Clock
from churnguard_ops.core.ports import Notifier
from churnguard_ops.cost.analysis import analyze, build_report
from churnguard_ops.cost.model import ApiUsage, CostReport
from churnguard_ops.cost.ports import CostSource, InventorySource, MetricSource, PriceBook
from churnguard_ops.cost.queries import evidence_by_resource, metric_queries
from churnguard_ops.cost.report_html import render_cost_report_html
from churnguard_ops.cost.report_markdown import render_cost_report_markdown
from churnguard_ops.cost.report_store import ReportStore
from churnguard_ops.cost.rules import CostRule, RuleContext

#: Days of the daily series: the 28-day anomaly baseline plus a week to judge.
DAILY_DAYS = 35


@dataclass(frozen=True)
class ReportRun:
    report: CostReport
    locations: dict[str, str]  # json / markdown / html -> s3://...
    link: str | None

    def headline(self) -> dict[str, Any]:
        totals, usage = self.report.totals, self.report.api_usage
        return {"monthly_cost_usd": totals.monthly_cost_usd,
                "potential_monthly_saving_usd": totals.potential_monthly_saving_usd,
                "saving_pct": totals.saving_pct, "footprint_monthly_usd": self.report.footprint_monthly_usd,
                "recommendations": sum(1 for r in self.report.resources if r.chosen is not None),
                "anomalies": len(self.report.anomalies), "cost_explorer_requests": usage.cost_explorer_requests,
                "cost_explorer_usd": usage.cost_explorer_usd, "cost_explorer_cached": usage.cost_explorer_cached,
                "cloudwatch_metrics": usage.cloudwatch_metrics, "cloudwatch_calls": usage.cloudwatch_calls,
                "reports": dict(self.locations), "link": self.link}


def last_complete_month(today: date) -> tuple[date, date]:
    """[first day of last month, first day of this month): Cost Explorer's End is exclusive."""
    this_month = today.replace(day=1)
    return (this_month - timedelta(days=1)).replace(day=1), this_month


class CostReporter:
    def __init__(self, costs: CostSource, inventory: InventorySource, metrics: MetricSource, prices: PriceBook,
                 rules: list[CostRule], store: ReportStore, notifier: Notifier | None, clock: Clock, *,
                 lookback_days: int = 14, period_seconds: int = 3600, min_points: int = 30, top: int = 10,
                 link_expiry_seconds: int = 7 * 24 * 3600) -> None:
        self.costs = costs
        self.inventory = inventory
        self.metrics = metrics
        self.prices = prices
        self.rules = rules
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.lookback_days = lookback_days
        self.period_seconds = period_seconds
        self.context = RuleContext(min_points=min_points)
        self.top = top
        self.link_expiry_seconds = link_expiry_seconds

    def run(self, lookback_days: int | None = None) -> ReportRun:
        now = self.clock()
        lookback = lookback_days or self.lookback_days
        usage = ApiUsage()
        period_start, period_end = last_complete_month(now.date())
        # The daily series runs to today (exclusive): anomalies are about the last days, not last month's.
        costs = self.costs.costs(period_start, period_end, now.date() - timedelta(days=DAILY_DAYS), usage,
                                 daily_end=now.date())
        inventory = self.inventory.inventory(usage)
        queries = metric_queries(inventory)
        answers = self.metrics.evidence(queries, now - timedelta(days=lookback), now, self.period_seconds, usage)
        results = analyze(inventory, evidence_by_resource(queries, answers), self.prices, self.rules, self.context)
        report = build_report(generated_at=now, lookback_days=lookback, costs=costs, results=results,
                              api_usage=usage, top=self.top)
        folder = f"{contracts.COST_REPORTS_PREFIX}{period_start.isoformat()}/{now:%Y%m%dT%H%M%SZ}/"
        locations = {
            "json": self.store.put(f"{folder}report.json", json.dumps(report.document(), indent=1, sort_keys=True),
                                   "application/json"),
            "markdown": self.store.put(f"{folder}report.md", render_cost_report_markdown(report),
                                       "text/markdown; charset=utf-8"),
            "html": self.store.put(f"{folder}report.html", render_cost_report_html(report), "text/html; charset=utf-8"),
        }
        link = self.store.link(f"{folder}report.html", self.link_expiry_seconds)
        run = ReportRun(report, locations, link)
        if self.notifier is not None:
            self.notifier.publish(summary_subject(report), summary_message(run))
        return run


def summary_subject(report: CostReport) -> str:
    t = report.totals
    return (f"Cost report: ${t.monthly_cost_usd:,.0f}/month, ${t.potential_monthly_saving_usd:,.0f} "
            f"({t.saving_pct:.1f} %) to save")[:100]


def summary_message(run: ReportRun) -> str:
    report = run.report
    lines = [summary_subject(report), ""]
    for rec in report.top_recommendations[:5]:
        lines.append(f"- ${rec.monthly_saving_usd:,.2f}/month: {rec.action} ({rec.resource_id})")
    if report.anomalies:
        lines.append(f"\n{len(report.anomalies)} cost anomal{'y' if len(report.anomalies) == 1 else 'ies'}: "
                     + "; ".join(f"{a.service} on {a.day}" for a in report.anomalies[:3]))
    lines.append(f"\nChurnGuard Ops itself: ${report.footprint_monthly_usd:,.2f}/month")
    lines.append(f"\nReport: {run.locations['html']}")
    if run.link:
        lines.append(f"Link (valid while the report function's credentials are, at most 7 days): {run.link}")
    return "\n".join(lines)
