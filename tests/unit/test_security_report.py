"""The weekly security report: the seed's summary and risk formula, breakdown, trend, recommendations, HTML,
week boundaries, and the use case writing JSON, HTML and an index from the stored alerts and tallies."""
from __future__ import annotations

import itertools
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from churnguard_ops.core.errors import OpsError
from churnguard_ops.core.fakes import MemoryDocuments
from churnguard_ops.security.model import Alert, Event, Severity
from churnguard_ops.security.report import (
    ReportSummary,
    WeeklyReports,
    WeeklyReportsIncomplete,
    build_org_report,
    last_complete_week,
    level_of,
    org_key,
    risk_of,
    summarize,
    week_bounds,
    week_start_of,
)
from churnguard_ops.security.report_html import render_report_html
from tests.unit.security_report_fakes import MemoryAlertStore, MemoryEventTally, MemoryHtmlPages

WEEK = date(2026, 11, 23)  # a Monday
START = datetime(2026, 11, 23, tzinfo=timezone.utc)
END = START + timedelta(days=7)
PREFIX = "security/reports/"
_ids = itertools.count()

SEVERITY_OF: dict[str, Severity] = {"brute_force_login": "high", "data_exfiltration": "critical",
                                    "privilege_escalation": "high", "gdpr_violation_risk": "critical",
                                    "unusual_access": "medium"}


def alert(detector: str = "brute_force_login", entity: str = "45.33.32.156", at: datetime = START + timedelta(days=2),
          org: str | None = "org-1", severity: Severity | None = None) -> Alert:
    event_id = f"e{next(_ids)}"
    return Alert(alert_id=Alert.make_id(detector, entity, event_id), detector=detector,
                 severity=severity or SEVERITY_OF.get(detector, "low"), entity=entity, count=1, window_seconds=0,
                 event_id=event_id, timestamp=at, recommended_action=f"handle {detector}", organization_id=org)


def summary(**values: int) -> ReportSummary:
    base = dict(total_events=0, alerts=0, critical_events=0, high_events=0, failed_logins=0, data_exports=0,
                privilege_changes=0, gdpr_requests_overdue=0, unique_entities=0)
    return ReportSummary(**{**base, **values})


def report(alerts: list[Alert] | None = None, last: list[Alert] | None = None, counts: dict[str, int] | None = None,
           last_counts: dict[str, int] | None = None, org: str = "org-1") -> Any:
    return build_org_report(org, WEEK, alerts or [], last or [], counts or {}, last_counts or {},
                            generated_at=END + timedelta(hours=6))


# -- summary (the seed's counts) ----------------------------------------------------------------------

def test_summary_counts_follow_the_seed() -> None:
    alerts = [alert("data_exfiltration", "alice"), alert("gdpr_violation_risk", "dsr-1"),
              alert("gdpr_violation_risk", "dsr-2"), alert("brute_force_login", "45.33.32.156"),
              alert("brute_force_login", "45.33.32.156"), alert("unusual_access", "alice")]
    counts = {"login_failed": 40, "login_success": 100, "data_export": 3, "bulk_export_csv": 2, "EXPORT_pdf": 1,
              "role_changed": 4, "gdpr_request": 2}
    s = summarize(alerts, counts)
    assert s.total_events == 152 and s.alerts == 6
    assert s.critical_events == 3 and s.high_events == 2  # alerts by severity (the seed counted events)
    assert s.failed_logins == 40 and s.data_exports == 6 and s.privilege_changes == 4
    assert s.gdpr_requests_overdue == 2 and s.unique_entities == 4


# -- risk (the seed's formula exactly) ----------------------------------------------------------------

@pytest.mark.parametrize(("score", "level"), [(0, "low"), (24, "low"), (25, "medium"), (49, "medium"),
                                              (50, "high"), (100, "high")])
def test_risk_levels_start_at_25_and_50(score: int, level: str) -> None:
    assert level_of(score) == level


@pytest.mark.parametrize(("values", "score", "level"), [
    ({"critical_events": 1}, 25, "medium"),
    ({"high_events": 2}, 20, "low"),
    ({"critical_events": 1, "high_events": 2}, 45, "medium"),
    ({"critical_events": 2}, 50, "high"),
    ({"critical_events": 1, "high_events": 1, "failed_logins": 51}, 50, "high"),
    ({"critical_events": 1, "high_events": 1, "failed_logins": 50}, 35, "medium"),
    ({"failed_logins": 51}, 15, "low"),
    ({"failed_logins": 51, "high_events": 1}, 25, "medium"),
    ({"gdpr_requests_overdue": 1, "critical_events": 1}, 55, "high"),
    ({"gdpr_requests_overdue": 3}, 30, "medium"),
])
def test_risk_score_is_the_seed_formula(values: dict[str, int], score: int, level: str) -> None:
    risk = risk_of(summary(**values))
    assert (risk.score, risk.level) == (score, level)
    assert sum(f.points for f in risk.factors) == score


def test_failed_logins_add_15_only_above_50() -> None:
    assert risk_of(summary(failed_logins=50)).score == 0
    assert risk_of(summary(failed_logins=51)).score == 15


def test_risk_score_is_capped_at_100() -> None:
    risk = risk_of(summary(critical_events=4, high_events=3, failed_logins=200, gdpr_requests_overdue=1))
    assert risk.score == 100 and risk.uncapped == 100 + 30 + 15 + 30 and risk.level == "high"
    assert risk_of(summary(critical_events=4)).score == 100


def test_a_gdpr_alert_counts_as_critical_and_as_overdue() -> None:
    r = report([alert("gdpr_violation_risk", "dsr-9")])
    assert (r.summary.critical_events, r.summary.gdpr_requests_overdue, r.risk.score) == (1, 1, 55)


# -- breakdown, trend, recommendations ----------------------------------------------------------------

def test_breakdown_by_detector_most_severe_first_with_top_entities() -> None:
    alerts = [alert("brute_force_login", f"45.33.32.{i % 7}") for i in range(20)] + \
             [alert("data_exfiltration", "alice"), alert("unusual_access", "bob")]
    rows = report(alerts).breakdown
    assert [r.detector for r in rows] == ["data_exfiltration", "brute_force_login", "unusual_access"]
    brute = rows[1]
    assert brute.alerts == 20 and brute.entities == 7 and brute.severity == "high"
    assert [(t.entity, t.alerts) for t in brute.top_entities] == [
        ("45.33.32.0", 3), ("45.33.32.1", 3), ("45.33.32.2", 3), ("45.33.32.3", 3), ("45.33.32.4", 3)]


def test_trend_reports_delta_direction_and_change_per_metric() -> None:
    r = report([alert(), alert("data_exfiltration", "alice")], [alert(at=START - timedelta(days=3))],
               {"login_failed": 60}, {"login_failed": 80, "role_changed": 2})
    trend = {t.metric: t for t in r.trend}
    assert (trend["alerts"].this_week, trend["alerts"].last_week, trend["alerts"].direction) == (2, 1, "up")
    assert trend["failed_logins"].delta == -20 and trend["failed_logins"].direction == "down"
    assert trend["failed_logins"].change_pct == -25.0
    assert trend["critical_events"].change_pct is None  # nothing last week: no percentage
    assert trend["unique_entities"].direction == "up" and trend["high_events"].direction == "flat"
    assert trend["risk_score"].this_week == 25 + 10 + 15 and trend["risk_score"].last_week == 10 + 15
    assert list(trend)[0] == "risk_score"


def texts(r: Any) -> list[str]:
    return [rec.text for rec in r.recommendations]


def test_no_alerts_means_no_action_needed() -> None:
    r = report(counts={"login_success": 10})
    assert texts(r) == ["No action needed: no alerts this week."] and r.recommendations[0].priority == "low"


def test_brute_force_recommends_waf_remediation_and_mfa_naming_the_sources() -> None:
    r = report([alert(entity="45.33.32.156"), alert(entity="45.33.32.157")])
    text = texts(r)[0]
    assert "WAF remediation" in text and "MFA" in text and "45.33.32.156" in text and "2 source IPs" in text


def test_exfiltration_recommends_reviewing_export_permissions() -> None:
    assert any("export permission" in t and "alice" in t for t in texts(report([alert("data_exfiltration", "alice")])))


def test_gdpr_is_escalated_first() -> None:
    r = report([alert("unusual_access", "bob"), alert("gdpr_violation_risk", "dsr-1"), alert()])
    assert r.recommendations[0].detector == "gdpr_violation_risk" and r.recommendations[0].priority == "critical"
    assert "escalate" in r.recommendations[0].text
    assert [rec.priority for rec in r.recommendations] == sorted(
        (rec.priority for rec in r.recommendations), key=["critical", "high", "medium", "low"].index)


def test_many_failed_logins_without_a_brute_force_alert_are_called_out() -> None:
    assert any("51 failed logins" in t for t in texts(report(counts={"login_failed": 51})))
    assert not any("failed logins this week" in t for t in texts(report(counts={"login_failed": 50})))


def test_a_rising_risk_level_is_called_out() -> None:
    r = report([alert("data_exfiltration", "alice"), alert("data_exfiltration", "carol")])
    assert any("Risk rose from low (0) to high (50)" in t for t in texts(r))


def test_an_unknown_detector_gets_its_own_recommended_action() -> None:
    r = report([alert("root_activity", "root", severity="critical")])
    assert r.recommendations[0].priority == "critical" and "handle root_activity" in r.recommendations[0].text


# -- weeks --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("moment", "monday"), [
    (datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc), date(2026, 11, 23)),
    (datetime(2026, 11, 29, 23, 59, 59, 999999, tzinfo=timezone.utc), date(2026, 11, 23)),
    (datetime(2026, 11, 30, 0, 0, tzinfo=timezone.utc), date(2026, 11, 30)),
    (datetime(2026, 11, 30, 0, 30, tzinfo=timezone(timedelta(hours=2))), date(2026, 11, 23)),  # Sunday 22:30 UTC
    (date(2027, 1, 1), date(2026, 12, 28)),
])
def test_weeks_start_on_monday_0000_utc(moment: datetime | date, monday: date) -> None:
    assert week_start_of(moment) == monday


def test_the_last_complete_week_is_the_one_before_the_current_week() -> None:
    assert last_complete_week(datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc)) == WEEK
    assert last_complete_week(datetime(2026, 11, 29, 23, 59, tzinfo=timezone.utc)) == date(2026, 11, 16)


def test_a_week_must_start_on_a_monday() -> None:
    assert week_bounds(WEEK) == (START, END)
    with pytest.raises(ValueError, match="Monday"):
        week_bounds(date(2026, 11, 24))
    with pytest.raises(ValueError, match="Monday"):
        build_org_report("org-1", date(2026, 11, 24), [], [], {}, {})


# -- HTML ---------------------------------------------------------------------------------------------

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def test_the_html_escapes_hostile_org_names_entities_and_event_types() -> None:
    r = report([alert("data_exfiltration", HOSTILE, org=HOSTILE), alert(entity=HOSTILE, org=HOSTILE)],
               counts={HOSTILE: 3, "login_failed": 2}, org=HOSTILE)
    page = render_report_html(r)
    assert "<script" not in page and "<img" not in page and "onerror=alert(2)>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert page.count("<title>") == 1


def test_the_html_is_self_contained_and_readable() -> None:
    r = report([alert(), alert("gdpr_violation_risk", "dsr-1")], [alert(at=START - timedelta(days=1))],
               {"login_failed": 60}, {"login_failed": 10})
    page = render_report_html(r)
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page
    assert not re.search(r"(src|href)\s*=|<link|<script|@import|url\(", page, re.I)  # no external asset, no script
    assert "default-src 'none'" in page
    assert 'class="badge level-high"' in page and "Risk HIGH &middot; 80 / 100" in page
    assert "&#9650;" in page and "Overdue GDPR requests" in page and "escalate" in page
    assert "Week 2026-11-23 to 2026-11-29" in page


def test_an_empty_week_reads_as_such() -> None:
    page = render_report_html(report())
    assert "No alerts this week." in page and "No events counted this week." in page
    assert 'class="badge level-low"' in page and "No action needed" in page


# -- the use case -------------------------------------------------------------------------------------

class Fixture:
    def __init__(self, now: datetime = END + timedelta(hours=6)) -> None:
        self.alerts = MemoryAlertStore()
        self.tally = MemoryEventTally()
        self.documents = MemoryDocuments()
        self.pages = MemoryHtmlPages()
        self.now = now
        self.use_case = WeeklyReports(self.alerts, self.tally, self.documents, self.pages, lambda: self.now,
                                      prefix=PREFIX)

    def event(self, org: str, day: date, event_type: str, count: int = 1) -> None:
        self.tally.add(org, day, event_type, count)


def test_one_report_per_organization_as_json_and_html_plus_an_index() -> None:
    f = Fixture()
    f.event("org-1", WEEK, "login_failed", 60)
    f.event("org-2", WEEK + timedelta(days=6), "login_success", 5)
    f.event("org-3", WEEK - timedelta(days=7), "login_success", 5)  # only last week: still reported (trend to 0)
    f.alerts.put(alert(org="org-1"))
    f.alerts.put(alert("data_exfiltration", "alice", org="org-1"))
    f.alerts.put(alert(org=None))  # CloudTrail-style: no organization's report
    run = f.use_case.run()
    assert run.week_start == WEEK and run.failures == {}
    assert [r["organization_id"] for r in run.reports] == ["org-1", "org-2", "org-3"]  # highest risk first
    doc = f.documents.load("security/reports/org-1/2026-11-23.json")
    assert doc is not None and doc["risk"]["score"] == 25 + 10 + 15 and doc["summary"]["failed_logins"] == 60
    assert doc["organization_id"] == "org-1" and doc["partial"] is False
    assert "security/reports/org-1/2026-11-23.html" in f.pages.pages
    assert run.reports[0]["html"] == "s3://ops-bucket/security/reports/org-1/2026-11-23.html"
    org3 = f.documents.load("security/reports/org-3/2026-11-23.json")
    assert org3 is not None and org3["summary"]["total_events"] == 0
    assert {t["metric"]: t["direction"] for t in org3["trend"]}["total_events"] == "down"
    index = f.documents.load("security/reports/2026-11-23/index.json")
    assert index is not None and [o["organization_id"] for o in index["organizations"]] == ["org-1", "org-2", "org-3"]
    assert index["week_end"] == "2026-11-30" and run.index == "s3://ops-bucket/security/reports/2026-11-23/index.json"


def test_alerts_on_the_week_boundaries_belong_to_the_week_they_start() -> None:
    f = Fixture()
    f.event("org-1", WEEK, "login_failed")
    f.alerts.put(alert(at=START - timedelta(microseconds=1)))  # last week
    f.alerts.put(alert(at=START))  # this week
    f.alerts.put(alert(at=END - timedelta(microseconds=1)))  # this week
    f.alerts.put(alert(at=END))  # next week
    f.use_case.run(WEEK)
    doc = f.documents.load("security/reports/org-1/2026-11-23.json")
    assert doc is not None
    trend = {t["metric"]: t for t in doc["trend"]}
    assert (trend["alerts"]["this_week"], trend["alerts"]["last_week"]) == (2, 1)
    assert (START, END) in [(s, e) for _, s, e in f.alerts.queries]


def test_counts_come_from_the_tally_days_of_the_week() -> None:
    f = Fixture()
    f.event("org-1", WEEK - timedelta(days=1), "login_failed", 7)  # Sunday before: last week
    f.event("org-1", WEEK, "login_failed", 3)
    f.event("org-1", WEEK + timedelta(days=6), "login_failed", 4)  # Sunday: this week
    f.event("org-1", WEEK + timedelta(days=7), "login_failed", 100)  # next Monday
    f.use_case.run(WEEK)
    doc = f.documents.load("security/reports/org-1/2026-11-23.json")
    assert doc is not None and doc["summary"]["failed_logins"] == 7
    assert {t["metric"]: t["last_week"] for t in doc["trend"]}["failed_logins"] == 7


def test_the_default_week_is_the_last_complete_one() -> None:
    f = Fixture(now=datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc))  # Wednesday of the next week
    f.event("org-1", WEEK, "login_failed")
    assert f.use_case.run().week_start == WEEK


def test_a_report_of_a_running_week_says_it_is_partial() -> None:
    f = Fixture(now=START + timedelta(days=3))
    f.event("org-1", WEEK, "login_failed")
    f.use_case.run(WEEK)
    doc = f.documents.load("security/reports/org-1/2026-11-23.json")
    assert doc is not None and doc["partial"] is True
    assert "not final" in f.pages.pages["security/reports/org-1/2026-11-23.html"]


def test_organization_ids_cannot_escape_their_folder() -> None:
    assert org_key(PREFIX, "../../etc/passwd", WEEK, "json") == \
        "security/reports/..%2F..%2Fetc%2Fpasswd/2026-11-23.json"
    assert org_key(PREFIX, "acme corp/eu", WEEK, "html") == "security/reports/acme%20corp%2Feu/2026-11-23.html"


def test_one_organization_failing_does_not_stop_the_others() -> None:
    f = Fixture()
    for org in ("org-1", "org-2", "org-3"):
        f.event(org, WEEK, "login_failed")
    f.pages.fail_for = {"org-2/"}
    with pytest.raises(WeeklyReportsIncomplete, match="1 of 3") as raised:
        f.use_case.run(WEEK)
    assert [r["organization_id"] for r in raised.value.run.reports] == ["org-1", "org-3"]
    assert list(raised.value.run.failures) == ["org-2"] and isinstance(raised.value, OpsError)
    index = f.documents.load("security/reports/2026-11-23/index.json")
    assert index is not None and list(index["failures"]) == ["org-2"]


def test_a_rerun_writes_the_same_reports() -> None:
    f = Fixture()
    f.event("org-1", WEEK, "login_failed", 3)
    f.alerts.put(alert())
    f.use_case.run(WEEK)
    first = (dict(f.documents.documents), dict(f.pages.pages))
    f.use_case.run(WEEK)
    assert (f.documents.documents, f.pages.pages) == first


def test_counts_recorded_through_the_tally_port_reach_the_report() -> None:
    f = Fixture()
    event = Event(event_id="x1", time=START + timedelta(hours=1), kind="app", type="data_export",
                  organization_id="org-1")
    assert f.tally.record(event) and not f.tally.record(event)
    f.use_case.run(WEEK, organizations=["org-1"])
    doc = f.documents.load("security/reports/org-1/2026-11-23.json")
    assert doc is not None and doc["summary"]["data_exports"] == 1 and doc["event_counts"] == {"data_export": 1}


def test_the_prefix_is_a_folder() -> None:
    f = Fixture()
    with pytest.raises(ValueError, match="prefix"):
        WeeklyReports(f.alerts, f.tally, f.documents, f.pages, lambda: f.now, prefix="security/reports")


def test_recommendations_read_in_the_singular_for_one() -> None:
    r = report([alert("gdpr_violation_risk", "dsr-1"), alert(entity="45.33.32.156")])
    assert texts(r)[0].startswith("1 overdue data-subject request (dsr-1): escalate")
    assert "from 1 source IP (45.33.32.156)" in texts(r)[1]
