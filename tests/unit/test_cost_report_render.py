"""The cost report rendered: the HTML page (self-contained, escaped, every number and its maths), its inline SVG
charts (cost by service, the daily trend with its anomalies marked, top savings) and the Markdown version."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone
from html import escape

import pytest

from churnguard_ops.cost.charts import (
    cost_by_service_chart,
    daily_totals,
    daily_trend_chart,
    nice_ceiling,
    top_savings_chart,
)
from churnguard_ops.cost.model import (
    Anomaly,
    ApiUsage,
    CostReport,
    DailyCost,
    ServiceCost,
    Totals,
)
from churnguard_ops.cost.report_html import SOURCE_LABELS, STATUS_LABELS, render_cost_report_html
from churnguard_ops.cost.report_markdown import code, md, render_cost_report_markdown
from tests.cost_sample import ANOMALY_DAY, ANOMALY_SERVICE, DAYS, HOSTILE, sample_inventory, sample_report

ESCAPED_HOSTILE = ("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt; | **bold** "
                   "[x](javascript:alert(3)) $1 `tick`")


@pytest.fixture(scope="module")
def report() -> CostReport:
    return sample_report()


@pytest.fixture(scope="module")
def page(report: CostReport) -> str:
    return render_cost_report_html(report)


@pytest.fixture(scope="module")
def markdown(report: CostReport) -> str:
    return render_cost_report_markdown(report)


def svg(page: str, chart_id: str) -> str:
    match = re.search(rf'<svg class="chart" id="{chart_id}".*?</svg>', page, re.S)
    assert match, f"no {chart_id} in the page"
    return match.group(0)


def empty_report() -> CostReport:
    return CostReport(generated_at=datetime(2026, 11, 5, tzinfo=timezone.utc), period_start=date(2026, 10, 1),
                      period_end=date(2026, 11, 1), lookback_days=14,
                      totals=Totals(monthly_cost_usd=0, potential_monthly_saving_usd=0, saving_pct=0, by_category={}),
                      services=[], daily=[], anomalies=[], resources=[], top_recommendations=[], plan=[],
                      footprint=[], footprint_monthly_usd=0, api_usage=ApiUsage(), prices=[])


# -- the sample itself ------------------------------------------------------------------------------------

def test_the_sample_is_a_realistic_and_consistent_report(report: CostReport) -> None:
    assert sample_inventory().size() == 21 and len(sample_inventory().ec2) == 12
    assert {r.status for r in report.resources} == set(STATUS_LABELS)
    assert len({d.day for d in report.daily}) == DAYS
    assert report.totals.monthly_cost_usd == pytest.approx(sum(s.monthly_usd for s in report.services))
    chosen = [r.chosen for r in report.resources if r.chosen]
    assert report.totals.potential_monthly_saving_usd == pytest.approx(sum(r.monthly_saving_usd for r in chosen))
    assert sum(p.monthly_saving_usd for p in report.plan) == pytest.approx(report.totals.potential_monthly_saving_usd)
    for rec in chosen:  # the maths redoes: the formula ends with the saving, the prices give it
        assert rec.maths is not None and rec.maths.formula.endswith(f"${rec.monthly_saving_usd:,.2f}")
        assert rec.maths.current_monthly_usd - rec.maths.proposed_monthly_usd == pytest.approx(rec.monthly_saving_usd)


# -- HTML ----------------------------------------------------------------------------------------------------

def test_the_page_is_self_contained_with_a_strict_csp_and_no_url(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; img-src data:\">") in page
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"(src|href|xlink:href)\s*=|<link|<script|<iframe|<object|<img|@import|url\(|//[a-z]",
                         page, re.I)


def test_the_headline_totals_and_the_category_breakdown_are_shown(page: str) -> None:
    assert "$4,618.43" in page and "$1,250.23" in page and "27.1 %" in page and "$2.45" in page
    for category, cost, saving, pct in (("compute", "$1,873.10", "$580.79", "31.0 %"),
                                        ("database", "$1,598.58", "$312.44", "19.5 %"),
                                        ("storage", "$942.25", "$357.00", "37.9 %")):
        row = re.search(rf"<tr><td><span class=\"swatch sw-{category}\"></span>{category}</td>.*?</tr>", page)
        assert row and cost in row.group(0) and saving in row.group(0) and pct in row.group(0)
    assert "21 resources analysed: 12 recommended, 4 no action, 3 insufficient data, 1 vetoed, 1 note" in page


def test_every_resource_shows_its_status_and_why(page: str, report: CostReport) -> None:
    table = page[page.index('<section id="resources">'):page.index('<section id="anomalies">')]
    rows = re.findall(r"<tr><td class=\"id\">.*?</tr>", table, re.S)
    assert len(rows) == len(report.resources)
    for result in report.resources:
        row = next(r for r in rows if f'<td class="id">{result.resource_id}</td>' in r)
        assert f'class="status status-{result.status}">{STATUS_LABELS[result.status]}</span>' in row
        if result.reason:
            assert escape(result.reason) in row
        if result.chosen:
            assert escape(result.chosen.action) in row and result.chosen.maths
            assert escape(result.chosen.maths.formula) in row
    vetoed = next(r for r in rows if "status-vetoed" in r)
    assert "Tagged churnguard:cost-keep=true" in vetoed
    assert "Vetoed candidate: Downsize c5.xlarge -&gt; c5.large (would save $62.05 a month)." in vetoed
    no_memory = next(r for r in rows if "i-0a1b2c3d4e5f60006" in r)
    assert "Insufficient data" in no_memory and "memory: 0 points in 14 days at 1 h" in no_memory
    note = next(r for r in rows if "churnguard-prod" in r)
    assert "Note: Review the 35-day backup retention" in note


def test_every_saving_shows_its_maths_prices_sources_hours_and_evidence(page: str, report: CostReport) -> None:
    articles = re.findall(r'<article class="rec">.*?</article>', page, re.S)
    chosen = [r.chosen for r in report.resources if r.chosen]
    assert len(articles) == len(chosen)  # the top ones, then the others: every recommendation
    for rec in chosen:
        article = next(a for a in articles if f'<span class="id">{rec.resource_id}</span>' in a)
        assert rec.maths and f"<code>{rec.maths.formula}</code>" in article
        assert f"{rec.maths.hours_per_month} hours per month" in article
        for price in rec.maths.current + rec.maths.proposed:
            assert f"${price.usd:,.4f} per {price.unit}" in article
            assert f"<td>{SOURCE_LABELS[price.source]}</td><td>{price.as_of.isoformat()}</td>" in article
        for ev in rec.evidence:
            assert f"{ev.namespace} {ev.name}, {ev.statistic}" in article and f"{ev.window_days} days at 1 h" in article
            assert f'<td class="num">{ev.average:,.1f}</td><td class="num">{ev.p95:,.1f}</td>' in article
            assert f'<td class="num">{ev.points}</td>' in article
    idle = next(a for a in articles if "Stop the idle instance" in a)
    assert "0.3840 $/h x 730 h = $280.32" in idle and "nothing (the resource goes)" in idle
    assert "AWS Price List API" in idle and "2026-11-05" in idle


def test_the_plan_anomalies_footprint_api_usage_prices_and_notes_are_shown(page: str, report: CostReport) -> None:
    plan = page[page.index('<section id="plan">'):page.index('<section id="resources">')]
    for phase in report.plan:
        assert f"<td>{phase.name}</td>" in plan and f"${phase.monthly_saving_usd:,.2f}" in plan
    assert "All phases" in plan and "$1,250.23" in plan
    anomalies = page[page.index('<section id="anomalies">'):page.index('<section id="footprint">')]
    assert f'<td class="anomaly">{ANOMALY_DAY.isoformat()}</td><td>{ANOMALY_SERVICE}</td>' in anomalies
    assert "1.9 TB out to the internet" in anomalies
    assert ("ChurnGuard Ops costs $2.45 a month and found $1,250.23 a month of potential savings: 510 times its own "
            "cost (net $1,247.78 a month).") in page
    assert ("Cost Explorer: 3 request(s), $0.03. CloudWatch: 74 metric series in 1 GetMetricData call(s). "
            "16 AWS API calls in all.") in page
    assert '<td class="id">pricing:GetProducts</td><td class="num">9</td>' in page
    prices = page[page.index('<section id="prices">'):page.index("<footer>")]
    for price in report.prices:
        assert (f"<td>{price.description}</td><td class=\"num\">${price.usd:,.4f} per {price.unit}</td>"
                f"<td>{SOURCE_LABELS[price.source]}</td><td>{price.as_of.isoformat()}</td>") in prices
    assert "bundled price table" in prices and "AWS Price List API" in prices
    assert "reserved instances and savings plans are not applied" in page


def test_the_html_escapes_hostile_strings_everywhere() -> None:
    page = render_cost_report_html(sample_report(hostile=HOSTILE))
    assert "<script" not in page and "<img" not in page and "onerror=alert(2)>" not in page
    assert "&lt;script&gt;" in page
    assert page.count(ESCAPED_HOSTILE) >= 4  # a note, a phase, a veto reason, a description
    assert page.count("<title id=") == 3  # the charts' own titles, none injected
    assert "http://" not in page and "https://" not in page


def test_the_cost_by_service_chart_has_a_bar_per_service_coloured_by_category(page: str, report: CostReport) -> None:
    chart = svg(page, "chart-services")
    assert chart.count("<rect ") == len(report.services)
    assert 'viewBox="0 0 720 ' in chart and 'role="img"' in chart
    assert '<title id="chart-services-title">Monthly cost by service</title>' in chart
    assert "Amazon Elastic Compute Cloud - Compute: $1,834.35" in chart  # the description for screen readers
    assert 'fill="#0969da"' in chart and 'fill="#8250df"' in chart and 'fill="#1a7f37"' in chart
    many = [ServiceCost(service=f"s{i:02d}", monthly_usd=100 - i) for i in range(15)]
    capped = cost_by_service_chart(many, limit=12)
    assert capped.count("<rect ") == 13 and "3 other services: $261.00 per month" in capped


def test_the_daily_trend_marks_each_anomaly_day_with_a_circle_and_a_tooltip(page: str, report: CostReport) -> None:
    chart = svg(page, "chart-daily")
    assert chart.count('<path class="line"') == 1 and chart.count('<path class="area"') == 1
    assert chart.count('<circle class="day"') == DAYS
    marks = re.findall(r'<g class="anomaly"><title>(.*?)</title>(.*?)</g>', chart)
    assert len(marks) == 1
    tooltip, circles = marks[0]
    assert tooltip.startswith(f"Anomaly on {ANOMALY_DAY.isoformat()}: {ANOMALY_SERVICE}: $174.60")
    assert "7-day baseline" in tooltip and "28-day baseline" in tooltip and circles.count("<circle") == 2
    totals = dict(daily_totals(report.daily))
    assert max(totals, key=lambda d: totals[d]) == ANOMALY_DAY  # the spike is the day's peak, where the circle is


def test_two_anomalies_on_one_day_make_one_mark_and_days_outside_the_series_none() -> None:
    daily = [DailyCost(day=date(2026, 10, d), service=s, usd=10.0) for d in range(1, 11) for s in ("a", "b")]
    anomalies = [Anomaly(service=s, day=date(2026, 10, 5), usd=40, baseline_7d_usd=10, baseline_28d_usd=10,
                         ratio_7d=4, ratio_28d=4, reason=f"{s} <spiked>") for s in ("a", "b")]
    anomalies.append(anomalies[0].model_copy(update={"day": date(2026, 12, 1)}))
    chart = daily_trend_chart(daily, anomalies)
    assert chart.count('<g class="anomaly">') == 1
    assert "a: $40.00" in chart and "b: $40.00" in chart and "&lt;spiked&gt;" in chart and "<spiked>" not in chart


def test_the_top_savings_chart_has_a_bar_per_saving_largest_first(page: str, report: CostReport) -> None:
    chart = svg(page, "chart-savings")
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', chart)]
    assert len(widths) == len(report.top_recommendations) and widths == sorted(widths, reverse=True)
    assert "Stop the idle instance (i-0a1b2c3d4e5f60008): saves $280.32 per month" in chart


def test_each_chart_is_well_formed_svg_with_escaped_text() -> None:
    hostile = sample_report(hostile=HOSTILE)
    for chart in (cost_by_service_chart(hostile.services), daily_trend_chart(hostile.daily, hostile.anomalies),
                  top_savings_chart(hostile.top_recommendations)):
        root = ET.fromstring(chart)  # parses as XML: every text and attribute escaped
        assert root.tag == "svg" and root.get("viewBox") and root.find("title") is not None
        assert "<script" not in chart


def test_an_empty_report_renders_and_says_so_everywhere() -> None:
    page = render_cost_report_html(empty_report())
    for message in ("No saving found.", "No anomaly in the period.", "No resource was analysed.",
                    "No plan: nothing to change.", "No price was used.", "No call recorded.", "No daily costs.",
                    "No resource analysed.", "ChurnGuard Ops costs nothing measurable"):
        assert message in page, message
    assert page.count('<svg class="chart"') == 3 and "No data." in page
    markdown = render_cost_report_markdown(empty_report())
    assert "_No saving found._" in markdown and "_No anomaly in the period._" in markdown


def test_axis_maxima_are_round_numbers() -> None:
    assert [nice_ceiling(v) for v in (0, 0.7, 1, 3, 7.5, 151, 999, 2600)] == [1, 1, 1, 5, 10, 200, 1000, 5000]


# -- Markdown ------------------------------------------------------------------------------------------------

def cells(row: str) -> list[str]:
    """A GitHub table row's cells: split on the pipes that are not escaped."""
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def test_the_markdown_has_the_same_content_in_tables(markdown: str, report: CostReport) -> None:
    assert markdown.startswith("# Cost report\n")
    assert "- **Monthly cost:** \\$4,618.43" in markdown and "\\$1,250.23 a month (27.1 %)" in markdown
    assert "| storage | \\$942.25 | 20.4 % | \\$357.00 | 37.9 % |" in markdown
    for result in report.resources:
        row = next(line for line in markdown.splitlines() if line.startswith(f"| `{result.resource_id}` |"))
        assert f"**{STATUS_LABELS[result.status]}**" in row
        if result.reason:
            assert md(result.reason) in row
        if result.chosen and result.chosen.maths:
            assert code(result.chosen.maths.formula) in row
    for rec in (r.chosen for r in report.resources if r.chosen):
        assert rec.maths and f"Maths: `{rec.maths.formula}`" in markdown
    for heading in ("## Cost and savings by category", "## Cost by service", "## Top recommendations",
                    "## The other recommendations (4)", "## The plan, phase by phase",
                    "## Every resource and what was concluded", "## Anomalies", "## Our own footprint",
                    "## What this report cost in API calls", "## Prices used and where they came from", "## Notes"):
        assert f"\n{heading}\n" in markdown, heading
    assert f"| **{ANOMALY_DAY.isoformat()}** | {ANOMALY_SERVICE} | \\$174.60 |" in markdown
    assert "| cpu (AWS/EC2 CPUUtilization, Average) | 6.2 | 14.1 | 22.5 | Percent | 336 | 14 days at 1 h |" in markdown
    assert "| Quick wins |" in markdown and "| **All phases** |" in markdown and "16 AWS API calls in all" in markdown
    assert ("| RDS db.m5.large PostgreSQL Single-AZ, us-east-1 | \\$0.1780 per hour | bundled price table "
            "| 2026-06-01 |") in markdown


def test_every_markdown_table_row_keeps_its_columns_even_with_hostile_text() -> None:
    markdown = render_cost_report_markdown(sample_report(hostile=HOSTILE))
    assert "<script" not in markdown and "<img" not in markdown
    assert "\\*\\*bold\\*\\*" in markdown and "\\[x\\](javascript:alert(3))" in markdown and "\\$1" in markdown
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("| ---") or line.startswith("| ---:"):
            width = len(cells(lines[i - 1]))
            for row in lines[i + 1:]:
                if not row.startswith("|"):
                    break
                assert len(cells(row)) == width, row


def test_markdown_escaping() -> None:
    assert md("a|b *c* _d_ [e](f) <g> & $5 ~~h~~") == "a\\|b \\*c\\* \\_d\\_ \\[e\\](f) &lt;g> &amp; \\$5 \\~\\~h\\~\\~"
    assert [md(t) for t in ("# x", "- x", "+ x", "> x", "12. x", "3) x", "line\nbreak")] == [
        "\\# x", "\\- x", "\\+ x", "\\> x", "12\\. x", "3\\) x", "line break"]
    assert code("a`b") == "``a`b``" and code("`a") == "`` `a ``" and code("x|y") == "`x\\|y`"
