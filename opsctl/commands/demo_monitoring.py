"""Demo steps of monitoring, run after every other capability's: ChurnGuard's API traffic (the local stand-in,
``opsctl.local.sample_api``), then the proof that no dashboard widget or alarm of the monitoring stack reads a
metric nobody emitted.

The proof reads the synthesized dashboard bodies and alarms from the local cloud assembly and matches each
metric (namespace, name, dimensions) against the embedded CloudWatch's ``ListMetrics``: what the handlers'
EMF lines (``opsctl.local.emf``) and the local Lambda runtime (``opsctl.local.lambda_metrics``) published
during this demo. ``allowed_without_data`` lists the few metrics only AWS itself publishes, for resources or
invocations the demo does not have; ``NOT_PROVEN_HERE`` the ones only an operator action the demo does not take
emits (listed in the step's output).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from infra_cdk.dashboard_metrics import MetricKey, alarm_metrics, body_metrics, dashboard_body, unmatched
from opsctl.commands.demo_steps import Step
from opsctl.console import write_json

MONITORING_STACK = "ChurnGuardOpsMonitoring"
SAMPLES = Path(__file__).resolve().parents[2] / "events"
PREDICTION_REQUESTS = 30
#: The stand-in's compliance job report: one score per configured organization (all above the 80 threshold).
SCORES = (92.0, 88.5, 97.0)


#: Dimensions whose values a widget enumerates from a contract (``core.contracts.ALARM_SEVERITIES``), not from
#: free text: one emitted value proves the series' name and its other dimensions for every value.
ENUMERATED_DIMENSIONS = ("Severity",)
#: Emitted only on an operator action the demo does not take (an incident resolves itself unacknowledged).
NOT_PROVEN_HERE = {("ChurnGuardOps", "TimeToAcknowledge"): "emitted when an operator acknowledges an incident"}


def allowed_without_data(env: Any) -> list[tuple[MetricKey, str]]:
    """Metrics this demo cannot produce, each with the reason: AWS publishes them itself for resources or
    invocations the local account does not have."""
    from opsctl.local.sample_api import FUNCTION_NAME

    monitoring = env.context.monitoring
    allowed = [(MetricKey.of("AWS/RDS", "*", {"DBInstanceIdentifier": monitoring.db_instance_id}),
                "RDS publishes its instance metrics every minute on AWS; the embedded RDS publishes none")]
    allowed += [(MetricKey.of("AWS/Lambda", "*", {"FunctionName": fn}),
                 "one of ChurnGuard's own functions; the local stand-in is only the API (churnguard-api)")
                for fn in monitoring.functions if fn != FUNCTION_NAME]
    allowed += [(MetricKey.of("AWS/Lambda", "Errors", {"FunctionName": fn}),
                 "an ops function's name read from the synthesized templates (no typo possible); Lambda publishes "
                 "its metrics once it runs, and the demo does not run every one (approval callbacks, schedules)")
                for fn in env.functions]
    return allowed


def _widened(emitted: list[MetricKey]) -> list[MetricKey]:
    """``emitted`` plus each metric with its enumerated dimensions as wildcards."""
    widened = [MetricKey(m.namespace, m.name, tuple((k, "*" if k in ENUMERATED_DIMENSIONS else v)
                                                    for k, v in m.dimensions)) for m in emitted]
    return [*emitted, *(m for m in widened if m not in emitted)]


def _sample_api(env: Any) -> str:
    """The stand-in API's alias (deployed by the canary steps; deployed here when they did not run)."""
    from opsctl.local.sample_api import FUNCTION_NAME, SampleApi

    lam = env.aws.client("lambda", env.region)
    try:
        lam.get_alias(FunctionName=FUNCTION_NAME, Name="live")
    except lam.exceptions.ResourceNotFoundException:
        SampleApi.deploy(env.aws, region=env.region)
    return f"{FUNCTION_NAME}:live"


def application_traffic(env: Any, out: str | None) -> Step:
    step = Step(f"Monitoring: {PREDICTION_REQUESTS} prediction requests and a compliance status report to "
                "ChurnGuard's API (local stand-in), one recoverability probe tick -> the metrics the dashboards read")
    target = _sample_api(env)
    lam = env.aws.client("lambda", env.region)
    served = failed = 0
    for i in range(PREDICTION_REQUESTS):
        response = lam.invoke(FunctionName=target, Payload=json.dumps({"customer_id": f"c-{i}"}).encode())
        failed += bool(response.get("FunctionError"))
        served += not response.get("FunctionError") and "churn_probability" in json.load(response["Payload"])
    step.expect("every prediction request was answered (a prediction or a 5xx)",
                served + failed == PREDICTION_REQUESTS, f"{served} predictions, {failed} errors")
    organizations = env.context.monitoring.organizations
    scores = {org: SCORES[i % len(SCORES)] for i, org in enumerate(organizations)}
    response = lam.invoke(FunctionName=target, Payload=json.dumps(
        {"action": "compliance_status", "scores": scores, "gdpr_overdue": 0}).encode())
    report = json.load(response["Payload"])
    step.expect("the compliance status carried a score per configured organization and the GDPR overdue count",
                not response.get("FunctionError") and report.get("organizations") == len(organizations),
                f"{len(organizations)} organizations, 0 GDPR requests overdue")
    # The recoverability probe runs on its schedule on AWS (RestorableLagSeconds, the RPO graph); the demo has no
    # scheduler, so one tick is delivered here as EventBridge would.
    tick = json.loads((SAMPLES / "backup/probe/scheduled-tick.json").read_text())
    tick["time"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = lam.invoke(FunctionName=env.function_name("backup-probe"), Payload=json.dumps(tick).encode())
    probe = json.load(response["Payload"])
    step.expect("one scheduled tick of the recoverability probe ran", not response.get("FunctionError"),
                json.dumps(probe, default=str)[:200])
    write_json(out, "monitoring-traffic.json", {"predictions": served, "errors": failed, "scores": scores})
    return step


def _listed_metrics(env: Any, namespaces: set[str]) -> list[MetricKey]:
    cloudwatch = env.aws.client("cloudwatch", env.region)
    found = []
    for namespace in sorted(namespaces):
        for page in cloudwatch.get_paginator("list_metrics").paginate(Namespace=namespace):
            found += [MetricKey.of(namespace, m["MetricName"], {d["Name"]: d["Value"] for d in m.get("Dimensions", [])})
                      for m in page["Metrics"]]
    return found


def dashboards_read_emitted_metrics(env: Any, out: str | None) -> Step:
    step = Step("Monitoring: every metric of the dashboards and the seed's alarms is one this demo emitted "
                "(no empty graph by a typo)")
    template = json.loads((Path(env.cdk_out) / f"{MONITORING_STACK}.template.json").read_text())
    read: list[tuple[str, MetricKey]] = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Dashboard":
            body = dashboard_body(props["DashboardBody"], region=env.region)
            read += [(f"{props.get('DashboardName')}: {title}", metric) for title, metric in body_metrics(body)]
        elif resource["Type"] == "AWS::CloudWatch::Alarm":
            read += [(f"alarm {props.get('AlarmName')}", metric) for metric in alarm_metrics(props)]
    emitted = _listed_metrics(env, {metric.namespace for _, metric in read})
    allowed = allowed_without_data(env)
    not_proven = [metric for _, metric in read if (metric.namespace, metric.name) in NOT_PROVEN_HERE]
    missing = unmatched((metric for _, metric in read if metric not in not_proven),
                        [*_widened(emitted), *(key for key, _ in allowed)])
    by_metric = {metric: where for where, metric in read}
    step.expect("the dashboards and alarms read metrics", len(read) > 0,
                f"{len({m for _, m in read})} distinct metrics in {sum(1 for _ in read)} widget rows and alarms")
    step.expect("nobody-emitted metrics: none", not missing,
                "; ".join(f"{by_metric[m]}: {m}" for m in missing) or
                f"{len(emitted)} metrics listed by CloudWatch; not proven by this demo: "
                + (", ".join(f"{name} ({NOT_PROVEN_HERE[(namespace, name)]})"
                             for namespace, name in dict.fromkeys((m.namespace, m.name) for m in not_proven))
                   or "none"))
    write_json(out, "monitoring-dashboard-check.json", {
        "read": [{"where": where, "metric": str(metric)} for where, metric in read],
        "missing": [str(m) for m in missing],
        "emitted": sorted(str(m) for m in emitted),
        "not_proven_here": sorted({str(m) for m in not_proven}),
        "allowed": [{"metric": str(key), "why": why} for key, why in allowed]})
    return step


MONITORING_SCENARIOS: list[Callable[..., Step]] = [application_traffic, dashboards_read_emitted_metrics]
