"""The monitoring stack: the seed's alerting rules as alarms (thresholds, durations, missing data, tags, actions),
and the dashboards as their specs say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from churnguard_ops.core.contracts import (
    ALARM_GROUP_TAG,
    ALARM_RUNBOOK_TAG,
    ALARM_SEVERITIES,
    ALARM_SEVERITY_TAG,
    ALARM_TEAM_TAG,
    APP_ALARM_NAME_PREFIX,
)

pytestmark = pytest.mark.infra

#: The seed's rules (and their Lambda/RDS translations) as cdk.json configures them:
#: name -> (threshold, operator, period s, evaluation periods, datapoints, missing data, severity, team).
SEED = {
    "HighErrorRate": (5, "GreaterThanThreshold", 60, 5, 5, "notBreaching", "critical", "platform"),
    "HighResponseTime": (2000, "GreaterThanThreshold", 60, 5, 5, "notBreaching", "warning", "platform"),
    "DatabaseConnectionsHigh": (80, "GreaterThanThreshold", 60, 2, 2, "missing", "warning", "platform"),
    "DatabaseCpuHigh": (80, "GreaterThanThreshold", 60, 5, 5, "missing", "warning", "platform"),
    "GDPRRequestOverdue": (0, "GreaterThanThreshold", 60, 1, 1, "ignore", "critical", "compliance"),
    "ComplianceScoreLow-org-0001": (80, "LessThanThreshold", 300, 2, 2, "ignore", "warning", "compliance"),
    "ComplianceScoreLow-org-0002": (80, "LessThanThreshold", 300, 2, 2, "ignore", "warning", "compliance"),
    "ComplianceScoreLow-org-0003": (80, "LessThanThreshold", 300, 2, 2, "ignore", "warning", "compliance"),
    "LambdaErrors-churnguard-api": (0, "GreaterThanThreshold", 60, 5, 3, "notBreaching", "warning", "platform"),
    "LambdaErrors-churnguard-worker": (0, "GreaterThanThreshold", 60, 5, 3, "notBreaching", "warning", "platform"),
    "LambdaThrottles-churnguard-api": (0, "GreaterThanThreshold", 60, 5, 3, "notBreaching", "warning", "platform"),
    "LambdaThrottles-churnguard-worker": (0, "GreaterThanThreshold", 60, 5, 3, "notBreaching", "warning",
                                          "platform"),
}


@pytest.fixture(scope="module")
def monitoring(synth) -> Any:
    from aws_cdk import Stack

    from infra_cdk.app import MONITORING_STACK_ID

    return Stack.of(synth.app.node.find_child(MONITORING_STACK_ID))


@pytest.fixture(scope="module")
def resources(synth, monitoring) -> dict[str, Any]:
    return synth.template_json(monitoring)["Resources"]


@pytest.fixture(scope="module")
def alarms(resources) -> dict[str, dict[str, Any]]:
    """Alarm name -> properties."""
    return {r["Properties"]["AlarmName"]: r["Properties"] for r in resources.values()
            if r["Type"] == "AWS::CloudWatch::Alarm"}


def _period(props: dict[str, Any]) -> int:
    if "Period" in props:
        return int(props["Period"])
    return {int(m["MetricStat"]["Period"]) for m in props["Metrics"] if "MetricStat" in m}.pop()


def test_the_seed_rules_are_alarms_with_their_threshold_duration_missing_data_severity_and_team(alarms):
    assert set(alarms) == {APP_ALARM_NAME_PREFIX + name for name in SEED}
    for name, (threshold, operator, period, evaluations, datapoints, missing, severity, team) in SEED.items():
        props = alarms[APP_ALARM_NAME_PREFIX + name]
        tags = {t["Key"]: t["Value"] for t in props["Tags"]}
        assert (props["Threshold"], props["ComparisonOperator"], _period(props), props["EvaluationPeriods"],
                props["DatapointsToAlarm"], props["TreatMissingData"], tags[ALARM_SEVERITY_TAG],
                tags[ALARM_TEAM_TAG]) == (threshold, operator, period, evaluations, datapoints, missing, severity,
                                          team), name


def test_high_error_rate_is_the_percentage_of_5xx_among_requests(alarms):
    metrics = alarms[f"{APP_ALARM_NAME_PREFIX}HighErrorRate"]["Metrics"]
    (expression,) = [m for m in metrics if "Expression" in m]
    inputs = {m["Id"]: m["MetricStat"] for m in metrics if "MetricStat" in m}
    assert expression["Expression"] == "100 * errors / requests" and expression.get("ReturnData", True)
    assert {k: (s["Metric"]["Namespace"], s["Metric"]["MetricName"], s["Stat"]) for k, s in inputs.items()} == {
        "errors": ("ChurnGuard/Api", "5XXError", "Sum"), "requests": ("ChurnGuard/Api", "Count", "Sum")}
    assert all(s["Metric"]["Dimensions"] == [{"Name": "Service", "Value": "churnguard-api"}]
               for s in inputs.values())


def test_response_time_reads_the_p95_latency_and_the_database_rules_the_configured_instance(alarms):
    latency = alarms[f"{APP_ALARM_NAME_PREFIX}HighResponseTime"]
    assert (latency["Namespace"], latency["MetricName"], latency["ExtendedStatistic"]) == \
        ("ChurnGuard/Api", "Latency", "p95")
    for name, metric in (("DatabaseConnectionsHigh", "DatabaseConnections"), ("DatabaseCpuHigh", "CPUUtilization")):
        props = alarms[APP_ALARM_NAME_PREFIX + name]
        assert (props["Namespace"], props["MetricName"], props["Dimensions"]) == \
            ("AWS/RDS", metric, [{"Name": "DBInstanceIdentifier", "Value": "churnguard-prod"}])


def test_compliance_alarms_are_one_per_configured_organization_on_its_score(alarms):
    for org in ("org-0001", "org-0002", "org-0003"):
        props = alarms[f"{APP_ALARM_NAME_PREFIX}ComplianceScoreLow-{org}"]
        assert (props["MetricName"], props["Statistic"], props["Dimensions"]) == \
            ("ComplianceScore", "Minimum", [{"Name": "Organization", "Value": org}])


def test_each_alarm_carries_a_known_severity_its_team_an_https_runbook_and_an_incident_group(alarms):
    for name, props in alarms.items():
        tags = {t["Key"]: t["Value"] for t in props["Tags"]}
        assert tags[ALARM_SEVERITY_TAG] in ALARM_SEVERITIES, name
        assert tags[ALARM_TEAM_TAG] in ("platform", "compliance"), name
        assert tags[ALARM_RUNBOOK_TAG].startswith("https://"), name
        assert tags[ALARM_RUNBOOK_TAG] in props["AlarmDescription"], name  # readable in the notification too
        assert tags[ALARM_GROUP_TAG] in ("api", "database", "compliance"), name
    runbooks = {t["Value"] for p in alarms.values() for t in p["Tags"] if t["Key"] == ALARM_RUNBOOK_TAG}
    assert "https://runbooks.churnguard.example/alerts/high-error-rate" in runbooks
    assert "https://runbooks.churnguard.example/alerts/gdpr-request-overdue" in runbooks


def test_every_alarm_in_every_stack_has_an_alarm_action(synth):
    without = []
    for template in sorted(Path(synth.outdir).glob("*.template.json")):
        for logical_id, resource in json.loads(template.read_text())["Resources"].items():
            if resource["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm") and \
                    not resource["Properties"].get("AlarmActions"):
                without.append(f"{template.name} {logical_id}")
    assert without == []


def test_the_dashboards_graph_exactly_their_spec_metrics(resources, monitoring):
    from infra_cdk.dashboard_metrics import MetricKey, body_metrics, dashboard_body

    bodies = {r["Properties"]["DashboardName"]: dashboard_body(r["Properties"]["DashboardBody"])
              for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"}
    assert set(bodies) == {"churnguard-ops-operations", "churnguard-ops-application"}
    for spec in (monitoring.overview, monitoring.application):
        graphed = [(title, metric) for title, metric in body_metrics(bodies[spec.name])]
        wanted = [(w.title, MetricKey.of(m.namespace, m.name, m.dimensions)) for w in spec.widgets for m in w.metrics]
        assert graphed == wanted, spec.name


def test_the_overview_graphs_the_errors_of_every_primary_region_function(synth, monitoring):
    names = set()
    for template in Path(synth.outdir).glob("*.template.json"):
        if "BackupDr" in template.name:
            continue  # the DR region's functions publish their metrics there
        for resource in json.loads(template.read_text())["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Function" and isinstance(resource["Properties"].get("FunctionName"),
                                                                           str):
                names.add(resource["Properties"]["FunctionName"])
    (errors,) = [w for w in monitoring.overview.widgets if w.title == "Ops functions: errors"]
    assert {m.dimensions["FunctionName"] for m in errors.metrics} == names
    assert {(m.namespace, m.name, m.stat) for m in errors.metrics} == {("AWS/Lambda", "Errors", "Sum")}
