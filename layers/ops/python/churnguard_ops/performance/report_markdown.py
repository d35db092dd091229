"""The performance report as Markdown: per metric statistics, violations, trend; recommendations with their
numbers; the definitions the figures follow."""
from __future__ import annotations

from churnguard_ops.performance.model import MetricReport, PerformanceReport


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _trend(m: MetricReport) -> str:
    if m.trend.delta is None:
        return "-"
    pct = f" ({m.trend.pct:+.1f} %)" if m.trend.pct is not None else ""
    return f"{m.trend.delta:+,.2f}{pct}"


def render_markdown(report: PerformanceReport) -> str:
    lines = [
        f"# Performance report: {report.hours} h",
        "",
        f"Window {report.window_start:%Y-%m-%d %H:%M} to {report.window_end:%Y-%m-%d %H:%M} UTC, "
        f"{report.period_seconds // 60}-minute periods; trend against the {report.hours} h before. "
        f"{report.cloudwatch_queries} metric queries in {report.cloudwatch_calls} GetMetricData call(s).",
        "",
        "| Metric | Resource | Threshold | Avg | Min | Max | p95 | p99 | Over | Worst | Trend (avg) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for m in report.metrics:
        c = m.current
        lines.append(f"| {_cell(m.label)} ({m.unit}) | {_cell(m.resource)} | {_n(m.threshold)} | {_n(c.average)} | "
                     f"{_n(c.minimum)} | {_n(c.maximum)} | {_n(c.p95)} | {_n(c.p99)} | {c.violations}/{c.periods} | "
                     f"{c.worst_severity or '-'} | {_trend(m)} |")
    lines += ["", "## Recommendations", ""]
    if report.recommendations:
        lines += [f"- **{_cell(r.advice)}** {_cell(r.evidence)}" for r in report.recommendations]
    else:
        lines.append("None: no rule's figure reached its threshold in this window.")
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {_cell(n)}" for n in report.notes]
    lines += ["", "## How the figures are computed", "", report.definitions, ""]
    return "\n".join(lines)
