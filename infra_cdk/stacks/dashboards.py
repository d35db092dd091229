"""The operations overview and the application dashboard, as a small spec list of widgets.

Every metric a widget graphs is a ``WidgetMetric`` (namespace, name, dimensions, stat, label), so the specs
can be enumerated and checked against what the handlers really emit (``opsctl demo``'s dashboard step).
The ops metrics carry ``service=<POWERTOOLS_SERVICE_NAME>``: Powertools adds it to every EMF record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from churnguard_ops.core.contracts import ALARM_SEVERITIES, METRICS_NAMESPACE
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks.backup_alarms import BACKUP_SERVICE_NAME
from infra_cdk.stacks.backup_probe import PROBE_SERVICE_NAME
from infra_cdk.stacks.canary_stack import CANARY_SERVICE_NAME
from infra_cdk.stacks.cost_stack import COST_SERVICE_NAME
from infra_cdk.stacks.drill_alarms import DRILL_SERVICE_NAME
from infra_cdk.stacks.monitoring_alarms import LAMBDA_NAMESPACE
from infra_cdk.stacks.performance_stack import PERFORMANCE_SERVICE_NAME
from infra_cdk.stacks.security_stack import SECURITY_SERVICE_NAME

#: POWERTOOLS_SERVICE_NAME of the incidents function (its metrics: IncidentsOpen, TimeToAcknowledge, TimeToResolve).
INCIDENTS_SERVICE_NAME = "incidents"


@dataclass(frozen=True)
class WidgetMetric:
    namespace: str
    name: str
    dimensions: Mapping[str, str]
    stat: str
    label: str


@dataclass(frozen=True)
class Widget:
    title: str
    metrics: tuple[WidgetMetric, ...]
    period_minutes: int = 5
    #: (label, expression over m0, m1, ...): graphed instead of the metrics themselves.
    math: tuple[str, str] | None = None
    width: int = 12


@dataclass(frozen=True)
class DashboardSpec:
    name: str
    widgets: tuple[Widget, ...] = field(default_factory=tuple)


def _ops(name: str, service: str, stat: str, label: str, **dimensions: str) -> WidgetMetric:
    return WidgetMetric(METRICS_NAMESPACE, name, {**dimensions, "service": service}, stat, label)


def ops_overview(config: ChurnGuardContext, ops_functions: Sequence[str]) -> DashboardSpec:
    dbs = config.backup.db_instance_ids
    drilled = dbs[0]  # the scheduled drill's source (drill_alarms)
    # IncidentsOpen is one count over all severities (the incidents service emits no Severity on it).
    incidents = [_ops("IncidentsOpen", INCIDENTS_SERVICE_NAME, "Maximum", "open incidents")]
    response = [_ops(name, INCIDENTS_SERVICE_NAME, "Average", f"{label} {s}", Severity=s)
                for name, label in (("TimeToAcknowledge", "ack"), ("TimeToResolve", "resolve"))
                for s in ALARM_SEVERITIES]
    return DashboardSpec(f"{config.prefix}-operations", (
        Widget("Backups: newest snapshot age (s)", tuple(
            _ops("SnapshotAgeSeconds", BACKUP_SERVICE_NAME, "Maximum", db, DBInstanceIdentifier=db) for db in dbs)),
        Widget("RPO: restorable lag (s)", tuple(
            _ops("RestorableLagSeconds", PROBE_SERVICE_NAME, "Maximum", db, DBInstanceIdentifier=db) for db in dbs)),
        Widget(f"Restore drills of {drilled}: outcome (1 = passed)", (
            _ops("DrillSucceeded", DRILL_SERVICE_NAME, "Minimum", "passed", SourceDBInstance=drilled),),
            period_minutes=1440),
        Widget(f"Restore drills of {drilled}: RTO and RPO (s)", (
            _ops("RTOSeconds", DRILL_SERVICE_NAME, "Maximum", "RTO", SourceDBInstance=drilled),
            _ops("RPOSeconds", DRILL_SERVICE_NAME, "Maximum", "RPO", SourceDBInstance=drilled)),
            period_minutes=1440),
        Widget("Releases and their verdicts", tuple(
            _ops(name, CANARY_SERVICE_NAME, "Sum", label) for name, label in (
                ("ReleasesStarted", "started"), ("ReleasesPromoted", "promoted"),
                ("ReleasesRolledBack", "rolled back"))), period_minutes=60),
        Widget("Security alerts", (
            _ops("SecurityAlerts", SECURITY_SERVICE_NAME, "Sum", "alerts"),
            _ops("SecurityRecordsQuarantined", SECURITY_SERVICE_NAME, "Sum", "quarantined records")),
            period_minutes=60),
        Widget("Cost trend (USD per month)", (
            _ops("CostMonthlyUsd", COST_SERVICE_NAME, "Maximum", "monthly cost"),
            _ops("CostPotentialSavingUsd", COST_SERVICE_NAME, "Maximum", "potential saving")),
            period_minutes=1440),
        Widget("Performance breaches", (
            _ops("PerformanceBreaching", PERFORMANCE_SERVICE_NAME, "Maximum", "targets breaching"),
            _ops("PerformanceAlerts", PERFORMANCE_SERVICE_NAME, "Sum", "alerts raised"))),
        Widget("Open incidents", tuple(incidents)),
        Widget("Time to acknowledge / resolve (s)", tuple(response), period_minutes=60),
        Widget("Ops functions: errors", tuple(
            WidgetMetric(LAMBDA_NAMESPACE, "Errors", {"FunctionName": fn}, "Sum", fn) for fn in ops_functions),
            width=24),
    ))


def application(config: ChurnGuardContext) -> DashboardSpec:
    app = config.monitoring.app
    dims = dict(app.dimensions)
    requests = WidgetMetric(app.namespace, app.requests, dims, "Sum", "requests")
    errors = WidgetMetric(app.namespace, app.server_errors, dims, "Sum", "5xx")
    return DashboardSpec(f"{config.prefix}-application", (
        Widget("Request rate (per minute)", (requests,), period_minutes=1),
        Widget("Error rate (% 5xx)", (errors, requests), period_minutes=1, math=("5xx %", "100 * m0 / m1")),
        Widget("Latency p95 (ms)", (WidgetMetric(app.namespace, app.latency, dims, "p95", "p95"),), period_minutes=1),
        Widget("Predictions served", (WidgetMetric(app.namespace, app.predictions, dims, "Sum", "predictions"),),
               period_minutes=1),
        Widget("GDPR requests overdue (30 days)", (
            WidgetMetric(app.namespace, app.gdpr_overdue, dims, "Maximum", "overdue"),)),
        Widget("Compliance score by organization", tuple(
            WidgetMetric(app.namespace, app.compliance_score, {app.organization_dimension: org}, "Minimum", org)
            for org in config.monitoring.organizations)),
    ))


def build_dashboard(scope: Construct, construct_id: str, spec: DashboardSpec) -> cw.Dashboard:
    dashboard = cw.Dashboard(scope, construct_id, dashboard_name=spec.name)
    for widget in spec.widgets:
        period = Duration.minutes(widget.period_minutes)
        metrics = [cw.Metric(namespace=m.namespace, metric_name=m.name, dimensions_map=dict(m.dimensions),
                             statistic=m.stat, label=m.label, period=period) for m in widget.metrics]
        left: list[cw.IMetric] = list(metrics)
        if widget.math:
            label, expression = widget.math
            left = [cw.MathExpression(expression=expression, label=label, period=period,
                                      using_metrics={f"m{i}": m for i, m in enumerate(metrics)})]
        dashboard.add_widgets(cw.GraphWidget(title=widget.title, left=left, width=widget.width, height=6))
    return dashboard
