"""The weekly security report as one self-contained, readable HTML page.

Inline CSS only, no script, no external asset (a Content-Security-Policy says so, so a page opened from S3
or a mail client loads nothing from anywhere). Every text that comes from data (organization ids, entities,
detector names, reasons) is escaped with ``html.escape``: organization ids and entities come from the
application's events and are untrusted.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from html import escape
from typing import TYPE_CHECKING

from churnguard_ops.core.html import page

if TYPE_CHECKING:
    from churnguard_ops.security.report import OrgSecurityReport, TrendItem

METRIC_LABELS = {
    "risk_score": "Risk score",
    "alerts": "Alerts",
    "critical_events": "Critical alerts",
    "high_events": "High alerts",
    "failed_logins": "Failed logins",
    "data_exports": "Data exports",
    "privilege_changes": "Privilege changes",
    "gdpr_requests_overdue": "Overdue GDPR requests",
    "unique_entities": "Distinct entities alerted on",
    "total_events": "Events",
}
#: Metrics where more is neither better nor worse (the volume of activity).
NEUTRAL_METRICS = frozenset({"total_events", "data_exports"})
ARROWS = {"up": "&#9650;", "down": "&#9660;", "flat": "&#8211;"}  # ▲ ▼ –

_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;background:#f6f8fa;
margin:0;line-height:1.45}
main{max-width:960px;margin:0 auto;padding:24px}
header,section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin-bottom:16px}
h1{font-size:1.5em;margin:0 0 4px}h2{font-size:1.15em;margin:0 0 12px}
.org{font-size:1.1em;font-weight:600;word-break:break-all}.meta{color:#57606a;font-size:.9em}
.badge{display:inline-block;padding:6px 14px;border-radius:16px;font-weight:700;color:#fff;margin-top:8px}
.level-high{background:#cf222e}.level-medium{background:#bf8700}.level-low{background:#1a7f37}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eaeef2;
vertical-align:top}th{background:#f6f8fa;font-weight:600}td.num,th.num{text-align:right;white-space:nowrap}
.sev{font-weight:600;text-transform:uppercase;font-size:.8em}.sev-critical{color:#a40e26}.sev-high{color:#cf222e}
.sev-medium{color:#9a6700}.sev-low{color:#57606a}
.worse{color:#cf222e}.better{color:#1a7f37}.neutral{color:#57606a}
.entity{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em;word-break:break-all}
ol li{margin-bottom:6px}.empty{color:#57606a}footer{color:#57606a;font-size:.85em}
.partial{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px}
"""


def e(value: object) -> str:
    """Escaped text (quotes too: safe in attributes)."""
    return escape(str(value), quote=True)


def _trend_cell(item: TrendItem) -> str:
    if item.metric in NEUTRAL_METRICS or item.direction == "flat":
        tone = "neutral"
    else:  # every other metric counts trouble: up is worse
        tone = "worse" if item.direction == "up" else "better"
    label = {"up": "up", "down": "down", "flat": "unchanged"}[item.direction]
    if item.direction == "flat":
        return f'<td class="num {tone}" title="{e(label)}">{ARROWS["flat"]} 0</td>'
    change = f" ({item.change_pct:+.1f} %)" if item.change_pct is not None else ""
    return (f'<td class="num {tone}" title="{e(label)}">{ARROWS[item.direction]} '
            f"{item.delta:+d}{e(change)}</td>")


def _rows(rows: Iterable[str]) -> str:
    return "\n".join(rows)


def render_report_html(report: OrgSecurityReport) -> str:
    risk, summary = report.risk, report.summary
    last_day = report.week_end - timedelta(days=1)
    title = f"Security report: {report.organization_id}, week of {report.week_start.isoformat()}"
    trend_rows = _rows(
        f"<tr><td>{e(METRIC_LABELS.get(t.metric, t.metric))}</td><td class=\"num\">{t.this_week}</td>"
        f"<td class=\"num\">{t.last_week}</td>{_trend_cell(t)}</tr>" for t in report.trend)
    factor_rows = _rows(f"<tr><td>{e(f.detail)}</td><td class=\"num\">{f.points}</td></tr>" for f in risk.factors) \
        or '<tr><td class="empty">No risk factor this week.</td><td class="num">0</td></tr>'
    capped = f" (capped at 100 from {risk.uncapped})" if risk.uncapped > risk.score else ""
    recommendations = _rows(
        f'<li><span class="sev sev-{e(r.priority)}">{e(r.priority)}</span> {e(r.text)}</li>'
        for r in report.recommendations)
    if report.breakdown:
        breakdown_rows = _rows(
            f"<tr><td>{e(b.detector)}</td><td><span class=\"sev sev-{e(b.severity)}\">{e(b.severity)}</span></td>"
            f"<td class=\"num\">{b.alerts}</td><td class=\"num\">{b.entities}</td><td>"
            + ", ".join(f'<span class="entity">{e(t.entity)}</span> ({t.alerts})' for t in b.top_entities)
            + f"</td><td>{e(b.recommended_action)}</td></tr>" for b in report.breakdown)
        breakdown = ("<table><thead><tr><th>Detector</th><th>Severity</th><th class=\"num\">Alerts</th>"
                     "<th class=\"num\">Entities</th><th>Top entities</th><th>Recommended action</th></tr></thead>"
                     f"<tbody>{breakdown_rows}</tbody></table>")
    else:
        breakdown = '<p class="empty">No alerts this week.</p>'
    if report.event_counts:
        count_rows = _rows(f"<tr><td class=\"entity\">{e(k)}</td><td class=\"num\">{v}</td></tr>"
                           for k, v in sorted(report.event_counts.items(), key=lambda kv: (-kv[1], kv[0])))
        events = ("<table><thead><tr><th>Event type</th><th class=\"num\">Events</th></tr></thead>"
                  f"<tbody>{count_rows}</tbody></table>")
    else:
        events = '<p class="empty">No events counted this week.</p>'
    partial = ('<p class="partial">Generated before the week ended: the counts are not final.</p>'
               if report.partial else "")
    generated = f" &middot; generated {e(report.generated_at.isoformat())}" if report.generated_at else ""
    notes = _rows(f"<p>{e(n)}</p>" for n in report.notes)
    return page(title, _CSS, f"""<header>
<h1>Weekly security report</h1>
<p class="org">{e(report.organization_id)}</p>
<p class="meta">Week {e(report.week_start.isoformat())} to {e(last_day.isoformat())} (Monday 00:00 UTC to Monday
00:00 UTC){generated}</p>
<span class="badge level-{e(risk.level)}">Risk {e(risk.level.upper())} &middot; {risk.score} / 100</span>
{partial}
</header>
<section>
<h2>Summary and trend</h2>
<table><thead><tr><th>Metric</th><th class="num">This week</th><th class="num">Last week</th>
<th class="num">Change</th></tr></thead>
<tbody>{trend_rows}</tbody></table>
</section>
<section>
<h2>Recommendations</h2>
<ol>{recommendations}</ol>
</section>
<section>
<h2>Risk score: {risk.score}{e(capped)}</h2>
<table><thead><tr><th>Factor</th><th class="num">Points</th></tr></thead><tbody>{factor_rows}</tbody></table>
<p class="meta">critical alerts &times; 25 + high alerts &times; 10, +15 above 50 failed logins, +30 if any GDPR
request is overdue, at most 100. High from 50, medium from 25. Last week: {report.last_week_risk.score}
({e(report.last_week_risk.level)}).</p>
</section>
<section>
<h2>Alerts by detector</h2>
{breakdown}
</section>
<section>
<h2>Events by type</h2>
{events}
</section>
<footer>{notes}<p>Alerts counted: {summary.alerts}.</p></footer>
""")
