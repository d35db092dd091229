"""The cost report in Markdown: the HTML page's content as headings, lists and tables.

Text from data is escaped for Markdown (:func:`md`): ``|`` cannot split a table cell; ``*``, ``_``, backticks,
brackets, ``~`` and ``$`` (math on GitHub) lose their meaning, and so does what would start a heading, a list or a
quote; ``<`` and ``&`` become entities, so no renderer passes HTML through; line breaks become spaces. Formulas
and ids are code spans (:func:`code`). The words for model values are the HTML page's (:mod:`.report_html`), so
both documents say the same thing.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from churnguard_ops.cost.charts import usd
from churnguard_ops.cost.model import CostReport, Evidence, Recommendation, ResourceResult, ServiceCost
from churnguard_ops.cost.report_html import (
    KIND_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    api_usage_sentence,
    category_rows,
    daily_range,
    footprint_sentence,
    number,
    other_recommendations,
    pct,
    period,
    share,
    status_counts,
    unique_prices,
    unit_price,
    window_text,
)

_SPECIAL = re.compile(r"([\\`*_\[\]|$~])")
_LINE_START = re.compile(r"^(?:(\d+)([.)])|([#+=>-]))")


def md(value: object) -> str:
    """Text from data, safe in a Markdown paragraph, list item or table cell."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;")  # no tag, no entity; a lone ">" is only text
    text = _SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", text)


def code(value: object) -> str:
    """A code span (formulas, ids); a cell-splitting ``|`` escaped, backticks can't close it early."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def money(value: float) -> str:
    """An amount we format ourselves, its ``$`` escaped (GitHub reads ``$...$`` as math)."""
    return usd(value).replace("$", "\\$")


def table(head: Sequence[str], rows: Iterable[Sequence[str]], empty: str = "Nothing to show.") -> str:
    """A GitHub table; a head starting with ``#`` is a right-aligned number column. Cells are already escaped."""
    body = ["| " + " | ".join(row) + " |" for row in rows]
    if not body:
        return f"_{md(empty)}_"
    names = [h[1:] if h.startswith("#") else h for h in head]
    align = ["---:" if h.startswith("#") else "---" for h in head]
    return "\n".join(["| " + " | ".join(names) + " |", "| " + " | ".join(align) + " |", *body])


def _evidence(evidence: Sequence[Evidence]) -> str:
    return table(("Evidence", "#Average", "#p95", "#Max", "Unit", "#Points", "Window"),
                 ([f"{md(ev.metric)} ({md(ev.namespace)} {md(ev.name)}, {md(ev.statistic)})", number(ev.average),
                   number(ev.p95), number(ev.maximum), md(ev.unit),
                   f"{ev.points}{' (no data)' if ev.points == 0 else ''}", md(window_text(ev))] for ev in evidence),
                 empty="No metric: the recommendation rests on the resource's configuration.")


def _recommendation(index: int, rec: Recommendation) -> str:
    lines = [f"### {index}. {md(rec.action)}: saves {money(rec.monthly_saving_usd)} a month", "",
             f"{code(rec.resource_id)} · {KIND_LABELS.get(rec.resource_kind, rec.resource_kind)} · {md(rec.category)}"
             f" · rule {md(rec.rule)} · effort {md(rec.effort)}", "", md(rec.reason), ""]
    m = rec.maths
    if m is None:
        lines += ["A note: no saving is claimed, so there is no maths.", ""]
    else:
        rows = [[side, md(unit_price(p)), md(p.description), md(SOURCE_LABELS.get(p.source, p.source)),
                 p.as_of.isoformat(), money(p.monthly()) if p.unit == "hour" else "-"]
                for side, prices in (("Current", m.current), ("Proposed", m.proposed)) for p in prices]
        if not m.proposed:
            rows.append(["Proposed", money(0.0), "nothing (the resource goes)", "", "", "-"])
        lines += [f"Maths: {code(m.formula)}", "",
                  table(("Price", "#Unit price", "What", "Source", "As of", f"#A month ({m.hours_per_month} h)"),
                        rows), "",
                  f"{m.hours_per_month} hours per month. Now {money(m.current_monthly_usd)} a month, then "
                  f"{money(m.proposed_monthly_usd)}: saves {money(rec.monthly_saving_usd)} a month "
                  f"({money(rec.monthly_saving_usd * 12)} a year).", ""]
    lines += [_evidence(rec.evidence), ""]
    return "\n".join(lines)


def _outcome(r: ResourceResult) -> str:
    parts: list[str] = []
    if r.chosen is not None:
        parts.append(f"**{md(r.chosen.action)}**: {md(r.chosen.reason)}")
        if r.chosen.maths:
            parts.append(code(r.chosen.maths.formula))
    if r.reason:
        parts.append(md(r.reason))
    if r.status == "vetoed":
        parts.extend(f"Vetoed candidate: {md(c.action)} (would save {money(c.monthly_saving_usd)} a month)."
                     for c in r.candidates)
    parts.extend(f"Note: {md(n.action)}. {md(n.reason)}" for n in r.notes)
    if r.status == "insufficient_data":
        thin = [ev for ev in r.evidence if ev.points == 0] or r.evidence
        parts.extend(f"{md(ev.metric)}: {ev.points} points in {md(window_text(ev))}" for ev in thin)
    return "<br>".join(parts) or "-"


def _resources(resources: Sequence[ResourceResult]) -> str:
    order = {"recommended": 0, "vetoed": 1, "insufficient_data": 2, "note": 3, "no_action": 4}
    ordered = sorted(resources, key=lambda r: (order.get(r.status, 9), r.resource_kind, r.resource_id))
    return table(("Resource", "Kind", "What", "#Cost / month", "Status", "Action, reason and maths", "#Saving / month"),
                 ([code(r.resource_id), KIND_LABELS.get(r.resource_kind, r.resource_kind), md(r.description),
                   money(r.monthly_cost_usd), f"**{STATUS_LABELS.get(r.status, r.status)}**", _outcome(r),
                   money(r.chosen.monthly_saving_usd) if r.chosen else "-"] for r in ordered),
                 empty="No resource was analysed.")


def _services(services: Sequence[ServiceCost], total_label: str, total: float) -> str:
    rows = [[md(s.service), md(s.category), money(s.monthly_usd)]
            for s in sorted(services, key=lambda s: (-s.monthly_usd, s.service))]
    if rows:
        rows.append([f"**{md(total_label)}**", "", f"**{money(total)}**"])
    return table(("Service", "Category", "#Per month"), rows, empty="Nothing measured.")


def render_cost_report_markdown(report: CostReport) -> str:
    t, u = report.totals, report.api_usage
    top = "\n".join(_recommendation(i, r) for i, r in enumerate(report.top_recommendations, 1)) \
        or "_No saving found._\n"
    others = other_recommendations(report)
    plan_total = sum(p.monthly_saving_usd for p in report.plan)
    plan_rows = [[str(p.number), md(p.name), md(p.description), ", ".join(code(x) for x in p.recommendations) or "-",
                  money(p.monthly_saving_usd)] for p in report.plan]
    if plan_rows:
        plan_rows.append(["", "**All phases**", "", "", f"**{money(plan_total)}**"])
    sections = [
        "# Cost report", "",
        f"Cost Explorer period {md(period(report.period_start, report.period_end))}; daily costs "
        f"{md(daily_range(report))}; utilisation over the last {report.lookback_days} days. Generated "
        f"{md(report.generated_at.isoformat())}. Amounts are US dollars; a month is 730 hours.", "",
        f"- **Monthly cost:** {money(t.monthly_cost_usd)}",
        f"- **Potential saving:** {money(t.potential_monthly_saving_usd)} a month ({pct(t.saving_pct)})",
        f"- **ChurnGuard Ops' own cost:** {money(report.footprint_monthly_usd)} a month",
        f"- {md(status_counts(report.resources))}", "",
        "## Cost and savings by category", "",
        table(("Category", "#Cost / month", "#Share of total", "#Potential saving", "#Saving %"),
              [*([md(c), money(cost), share(cost, t.monthly_cost_usd), money(saving), share(saving, cost)]
                 for c, cost, saving in category_rows(report)),
               ["**All services**", f"**{money(t.monthly_cost_usd)}**", "100.0 %",
                f"**{money(t.potential_monthly_saving_usd)}**", f"**{pct(t.saving_pct)}**"]]), "",
        "## Cost by service", "",
        _services(report.services, "All services", t.monthly_cost_usd), "",
        "## Top recommendations", "", top,
    ]
    if others:
        first = len(report.top_recommendations) + 1
        sections += [f"## The other recommendations ({len(others)})", "",
                     "\n".join(_recommendation(i, r) for i, r in enumerate(others, first))]
    sections += [
        "## The plan, phase by phase", "",
        table(("#Phase", "Name", "What", "Resources", "#Saving / month"), plan_rows,
              empty="No plan: nothing to change."),
        "", "## Every resource and what was concluded", "", _resources(report.resources), "",
        "## Anomalies", "",
        table(("Day", "Service", "#Cost", "#7-day baseline", "#Ratio", "#28-day baseline", "#Ratio", "Why"),
              ([f"**{a.day.isoformat()}**", md(a.service), money(a.usd), money(a.baseline_7d_usd),
                f"{a.ratio_7d:.2f}x", money(a.baseline_28d_usd), f"{a.ratio_28d:.2f}x", md(a.reason)]
               for a in sorted(report.anomalies, key=lambda a: (a.day, a.service))),
              empty="No anomaly in the period."), "",
        "## Our own footprint", "", md(footprint_sentence(report)), "",
        _services(report.footprint, "ChurnGuard Ops", report.footprint_monthly_usd), "",
        "## What this report cost in API calls", "", md(api_usage_sentence(u)), "",
        table(("Call", "#Count"), ([code(k), str(v)] for k, v in sorted(u.calls.items())), empty="No call recorded."),
        "", "## Prices used and where they came from", "",
        table(("Price", "#Unit price", "Source", "As of"),
              ([md(p.description), md(unit_price(p)), md(SOURCE_LABELS.get(p.source, p.source)), p.as_of.isoformat()]
               for p in unique_prices(report.prices)), empty="No price was used."), "",
    ]
    if report.notes:
        sections += ["## Notes", "", *(f"- {md(n)}" for n in report.notes), ""]
    return "\n".join(sections)
