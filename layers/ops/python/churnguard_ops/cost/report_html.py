"""The cost report as one self-contained, readable HTML page.

Inline CSS and inline SVG charts (:mod:`.charts`) only: no script, no external asset, and a
Content-Security-Policy that says so, so the page opened from S3 or a mail client requests nothing from
anywhere. Every text that comes from data (resource ids and tags, service names, reasons, price descriptions,
notes) is escaped with ``html.escape``. Every saving shows its maths: the formula, the current and proposed unit
prices with their source and date, the hours per month, and the evidence (average, p95, max, points, window).

The helpers that turn model values into words (:data:`STATUS_LABELS`, :func:`price_text`, ...) are shared with
:mod:`.report_markdown`, so both documents say the same thing.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date

from churnguard_ops.core.html import STRICT_CSP, page
from churnguard_ops.cost.charts import cost_by_service_chart, daily_totals, daily_trend_chart, e, top_savings_chart, usd
from churnguard_ops.cost.model import (
    ApiUsage,
    CostReport,
    Evidence,
    Price,
    Recommendation,
    ResourceResult,
    ServiceCost,
)

STATUS_LABELS = {"recommended": "Recommended", "no_action": "No action", "insufficient_data": "Insufficient data",
                 "vetoed": "Vetoed", "note": "Note"}
SOURCE_LABELS = {"pricing_api": "AWS Price List API", "bundled_table": "bundled price table"}
KIND_LABELS = {"ec2": "EC2", "rds": "RDS", "ebs": "EBS"}
CATEGORIES = ("compute", "database", "storage")
CSP = STRICT_CSP

# --- words for model values (shared with the Markdown report) -------------------------------------------


def unit_price(price: Price) -> str:
    return f"${price.usd:,.4f} per {price.unit}"


def source_text(price: Price) -> str:
    return f"{SOURCE_LABELS.get(price.source, price.source)}, {price.as_of.isoformat()}"


def price_text(price: Price) -> str:
    """"$0.1920 per hour (EC2 m5.xlarge ..., AWS Price List API, 2026-11-05)"."""
    what = f"{price.description}, " if price.description else ""
    return f"{unit_price(price)} ({what}{source_text(price)})"


def period_text(seconds: int) -> str:
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def number(value: float | None) -> str:
    """A metric value: ``-`` where the series had no datapoint."""
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.1f}"


def window_text(evidence: Evidence) -> str:
    return f"{evidence.window_days} days at {period_text(evidence.period_seconds)}"


def pct(value: float) -> str:
    return f"{value:.1f} %"


def share(part: float, whole: float) -> str:
    return pct(100 * part / whole) if whole else "-"


def category_rows(report: CostReport) -> list[tuple[str, float, float]]:
    """(category, cost, saving) for compute, database and storage, then any other category reported."""
    by = report.totals.by_category
    names = list(CATEGORIES) + sorted(c for c in by if c not in CATEGORIES)
    return [(c, by.get(c, {}).get("cost", 0.0), by.get(c, {}).get("saving", 0.0)) for c in names]


def status_counts(resources: Sequence[ResourceResult]) -> str:
    counts: Counter[str] = Counter(r.status for r in resources)
    parts = [f"{counts[s]} {STATUS_LABELS[s].lower()}" for s in STATUS_LABELS if counts[s]]
    return f"{len(resources)} resources analysed: " + ", ".join(parts) if resources else "No resource analysed."


def _key(rec: Recommendation) -> tuple[str, str, str]:
    return rec.resource_id, rec.rule, rec.action


def other_recommendations(report: CostReport) -> list[Recommendation]:
    """The chosen recommendations that are not among the top ones, largest saving first."""
    top = {_key(r) for r in report.top_recommendations}
    chosen = [r.chosen for r in report.resources if r.chosen is not None and _key(r.chosen) not in top]
    return sorted(chosen, key=lambda r: (-r.monthly_saving_usd, r.resource_id))


def unique_prices(prices: Iterable[Price]) -> list[Price]:
    seen: list[Price] = []
    for price in prices:
        if price not in seen:
            seen.append(price)
    return sorted(seen, key=lambda p: (p.description, p.unit, p.usd))


def footprint_sentence(report: CostReport) -> str:
    saving, own = report.totals.potential_monthly_saving_usd, report.footprint_monthly_usd
    if own <= 0:
        return f"ChurnGuard Ops costs nothing measurable; it found {usd(saving)} a month of potential savings."
    return (f"ChurnGuard Ops costs {usd(own)} a month and found {usd(saving)} a month of potential savings: "
            f"{saving / own:,.0f} times its own cost (net {usd(saving - own)} a month).")


def api_usage_sentence(usage: ApiUsage) -> str:
    ce = ("answered from the cache (no request, no charge)" if usage.cost_explorer_cached
          else f"{usage.cost_explorer_requests} request(s), {usd(usage.cost_explorer_usd)}")
    return (f"Cost Explorer: {ce}. CloudWatch: {usage.cloudwatch_metrics} metric series in "
            f"{usage.cloudwatch_calls} GetMetricData call(s). {sum(usage.calls.values())} AWS API calls in all.")


def daily_range(report: CostReport) -> str:
    days = daily_totals(report.daily)
    if not days:
        return "no daily costs"
    return f"{days[0][0].isoformat()} to {days[-1][0].isoformat()} ({len(days)} days)"


def period(start: date, end: date) -> str:
    return f"{start.isoformat()} to {end.isoformat()} (end exclusive, as Cost Explorer counts)"


# --- HTML -----------------------------------------------------------------------------------------------

_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;background:#f6f8fa;
margin:0;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px}
header,section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin-bottom:16px}
h1{font-size:1.5em;margin:0 0 4px}h2{font-size:1.15em;margin:0 0 12px}h3{font-size:1em;margin:0 0 6px}
.meta{color:#57606a;font-size:.9em}.empty{color:#57606a}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-top:12px}
.card{flex:1 1 180px;border:1px solid #d0d7de;border-radius:8px;padding:10px 14px}
.card .label{color:#57606a;font-size:.85em}.card .value{font-size:1.5em;font-weight:700}
.card.saving .value{color:#1a7f37}
table{border-collapse:collapse;width:100%;margin:6px 0 10px}th,td{text-align:left;padding:5px 8px;
border-bottom:1px solid #eaeef2;vertical-align:top}th{background:#f6f8fa;font-weight:600}
td.num,th.num{text-align:right;white-space:nowrap}tfoot td{font-weight:700;border-top:2px solid #d0d7de}
.id,.ids,code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.88em;overflow-wrap:anywhere}
td.id{white-space:nowrap}
.formula{background:#f6f8fa;border:1px solid #eaeef2;border-radius:6px;padding:6px 10px}
article.rec{border-top:1px solid #eaeef2;padding:12px 0}article.rec:first-of-type{border-top:none}
.saves{color:#1a7f37;font-weight:700;white-space:nowrap}
.status{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.8em;font-weight:600;white-space:nowrap}
.status-recommended{background:#dafbe1;color:#116329}.status-no_action{background:#eaeef2;color:#424a53}
.status-insufficient_data{background:#fff8c5;color:#7d4e00}.status-vetoed{background:#ffebe9;color:#a40e26}
.status-note{background:#ddf4ff;color:#0a3069}
tr.nodata td{color:#9a6700}.anomaly{color:#cf222e;font-weight:600}
.chart{max-width:100%;height:auto;display:block;margin:8px 0 4px}
.legend span{display:inline-block;margin-right:14px;font-size:.85em}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
.sw-compute{background:#0969da}.sw-database{background:#8250df}.sw-storage{background:#1a7f37}
.sw-other{background:#6e7781}
footer{color:#57606a;font-size:.85em}
"""


def _rows(rows: Iterable[str]) -> str:
    return "\n".join(rows)


def _table(head: Sequence[str], rows: Iterable[str], foot: str = "", empty: str = "Nothing to show.") -> str:
    body = _rows(rows)
    if not body:
        return f'<p class="empty">{e(empty)}</p>'
    cells = "".join(f'<th class="num">{e(h[1:])}</th>' if h.startswith("#") else f"<th>{e(h)}</th>" for h in head)
    return (f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody>"
            + (f"<tfoot>{foot}</tfoot>" if foot else "") + "</table>")


def _status(status: str) -> str:
    return f'<span class="status status-{e(status)}">{e(STATUS_LABELS.get(status, status))}</span>'


def _evidence_table(evidence: Sequence[Evidence]) -> str:
    rows = (f'<tr class="{"nodata" if ev.points == 0 else "data"}"><td>{e(ev.metric)}<br><span class="meta">'
            f"{e(ev.namespace)} {e(ev.name)}, {e(ev.statistic)}</span></td>"
            f'<td class="num">{e(number(ev.average))}</td><td class="num">{e(number(ev.p95))}</td>'
            f'<td class="num">{e(number(ev.maximum))}</td><td>{e(ev.unit)}</td>'
            f'<td class="num">{ev.points}{" (no data)" if ev.points == 0 else ""}</td>'
            f"<td>{e(window_text(ev))}</td></tr>"
            for ev in evidence)
    return _table(("Evidence", "#Average", "#p95", "#Max", "Unit", "#Points", "Window"), rows,
                  empty="No metric: the recommendation rests on the resource's configuration.")


def _maths(rec: Recommendation) -> str:
    m = rec.maths
    if m is None:
        return '<p class="meta">A note: no saving is claimed, so there is no maths.</p>'
    rows = [f"<tr><td>{side}</td><td class=\"num\">{e(unit_price(p))}</td><td>{e(p.description)}</td>"
            f"<td>{e(SOURCE_LABELS.get(p.source, p.source))}</td><td>{e(p.as_of.isoformat())}</td>"
            f'<td class="num">{e(usd(p.monthly())) if p.unit == "hour" else "-"}</td></tr>'
            for side, prices in (("Current", m.current), ("Proposed", m.proposed)) for p in prices]
    if not m.proposed:
        rows.append('<tr><td>Proposed</td><td class="num">$0.0000</td><td>nothing (the resource goes)</td>'
                    '<td></td><td></td><td class="num">-</td></tr>')
    prices = _table(("Price", "#Unit price", "What", "Source", "As of", f"#A month ({m.hours_per_month} h)"), rows)
    return (f'<p class="formula"><code>{e(m.formula)}</code></p>{prices}'
            f'<p class="meta">{m.hours_per_month} hours per month. Now {e(usd(m.current_monthly_usd))} a month, '
            f"then {e(usd(m.proposed_monthly_usd))}: saves {e(usd(rec.monthly_saving_usd))} a month "
            f"({e(usd(rec.monthly_saving_usd * 12))} a year).</p>")


def _recommendation(index: int, rec: Recommendation) -> str:
    return (f'<article class="rec"><h3>{index}. {e(rec.action)} <span class="saves">saves '
            f"{e(usd(rec.monthly_saving_usd))} a month</span></h3>"
            f'<p class="meta"><span class="id">{e(rec.resource_id)}</span> &middot; '
            f"{e(KIND_LABELS.get(rec.resource_kind, rec.resource_kind))} &middot; {e(rec.category)} &middot; rule "
            f"{e(rec.rule)} &middot; effort {e(rec.effort)}</p><p>{e(rec.reason)}</p>"
            f"{_maths(rec)}{_evidence_table(rec.evidence)}</article>")


def _resource_outcome(r: ResourceResult) -> str:
    parts: list[str] = []
    if r.chosen is not None:
        parts.append(f"<strong>{e(r.chosen.action)}</strong>: {e(r.chosen.reason)}")
        if r.chosen.maths:
            parts.append(f"<code>{e(r.chosen.maths.formula)}</code>")
    if r.reason:
        parts.append(e(r.reason))
    if r.status == "vetoed":
        parts.extend(f"Vetoed candidate: {e(c.action)} (would save {e(usd(c.monthly_saving_usd))} a month)."
                     for c in r.candidates)
    parts.extend(f"Note: {e(n.action)}. {e(n.reason)}" for n in r.notes)
    if r.status == "insufficient_data":
        thin = [ev for ev in r.evidence if ev.points == 0] or r.evidence
        parts.extend(f'<span class="meta">{e(ev.metric)}: {ev.points} points in {e(window_text(ev))}</span>'
                     for ev in thin)
    return "<br>".join(parts) or '<span class="meta">-</span>'


def _resources(resources: Sequence[ResourceResult]) -> str:
    order = {"recommended": 0, "vetoed": 1, "insufficient_data": 2, "note": 3, "no_action": 4}
    ordered = sorted(resources, key=lambda r: (order.get(r.status, 9), r.resource_kind, r.resource_id))
    rows = (f'<tr><td class="id">{e(r.resource_id)}</td><td>{e(KIND_LABELS.get(r.resource_kind, r.resource_kind))}'
            f"</td><td>{e(r.description)}</td><td class=\"num\">{e(usd(r.monthly_cost_usd))}</td>"
            f"<td>{_status(r.status)}</td><td>{_resource_outcome(r)}</td>"
            f'<td class="num">{e(usd(r.chosen.monthly_saving_usd)) if r.chosen else "-"}</td></tr>'
            for r in ordered)
    return _table(("Resource", "Kind", "What", "#Cost / month", "Status", "Action, reason and maths",
                   "#Saving / month"), rows, empty="No resource was analysed.")


def _services_table(services: Sequence[ServiceCost], total_label: str, total: float) -> str:
    rows = (f'<tr><td>{e(s.service)}</td><td>{e(s.category)}</td><td class="num">{e(usd(s.monthly_usd))}</td></tr>'
            for s in sorted(services, key=lambda s: (-s.monthly_usd, s.service)))
    foot = f'<tr><td>{e(total_label)}</td><td></td><td class="num">{e(usd(total))}</td></tr>'
    return _table(("Service", "Category", "#Per month"), rows, foot, empty="Nothing measured.")


def render_cost_report_html(report: CostReport) -> str:
    t = report.totals
    title = f"Cost report {report.period_start.isoformat()} to {report.period_end.isoformat()}"
    cards = "".join(
        f'<div class="card{cls}"><div class="label">{e(label)}</div><div class="value">{e(value)}</div></div>'
        for label, value, cls in (("Monthly cost", usd(t.monthly_cost_usd), ""),
                                  ("Potential saving a month", usd(t.potential_monthly_saving_usd), " saving"),
                                  ("Saving", pct(t.saving_pct), " saving"),
                                  ("ChurnGuard Ops' own cost a month", usd(report.footprint_monthly_usd), "")))
    category_table = _table(
        ("Category", "#Cost / month", "#Share of total", "#Potential saving", "#Saving %"),
        (f'<tr><td><span class="swatch sw-{e(c)}"></span>{e(c)}</td><td class="num">{e(usd(cost))}</td>'
         f'<td class="num">{e(share(cost, t.monthly_cost_usd))}</td><td class="num">{e(usd(saving))}</td>'
         f'<td class="num">{e(share(saving, cost))}</td></tr>' for c, cost, saving in category_rows(report)),
        f'<tr><td>All services</td><td class="num">{e(usd(t.monthly_cost_usd))}</td><td class="num">100.0 %</td>'
        f'<td class="num">{e(usd(t.potential_monthly_saving_usd))}</td>'
        f'<td class="num">{e(pct(t.saving_pct))}</td></tr>')
    legend = "".join(f'<span><span class="swatch sw-{c}"></span>{c}</span>' for c in (*CATEGORIES, "other"))
    top = _rows(_recommendation(i, r) for i, r in enumerate(report.top_recommendations, 1)) \
        or '<p class="empty">No saving found.</p>'
    others = other_recommendations(report)
    others_html = (f"<section><h2>The other recommendations ({len(others)})</h2>"
                   + _rows(_recommendation(i, r) for i, r in enumerate(others, len(report.top_recommendations) + 1))
                   + "</section>") if others else ""
    plan_rows = (f'<tr><td class="num">{p.number}</td><td>{e(p.name)}</td><td>{e(p.description)}</td>'
                 f'<td class="ids">{", ".join(e(x) for x in p.recommendations) or "-"}</td>'
                 f'<td class="num">{e(usd(p.monthly_saving_usd))}</td></tr>' for p in report.plan)
    plan_total = sum(p.monthly_saving_usd for p in report.plan)
    plan = _table(("#Phase", "Name", "What", "Resources", "#Saving / month"), plan_rows,
                  f'<tr><td></td><td>All phases</td><td></td><td></td><td class="num">{e(usd(plan_total))}</td></tr>',
                  empty="No plan: nothing to change.")
    anomaly_rows = (f'<tr><td class="anomaly">{e(a.day.isoformat())}</td><td>{e(a.service)}</td>'
                    f'<td class="num">{e(usd(a.usd))}</td><td class="num">{e(usd(a.baseline_7d_usd))}</td>'
                    f'<td class="num">{a.ratio_7d:.2f}x</td><td class="num">{e(usd(a.baseline_28d_usd))}</td>'
                    f'<td class="num">{a.ratio_28d:.2f}x</td><td>{e(a.reason)}</td></tr>'
                    for a in sorted(report.anomalies, key=lambda a: (a.day, a.service)))
    anomalies = _table(("Day", "Service", "#Cost", "#7-day baseline", "#Ratio", "#28-day baseline", "#Ratio",
                        "Why"), anomaly_rows, empty="No anomaly in the period.")
    u = report.api_usage
    calls = _table(("Call", "#Count"), (f'<tr><td class="id">{e(k)}</td><td class="num">{v}</td></tr>'
                                        for k, v in sorted(u.calls.items())), empty="No call recorded.")
    price_rows = (f"<tr><td>{e(p.description)}</td><td class=\"num\">{e(unit_price(p))}</td>"
                  f"<td>{e(SOURCE_LABELS.get(p.source, p.source))}</td><td>{e(p.as_of.isoformat())}</td></tr>"
                  for p in unique_prices(report.prices))
    prices = _table(("Price", "#Unit price", "Source", "As of"), price_rows, empty="No price was used.")
    notes = _rows(f"<p>{e(n)}</p>" for n in report.notes)
    return page(title, _CSS, f"""<header>
<h1>Cost report</h1>
<p class="meta">Cost Explorer period {e(period(report.period_start, report.period_end))}; daily costs
{e(daily_range(report))}; utilisation over the last {report.lookback_days} days. Generated
{e(report.generated_at.isoformat())}. Amounts are US dollars; a month is 730 hours.</p>
<div class="cards">{cards}</div>
<p>{e(status_counts(report.resources))}</p>
</header>
<section id="categories">
<h2>Cost and savings by category</h2>
{category_table}
</section>
<section id="charts">
<h2>Charts</h2>
<h3>Monthly cost by service</h3>
<p class="legend">{legend}</p>
{cost_by_service_chart(report.services)}
<h3>Daily cost, with anomalies circled in red</h3>
{daily_trend_chart(report.daily, report.anomalies)}
<h3>Top savings</h3>
{top_savings_chart(report.top_recommendations)}
</section>
<section id="recommendations">
<h2>Top recommendations</h2>
{top}
</section>
{others_html}
<section id="plan">
<h2>The plan, phase by phase</h2>
{plan}
</section>
<section id="resources">
<h2>Every resource and what was concluded</h2>
{_resources(report.resources)}
</section>
<section id="anomalies">
<h2>Anomalies</h2>
{anomalies}
</section>
<section id="footprint">
<h2>Our own footprint</h2>
<p>{e(footprint_sentence(report))}</p>
{_services_table(report.footprint, "ChurnGuard Ops", report.footprint_monthly_usd)}
</section>
<section id="api-usage">
<h2>What this report cost in API calls</h2>
<p>{e(api_usage_sentence(u))}</p>
{calls}
</section>
<section id="prices">
<h2>Prices used and where they came from</h2>
{prices}
</section>
<footer>{notes}</footer>
""")
