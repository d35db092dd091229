"""The cost report's charts as inline SVG: pure functions from the report's data to a string.

No script and no external asset: each chart is an ``<svg>`` element meant to sit inside the HTML page (it has
no ``xmlns``, which the HTML parser supplies, so the page holds no URL at all). Every text from data (service
names, resource ids, actions, anomaly reasons) is escaped. Each chart has a ``viewBox`` (it scales with the
page), ``role="img"`` and a ``<title>``/``<desc>`` pair for screen readers; bars and points carry their own
``<title>``, which browsers show as a tooltip. An empty series renders a chart that says so.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from html import escape

from churnguard_ops.cost.model import Anomaly, DailyCost, Recommendation, ServiceCost

CATEGORY_COLOURS = {"compute": "#0969da", "database": "#8250df", "storage": "#1a7f37", "other": "#6e7781"}
LINE_COLOUR = "#0969da"
ANOMALY_COLOUR = "#cf222e"
SAVING_COLOUR = "#1a7f37"
_FONT = 'font-family="-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif"'


def e(value: object) -> str:
    """Escaped text (quotes too: safe in attributes)."""
    return escape(str(value), quote=True)


def usd(value: float, decimals: int = 2) -> str:
    return f"-${abs(value):,.{decimals}f}" if value < 0 else f"${value:,.{decimals}f}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _open(chart_id: str, width: int, height: int, title: str, desc: str) -> str:
    cid = e(chart_id)
    return (f'<svg class="chart" id="{cid}" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-labelledby="{cid}-title {cid}-desc" {_FONT} font-size="12">'
            f'<title id="{cid}-title">{e(title)}</title><desc id="{cid}-desc">{e(desc)}</desc>')


def _empty(chart_id: str, title: str, message: str, width: int = 720, height: int = 80) -> str:
    return (_open(chart_id, width, height, title, message)
            + f'<text class="empty" x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" '
              f'fill="#57606a">{e(message)}</text></svg>')


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^n at or above ``value`` (an axis maximum that reads well)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value * (1 - 1e-9):
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def horizontal_bars(chart_id: str, title: str, rows: Sequence[tuple[str, float, str, str]], *,
                    width: int = 720, label_width: int = 260, bar_height: int = 22, gap: int = 8) -> str:
    """Bars from the left, largest first as given: ``rows`` are (label, value, colour, tooltip)."""
    if not rows:
        return _empty(chart_id, title, "No data.")
    top, value_width = 8, 96
    height = top * 2 + len(rows) * (bar_height + gap) - gap
    plot = width - label_width - value_width
    peak = max(value for _, value, _, _ in rows) or 1.0
    desc = "; ".join(f"{label}: {usd(value)}" for label, value, _, _ in rows)
    parts = [_open(chart_id, width, height, title, desc)]
    for index, (label, value, colour, tooltip) in enumerate(rows):
        y = top + index * (bar_height + gap)
        length = max(plot * max(value, 0.0) / peak, 1.0)
        mid = y + bar_height / 2 + 4
        parts.append(
            f'<g class="bar"><title>{e(tooltip)}</title>'
            f'<text x="{label_width - 8}" y="{mid:.1f}" text-anchor="end" fill="#1f2328">'
            f"{e(_short(label, int(label_width / 6.6)))}</text>"
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" rx="3" fill="{e(colour)}"/>'
            f'<text x="{label_width + length + 6:.1f}" y="{mid:.1f}" fill="#1f2328">{e(usd(value))}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def cost_by_service_chart(services: Sequence[ServiceCost], limit: int = 12, chart_id: str = "chart-services") -> str:
    """Monthly cost per service, largest first, coloured by category; the rest summed into one bar."""
    ordered = sorted(services, key=lambda s: (-s.monthly_usd, s.service))
    shown = ordered[:limit]
    rows = [(s.service, s.monthly_usd, CATEGORY_COLOURS.get(s.category, CATEGORY_COLOURS["other"]),
             f"{s.service} ({s.category}): {usd(s.monthly_usd)} per month") for s in shown]
    rest = ordered[limit:]
    if rest:
        total = sum(s.monthly_usd for s in rest)
        rows.append((f"{len(rest)} other services", total, CATEGORY_COLOURS["other"],
                     f"{len(rest)} other services: {usd(total)} per month"))
    return horizontal_bars(chart_id, "Monthly cost by service", rows)


def top_savings_chart(recommendations: Sequence[Recommendation], limit: int = 10,
                      chart_id: str = "chart-savings") -> str:
    """The largest monthly savings, one bar per recommendation (notes carry none and are left out)."""
    ordered = sorted((r for r in recommendations if not r.note and r.monthly_saving_usd > 0),
                     key=lambda r: (-r.monthly_saving_usd, r.resource_id))[:limit]
    rows = [(f"{r.resource_id}: {r.action}", r.monthly_saving_usd, SAVING_COLOUR,
             f"{r.action} ({r.resource_id}): saves {usd(r.monthly_saving_usd)} per month") for r in ordered]
    return horizontal_bars(chart_id, "Top monthly savings", rows, label_width=400)


def daily_totals(daily: Sequence[DailyCost]) -> list[tuple[date, float]]:
    """The total of every service per day, in day order."""
    totals: dict[date, float] = defaultdict(float)
    for item in daily:
        totals[item.day] += item.usd
    return sorted(totals.items())


def daily_trend_chart(daily: Sequence[DailyCost], anomalies: Sequence[Anomaly], *, width: int = 720,
                      height: int = 260, chart_id: str = "chart-daily") -> str:
    """The total cost per day as an area under a line; each day with an anomaly is a red circle whose
    tooltip names the service, its cost and the baselines it was compared with."""
    points = daily_totals(daily)
    title = "Daily cost, all services"
    if not points:
        return _empty(chart_id, title, "No daily costs.")
    left, right, top, bottom = 64, 16, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    ceiling = nice_ceiling(max(v for _, v in points))
    first = points[0][0]
    span = max((points[-1][0] - first).days, 1)

    def x_of(day: date) -> float:
        return left + plot_w * ((day - first).days / span if len(points) > 1 else 0.5)

    def y_of(value: float) -> float:
        return top + plot_h * (1 - value / ceiling)

    by_day: dict[date, list[Anomaly]] = defaultdict(list)
    for anomaly in anomalies:  # marked on the line where the series has the day
        if first <= anomaly.day <= points[-1][0]:
            by_day[anomaly.day].append(anomaly)
    total_of = dict(points)
    desc = (f"{len(points)} days from {first.isoformat()} to {points[-1][0].isoformat()}, "
            f"{usd(min(v for _, v in points))} to {usd(max(v for _, v in points))} a day; "
            f"{len(by_day)} day(s) with an anomaly")
    parts = [_open(chart_id, width, height, title, desc)]
    for tick in range(5):  # horizontal grid and the y axis labels
        value = ceiling * tick / 4
        y = y_of(value)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eaeef2"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#57606a">'
                     f'{e(usd(value, 0))}</text>')
    step = max(1, math.ceil(len(points) / 6))
    for day, _ in points[::step]:  # x axis labels, about six of them
        x = x_of(day)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" stroke="#8c959f"/>'
                     f'<text x="{x:.1f}" y="{height - bottom + 18}" text-anchor="middle" fill="#57606a">'
                     f"{e(day.strftime('%b %d'))}</text>")
    line = " ".join(f"{'M' if i == 0 else 'L'}{x_of(d):.1f},{y_of(v):.1f}" for i, (d, v) in enumerate(points))
    base = top + plot_h
    area = f"{line} L{x_of(points[-1][0]):.1f},{base:.1f} L{x_of(first):.1f},{base:.1f} Z"
    parts.append(f'<path class="area" d="{area}" fill="{LINE_COLOUR}" fill-opacity="0.12" stroke="none"/>'
                 f'<path class="line" d="{line}" fill="none" stroke="{LINE_COLOUR}" stroke-width="2"/>')
    for day, value in points:  # a small hit area per day, so every day has its tooltip
        parts.append(f'<circle class="day" cx="{x_of(day):.1f}" cy="{y_of(value):.1f}" r="2.5" fill="{LINE_COLOUR}">'
                     f"<title>{e(day.isoformat())}: {e(usd(value))}</title></circle>")
    for day in sorted(by_day):
        value = total_of.get(day, sum(a.usd for a in by_day[day]))
        tip = "; ".join(f"{a.service}: {usd(a.usd)} ({a.ratio_7d:.1f}x the 7-day baseline of "
                        f"{usd(a.baseline_7d_usd)}, {a.ratio_28d:.1f}x the 28-day baseline of "
                        f"{usd(a.baseline_28d_usd)}). {a.reason}" for a in by_day[day])
        x, y = x_of(day), y_of(min(value, ceiling))
        parts.append(f'<g class="anomaly"><title>Anomaly on {e(day.isoformat())}: {e(tip)}</title>'
                     f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="none" stroke="{ANOMALY_COLOUR}" '
                     f'stroke-width="2.5"/>'
                     f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{ANOMALY_COLOUR}"/></g>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{base}" y2="{base}" stroke="#8c959f"/></svg>')
    return "".join(parts)
