"""The analysis: every applicable rule on every resource, one best action each, then the report.

Per resource (:func:`analyze_resource`): each rule that applies gives an Outcome (or nothing). Notes are
kept apart; the candidates compete and the single best one is chosen -- the highest saving, then the lower
effort, then the rule listed first -- so a resource's saving is counted once (no double counting: a
downsize and a commitment on the same instance are alternatives, not a sum). Its status:

- ``recommended``: a candidate was chosen (vetoes of other rules are quoted in the reason);
- ``vetoed``: a rule qualified but the evidence vetoed it (p95 CPU, memory, network, freeable memory);
- ``insufficient_data``: too few data points (or a missing price) for a verdict, said with the numbers;
- ``note``: only notes; ``no_action``: nothing applies.

:func:`build_report` assembles the CostReport: totals from Cost Explorer's by-service costs, the potential
saving as the sum of the chosen recommendations (= the plan's total), the top recommendations, anomalies,
ChurnGuard Ops' own footprint and the prices used.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from churnguard_ops.cost.anomalies import AnomalyParams, detect_anomalies
from churnguard_ops.cost.model import (
    ApiUsage,
    CostData,
    CostReport,
    Ec2Instance,
    Evidence,
    Inventory,
    Price,
    Recommendation,
    ResourceResult,
    ResourceStatus,
    Totals,
)
from churnguard_ops.cost.plan import build_plan, chosen
from churnguard_ops.cost.ports import PriceBook
from churnguard_ops.cost.rules import CATEGORY, CostRule, MissingPrice, Outcome, Resource, RuleContext, monthly_cost
from churnguard_ops.cost.rules.base import describe, kind_of, resource_id

CATEGORIES = ("compute", "database", "storage", "other")
_EFFORT_RANK = {"low": 0, "medium": 1, "high": 2}


def analyze(inventory: Inventory, evidence_by_resource: Mapping[str, Mapping[str, Evidence]], prices: PriceBook,
            rules: Sequence[CostRule], ctx: RuleContext | None = None) -> list[ResourceResult]:
    """One ResourceResult per resource of ``inventory`` (EC2, then RDS, then EBS)."""
    ctx = ctx or RuleContext()
    resources: list[Resource] = [*inventory.ec2, *inventory.rds, *inventory.ebs]
    return [analyze_resource(r, evidence_by_resource.get(resource_id(r), {}), prices, rules, ctx) for r in resources]


def analyze_resource(resource: Resource, evidence: Mapping[str, Evidence], prices: PriceBook,
                     rules: Sequence[CostRule], ctx: RuleContext) -> ResourceResult:
    outcomes = [o for rule in rules if rule.applies(resource) for o in [_run(rule, resource, evidence, prices, ctx)]
                if o is not None]
    candidates = [o.recommendation for o in outcomes if o.status == "recommended" and o.recommendation]
    notes = [o.recommendation for o in outcomes if o.status == "note" and o.recommendation]
    by_status = {s: _reasons(outcomes, s) for s in ("vetoed", "insufficient_data", "no_action")}
    best = min(candidates, key=lambda r: (-r.monthly_saving_usd, _EFFORT_RANK[r.effort]), default=None)
    try:
        monthly, price_gap = round(monthly_cost(prices, resource), 2), ""
    except MissingPrice as exc:
        monthly, price_gap = 0.0, f"{exc}: its monthly cost is not priced"
    status: ResourceStatus
    if best is not None:
        status, reason = "recommended", best.reason + (f" (also: {by_status['vetoed']})" if by_status["vetoed"] else "")
    elif by_status["vetoed"]:
        status, reason = "vetoed", by_status["vetoed"]
    elif by_status["insufficient_data"]:
        status, reason = "insufficient_data", by_status["insufficient_data"]
    elif notes:
        status, reason = "note", "; ".join(n.action for n in notes)
    else:
        status, reason = "no_action", by_status["no_action"] or _quiet(resource, evidence)
    if price_gap and status != "insufficient_data":
        reason = f"{reason}; {price_gap}"
    kind = kind_of(resource)
    return ResourceResult(resource_id=resource_id(resource), resource_kind=kind, category=CATEGORY[kind],
                          description=describe(resource), monthly_cost_usd=monthly, status=status, reason=reason,
                          chosen=best, candidates=candidates, notes=notes, evidence=list(evidence.values()))


def _run(rule: CostRule, resource: Resource, evidence: Mapping[str, Evidence], prices: PriceBook,
         ctx: RuleContext) -> Outcome | None:
    try:
        return rule.evaluate(resource, evidence, prices, ctx)
    except MissingPrice as exc:
        return Outcome("insufficient_data", rule.name, f"{exc}: no verdict from {rule.name}")


def _reasons(outcomes: Sequence[Outcome], status: str) -> str:
    unique = dict.fromkeys(f"{o.rule}: {o.reason}" for o in outcomes if o.status == status)
    return "; ".join(unique)


def _quiet(resource: Resource, evidence: Mapping[str, Evidence]) -> str:
    if isinstance(resource, Ec2Instance) and resource.state != "running":
        return f"{resource.state}: no instance-hours billed (its volumes are judged as volumes)"
    cpu = evidence.get("cpu")
    if cpu is not None and cpu.average is not None:
        return f"no rule applies (CPU average {cpu.average:.1f} % over {cpu.points} points)"
    return "no rule applies"


def build_report(*, generated_at: datetime, lookback_days: int, costs: CostData, results: Sequence[ResourceResult],
                 api_usage: ApiUsage, top: int = 10, anomaly_params: AnomalyParams | None = None,
                 notes: Sequence[str] = ()) -> CostReport:
    """The report of one run. ``notes`` are the caller's (e.g. the Pricing API did not answer); the report
    adds its own about bundled prices, estimated costs, resources without a verdict and the footprint."""
    recs = chosen(results)
    monthly = round(sum(s.monthly_usd for s in costs.by_service), 2)
    saving = round(sum(r.monthly_saving_usd for r in recs), 2)
    plan = build_plan(results)
    by_category = {c: {"cost": round(sum(s.monthly_usd for s in costs.by_service if s.category == c), 2),
                       "saving": round(sum(r.monthly_saving_usd for r in recs if r.category == c), 2)}
                   for c in CATEGORIES}
    totals = Totals(monthly_cost_usd=monthly, potential_monthly_saving_usd=saving,
                    saving_pct=round(100 * saving / monthly, 1) if monthly > 0 else 0.0, by_category=by_category)
    prices = prices_used(results)
    footprint = sorted(costs.own_by_service, key=lambda s: (-s.monthly_usd, s.service))
    return CostReport(
        generated_at=generated_at, period_start=costs.period_start, period_end=costs.period_end,
        lookback_days=lookback_days, totals=totals,
        services=sorted(costs.by_service, key=lambda s: (-s.monthly_usd, s.service)), daily=list(costs.daily),
        anomalies=detect_anomalies(costs.daily, anomaly_params), resources=list(results),
        top_recommendations=recs[:top], plan=plan, footprint=footprint,
        footprint_monthly_usd=round(sum(s.monthly_usd for s in footprint), 2), api_usage=api_usage, prices=prices,
        notes=[*notes, *_report_notes(costs, results, prices, footprint)])


def prices_used(results: Sequence[ResourceResult]) -> list[Price]:
    """Every price quoted in a recommendation's or note's maths, once each, in order of first use."""
    recs: list[Recommendation] = [r for res in results for r in (*res.candidates, *res.notes)]
    return list(dict.fromkeys(p for r in recs if r.maths for p in (*r.maths.current, *r.maths.proposed)))


def _report_notes(costs: CostData, results: Sequence[ResourceResult], prices: Sequence[Price],
                  footprint: Sequence[object]) -> list[str]:
    notes = []
    bundled = [p for p in prices if p.source == "bundled_table"]
    if bundled:
        as_of = max(p.as_of for p in bundled).isoformat()
        notes.append(f"{len(bundled)} of {len(prices)} prices come from the bundled price table (as of {as_of}): "
                     "the Pricing API did not answer for them")
    if costs.estimated:
        notes.append("Cost Explorer marks part of the period as estimated: the totals may still change")
    unseen = [r.resource_id for r in results if r.status == "insufficient_data"]
    if unseen:
        notes.append(f"{len(unseen)} resource(s) had too little data for a verdict: {', '.join(unseen)}")
    if not footprint:
        notes.append("No cost is allocated to ChurnGuard Ops' own tag yet (activate it as a cost allocation tag)")
    return notes
