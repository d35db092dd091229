"""The application dashboard and the seed's alarms read what ChurnGuard's API (its local stand-in) emits, and
their names come from the monitoring context."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from infra_cdk.dashboard_metrics import MetricKey, unmatched
from infra_cdk.monitoring_settings import MonitoringContext
from infra_cdk.settings import ChurnGuardContext

pytestmark = pytest.mark.infra


def _emitted(capsys: pytest.CaptureFixture[str], *events: dict) -> list[MetricKey]:
    """Run the stand-in API's handler on ``events`` and turn its EMF lines into metrics as CloudWatch would."""
    from opsctl.local import sample_api
    from opsctl.local.emf import metric_data

    context = SimpleNamespace(function_name=sample_api.FUNCTION_NAME, function_version="1")
    for event in events:
        sample_api.handler(event, context)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [MetricKey.of(namespace, d["MetricName"], {x["Name"]: x["Value"] for x in d["Dimensions"]})
            for namespace, data in metric_data(records).items() for d in data]


def test_every_application_widget_and_app_alarm_metric_is_one_the_api_emits(capsys):
    from infra_cdk.stacks.dashboards import application
    from infra_cdk.stacks.monitoring_alarms import alarm_rules

    config = ChurnGuardContext()
    scores = {org: 90.0 for org in config.monitoring.organizations}
    emitted = _emitted(capsys, {"customer_id": "c-1"},
                       {"action": "compliance_status", "scores": scores, "gdpr_overdue": 0})
    widgets = [MetricKey.of(m.namespace, m.name, m.dimensions) for w in application(config).widgets for m in w.metrics]
    alarms = [MetricKey.of(m.namespace, m.name, m.dimensions) for r in alarm_rules(config.monitoring)
              for m in r.metrics.values() if m.namespace == config.monitoring.app.namespace]
    assert len(widgets) == 9 and len(alarms) == 7  # 5xx and requests, latency, GDPR, 3 organizations
    assert unmatched([*widgets, *alarms], emitted) == []


def test_a_renamed_app_metric_in_the_context_is_what_the_alarms_read_and_the_stand_in_then_does_not_emit(capsys):
    from infra_cdk.stacks.monitoring_alarms import alarm_rules

    monitoring = MonitoringContext.model_validate({"app": {"namespace": "Acme/Api", "latency": "LatencyMs"}})
    (latency,) = [r for r in alarm_rules(monitoring) if r.rule == "HighResponseTime"]
    read = [MetricKey.of(m.namespace, m.name, m.dimensions) for m in latency.metrics.values()]
    assert read == [MetricKey.of("Acme/Api", "LatencyMs", {"Service": "churnguard-api"})]
    assert unmatched(read, _emitted(capsys, {"customer_id": "c-1"})) == read  # what the check would list


@pytest.mark.parametrize(("monitoring", "field"), [
    ({"app": {"namespace": "AWS/Lambda"}}, "namespace"),
    ({"organizations": ["org-1", "org-1"]}, "organizations"),
    ({"functions": ["churnguard api"]}, "functions"),
    ({"runbook_base_url": "http://wiki/runbooks"}, "runbook_base_url"),
    ({"thresholds": {"error_rate_percent": 0}}, "error_rate_percent"),
    ({"thresholds": {"latency_p95": 2000}}, "latency_p95"),
])
def test_a_bad_monitoring_context_is_refused_naming_the_field(monitoring, field):
    with pytest.raises(ValidationError, match=field):
        MonitoringContext.model_validate(monitoring)
