"""Reading the metrics out of synthesized dashboard bodies and alarms, and matching them against a catalogue."""

from __future__ import annotations

import json

import pytest

from infra_cdk.dashboard_metrics import (
    MetricKey,
    alarm_metrics,
    body_metrics,
    dashboard_body,
    matches,
    unmatched,
)

LAG = MetricKey.of("ChurnGuardOps", "RestorableLagSeconds", {"DBInstanceIdentifier": "db-1", "service": "backup"})


def _widget(title: str, *rows: list) -> dict:
    return {"type": "metric", "properties": {"title": title, "region": "us-east-1", "metrics": list(rows)}}


def test_a_joined_body_resolves_the_region_reference_into_the_dashboard_json():
    body = {"Fn::Join": ["", ['{"widgets":[{"type":"text","properties":{"markdown":"', {"Ref": "AWS::Region"},
                              '"}}]}']]}
    assert dashboard_body(body, region="eu-west-1") == {
        "widgets": [{"type": "text", "properties": {"markdown": "eu-west-1"}}]}


def test_a_body_with_an_unknown_intrinsic_is_refused_naming_it():
    with pytest.raises(ValueError, match="GetAtt"):
        dashboard_body({"Fn::Join": ["", ['{"widgets":[', {"Fn::GetAtt": ["X", "Arn"]}, "]}"]]})


def test_a_body_without_widgets_is_refused():
    with pytest.raises(ValueError, match="list of widgets"):
        dashboard_body(json.dumps({"start": "-PT3H"}))


def test_metric_rows_give_namespace_name_and_dimensions_and_skip_options_and_expressions():
    body = {"widgets": [
        _widget("lag", ["ChurnGuardOps", "RestorableLagSeconds", "DBInstanceIdentifier", "db-1", "service", "backup",
                        {"label": "db-1", "stat": "Maximum"}]),
        _widget("rate", [{"expression": "100 * m0 / m1", "label": "5xx %"}],
                ["ChurnGuard/Api", "5XXError", "Service", "api", {"id": "m0", "visible": False}]),
        {"type": "text", "properties": {"markdown": "# notes"}},
    ]}
    assert body_metrics(body) == [("lag", LAG),
                                  ("rate", MetricKey.of("ChurnGuard/Api", "5XXError", {"Service": "api"}))]


def test_a_dot_repeats_the_row_above_as_the_console_writes_it():
    body = {"widgets": [_widget("lag", ["ChurnGuardOps", "RestorableLagSeconds", "DBInstanceIdentifier", "db-1",
                                        "service", "backup"],
                                [".", ".", ".", "db-2", ".", "."])]}
    db2 = MetricKey.of("ChurnGuardOps", "RestorableLagSeconds", {"DBInstanceIdentifier": "db-2", "service": "backup"})
    assert [m for _, m in body_metrics(body)] == [LAG, db2]


def test_a_row_with_a_dimension_name_but_no_value_is_refused_naming_the_widget():
    with pytest.raises(ValueError, match="'lag'"):
        body_metrics({"widgets": [_widget("lag", ["ChurnGuardOps", "RestorableLagSeconds", "DBInstanceIdentifier"])]})


def test_alarm_metrics_of_a_single_metric_and_of_metric_math():
    single = {"Namespace": "AWS/RDS", "MetricName": "CPUUtilization",
              "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "db-1"}]}
    math = {"Metrics": [
        {"Id": "rate", "Expression": "100 * errors / requests"},
        {"Id": "errors", "MetricStat": {"Metric": {"Namespace": "ChurnGuard/Api", "MetricName": "5XXError",
                                                   "Dimensions": [{"Name": "Service", "Value": "api"}]},
                                        "Period": 60, "Stat": "Sum"}, "ReturnData": False},
    ]}
    assert alarm_metrics(single) == [MetricKey.of("AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "db-1"})]
    assert alarm_metrics(math) == [MetricKey.of("ChurnGuard/Api", "5XXError", {"Service": "api"})]


def test_a_catalogue_wildcard_matches_any_value_of_that_dimension_and_any_name():
    entry = MetricKey.of("AWS/RDS", "*", {"DBInstanceIdentifier": "*"})
    assert matches(MetricKey.of("AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "db-1"}), entry)
    assert not matches(MetricKey.of("AWS/RDS", "CPUUtilization", {"DBClusterIdentifier": "db-1"}), entry)
    assert not matches(MetricKey.of("AWS/Lambda", "Errors", {"DBInstanceIdentifier": "db-1"}), entry)


def test_a_typo_in_a_dimension_name_value_or_a_missing_dimension_is_unmatched():
    typo_value = MetricKey.of("ChurnGuardOps", "RestorableLagSeconds", {"DBInstanceIdentifier": "db-1",
                                                                        "service": "backups"})
    typo_name = MetricKey.of("ChurnGuardOps", "RestorableLagSeconds", {"DbInstanceIdentifier": "db-1",
                                                                       "service": "backup"})
    no_service = MetricKey.of("ChurnGuardOps", "RestorableLagSeconds", {"DBInstanceIdentifier": "db-1"})
    assert unmatched([LAG, typo_value, typo_name, no_service, LAG], [LAG]) == [typo_value, typo_name, no_service]


def test_one_emitted_severity_proves_the_others_but_not_a_mistyped_name_or_service():
    from opsctl.commands.demo_monitoring import _widened

    emitted = [MetricKey.of("ChurnGuardOps", "TimeToResolve", {"Severity": "critical", "service": "incidents"})]
    warning = MetricKey.of("ChurnGuardOps", "TimeToResolve", {"Severity": "warning", "service": "incidents"})
    typo_service = MetricKey.of("ChurnGuardOps", "TimeToResolve", {"Severity": "warning", "service": "incident"})
    typo_name = MetricKey.of("ChurnGuardOps", "TimeToResolved", {"Severity": "critical", "service": "incidents"})
    assert unmatched([warning, typo_service, typo_name], _widened(emitted)) == [typo_service, typo_name]
