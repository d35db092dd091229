"""opsctl perf: bad input is one line and exit code 2 before anything starts; the summaries say what was found."""
from __future__ import annotations

import pytest

from opsctl import cli
from opsctl.commands.perf import Run, check_lines, report_event, report_lines


@pytest.mark.parametrize(("argv", "message"), [
    (["perf", "report", "--hours", "0"], "--hours 0: Input should be greater than or equal to 1"),
    (["perf", "report", "--hours", "745"], "--hours 745: Input should be less than or equal to 744"),
    (["perf", "report", "--end", "yesterday"], "--end yesterday: Value error, not an ISO 8601 time: 'yesterday'"),
])
def test_bad_report_input_is_one_line_and_exit_code_2(argv: list[str], message: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_the_report_event_carries_only_what_was_asked() -> None:
    assert report_event(None, None) == {}
    assert report_event(6, "2026-11-30T10:00:00Z") == {"hours": 6, "end": "2026-11-30T10:00:00Z"}


HEADLINE = {"hours": 24, "window_start": "2026-11-29T09:00:00+00:00", "window_end": "2026-11-30T09:00:00+00:00",
            "metrics": 16, "with_data": 16, "breaching": {"api_latency_p99#churnguard-api": "high"}, "violations": 6,
            "recommendations": 1, "cloudwatch_queries": 16, "cloudwatch_calls": 1,
            "reports": {"json": "s3://b/performance/reports/x/report.json"}}
P99 = {"key": "api_latency_p99#churnguard-api", "label": "API latency p99", "resource": "churnguard-api",
       "unit": "ms", "threshold": 2000.0,
       "current": {"periods": 24, "average": 1775.0, "maximum": 2600.0, "violations": 6, "worst_severity": "high"},
       "trend": {"delta": 325.0, "pct": 22.41}}


def test_the_report_summary_names_the_breach_its_ratio_and_trend() -> None:
    run = Run("f", True, HEADLINE, report={"period_seconds": 3600, "metrics": [P99], "notes": [],
                                           "recommendations": [{"advice": "Look.", "evidence": "p99 2,600.00 ms"}]})
    lines = report_lines(run)
    assert lines[0] == ("Performance report: 24 h, 2026-11-29 09:00 to 2026-11-30 09:00 UTC (60-minute periods); "
                        "trend against the 24 h before")
    assert ("  HIGH      API latency p99 churnguard-api: max 2,600.00 ms (1.30x 2,000.00), 6 of 24 periods; "
            "average 1,775.00 (+325.00, +22.4 %)") in lines
    assert "  CloudWatch    16 metric queries in 1 GetMetricData call(s) (500 per call)" in lines
    assert "  - Look.\n      p99 2,600.00 ms" in lines


def test_the_check_summary_says_when_dedup_held_an_alert_back() -> None:
    headline = {"checked_at": "2026-11-30T10:05:00+00:00", "series": 16, "with_data": 16,
                "breaching": {"api_latency_p99#churnguard-api": "high"}, "alerts": [], "skipped_claims": [],
                "no_data": [], "notes": [], "cloudwatch_queries": 16, "cloudwatch_calls": 1}
    lines = check_lines(Run("f", True, headline))
    assert lines[1] == "  HIGH      api_latency_p99#churnguard-api"
    assert lines[2].startswith("No alert sent: nothing newly over threshold")
