"""The seed's alerting rules as CloudWatch alarm specs (pure data; ``monitoring_stack`` builds them).

Each rule states its severity, team, incident group and runbook (the router and incidents read them as
alarm tags), its threshold and how long it must hold, and what missing data means for it (and why).
Periods are one minute unless said, so "for 5 minutes" is 5 of 5 one-minute datapoints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from churnguard_ops.core.contracts import (
    ALARM_GROUP_TAG,
    ALARM_RUNBOOK_TAG,
    ALARM_SEVERITY_TAG,
    ALARM_TEAM_TAG,
    APP_ALARM_NAME_PREFIX,
)
from infra_cdk.monitoring_settings import MonitoringContext

RDS_NAMESPACE = "AWS/RDS"
LAMBDA_NAMESPACE = "AWS/Lambda"
GREATER = "GreaterThanThreshold"
LESS = "LessThanThreshold"


@dataclass(frozen=True)
class MetricRef:
    namespace: str
    name: str
    dimensions: Mapping[str, str]
    stat: str


@dataclass(frozen=True)
class AlarmRule:
    rule: str  # the seed's rule name (CamelCase)
    resource: str | None  # the organization / function when the rule has one alarm per resource
    severity: str
    team: str
    group: str
    runbook: str
    description: str
    threshold: float
    comparison: str
    evaluation_periods: int
    datapoints: int
    missing: str  # TreatMissingData: breaching | notBreaching | ignore | missing
    metrics: Mapping[str, MetricRef] = field(default_factory=dict)  # id -> metric
    expression: str | None = None  # metric math over ``metrics`` ids; None: the single metric itself
    period_seconds: int = 60

    @property
    def alarm_name(self) -> str:
        return f"{APP_ALARM_NAME_PREFIX}{self.rule}" + (f"-{self.resource}" if self.resource else "")

    @property
    def tags(self) -> dict[str, str]:
        return {ALARM_SEVERITY_TAG: self.severity, ALARM_TEAM_TAG: self.team, ALARM_RUNBOOK_TAG: self.runbook,
                ALARM_GROUP_TAG: self.group}


def kebab(rule: str) -> str:
    """HighErrorRate -> high-error-rate, GDPRRequestOverdue -> gdpr-request-overdue."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", rule).lower()


def alarm_rules(monitoring: MonitoringContext) -> list[AlarmRule]:
    """Every alarm of the seed's rules, in a stable order."""
    app, th = monitoring.app, monitoring.thresholds
    dims = dict(app.dimensions)
    db = {"DBInstanceIdentifier": monitoring.db_instance_id}

    def rule(name: str, *, severity: str, team: str, group: str, resource: str | None = None,
             **kwargs: object) -> AlarmRule:
        runbook = f"{monitoring.runbook_base_url}{kebab(name)}"
        return AlarmRule(rule=name, resource=resource, severity=severity, team=team, group=group, runbook=runbook,
                         **kwargs)  # type: ignore[arg-type]

    rules = [
        rule("HighErrorRate", severity="critical", team="platform", group="api",
             description=f"5xx responses above {th.error_rate_percent:g} % of requests for 5 minutes.",
             metrics={"errors": MetricRef(app.namespace, app.server_errors, dims, "Sum"),
                      "requests": MetricRef(app.namespace, app.requests, dims, "Sum")},
             expression="100 * errors / requests", threshold=th.error_rate_percent, comparison=GREATER,
             # No requests: the rate has no datapoint, and no traffic is not an error rate (an outage that
             # drops all traffic is the Lambda errors' and the health checks' to catch).
             evaluation_periods=5, datapoints=5, missing="notBreaching"),
        rule("HighResponseTime", severity="warning", team="platform", group="api",
             description=f"p95 request latency above {th.latency_p95_ms:g} ms for 5 minutes.",
             metrics={"latency": MetricRef(app.namespace, app.latency, dims, "p95")},
             threshold=th.latency_p95_ms, comparison=GREATER,
             # No requests, no latency to judge: not slow.
             evaluation_periods=5, datapoints=5, missing="notBreaching"),
        rule("DatabaseConnectionsHigh", severity="warning", team="platform", group="database",
             description=f"More than {th.db_connections:g} connections to {monitoring.db_instance_id} for 2 minutes.",
             metrics={"connections": MetricRef(RDS_NAMESPACE, "DatabaseConnections", db, "Maximum")},
             threshold=th.db_connections, comparison=GREATER,
             # RDS reports every minute while the instance runs; a gap (stopped, replaced) is unknown, not
             # "too many connections": the alarm goes to INSUFFICIENT_DATA rather than paging.
             evaluation_periods=2, datapoints=2, missing="missing"),
        rule("DatabaseCpuHigh", severity="warning", team="platform", group="database",
             description=f"CPU of {monitoring.db_instance_id} above {th.rds_cpu_percent:g} % for 5 minutes "
                         "(the seed's node CPU rule, on the database that ChurnGuard runs on).",
             metrics={"cpu": MetricRef(RDS_NAMESPACE, "CPUUtilization", db, "Average")},
             threshold=th.rds_cpu_percent, comparison=GREATER,
             evaluation_periods=5, datapoints=5, missing="missing"),  # as DatabaseConnectionsHigh
        rule("GDPRRequestOverdue", severity="critical", team="compliance", group="compliance",
             description="A GDPR data-subject request has been open for more than 30 days.",
             metrics={"overdue": MetricRef(app.namespace, app.gdpr_overdue, dims, "Maximum")},
             threshold=th.gdpr_overdue, comparison=GREATER,
             # A gauge published when the compliance job runs, not every minute: a gap keeps the last state,
             # so an overdue request stays in ALARM until a count of zero is published.
             evaluation_periods=1, datapoints=1, missing="ignore"),
    ]
    # One alarm per organization rather than one over a Metrics Insights MIN(): the alarm's name and
    # tags then say which organization fell below, which the router and the incident carry on.
    for org in monitoring.organizations:
        rules.append(rule(
            "ComplianceScoreLow", resource=org, severity="warning", team="compliance", group="compliance",
            description=f"Compliance score of {org} below {th.compliance_score:g} for 10 minutes.",
            metrics={"score": MetricRef(app.namespace, app.compliance_score, {app.organization_dimension: org},
                                        "Minimum")},
            threshold=th.compliance_score, comparison=LESS, period_seconds=300,
            # A gauge as GDPRRequestOverdue: a gap keeps the state instead of clearing the alarm.
            evaluation_periods=2, datapoints=2, missing="ignore"))
    for fn in monitoring.functions:
        fn_dims = {"FunctionName": fn}
        # The seed's crash-looping pods, on Lambda: errors in 3 of 5 minutes (persistent, not one bad request).
        rules.append(rule(
            "LambdaErrors", resource=fn, severity="warning", team="platform", group="api",
            description=f"{fn} failed invocations in 3 of the last 5 minutes.",
            metrics={"errors": MetricRef(LAMBDA_NAMESPACE, "Errors", fn_dims, "Sum")},
            threshold=th.lambda_errors, comparison=GREATER,
            evaluation_periods=5, datapoints=3, missing="notBreaching"))  # no invocations, no errors
        rules.append(rule(
            "LambdaThrottles", resource=fn, severity="warning", team="platform", group="api",
            description=f"{fn} throttled in 3 of the last 5 minutes (concurrency exhausted).",
            metrics={"throttles": MetricRef(LAMBDA_NAMESPACE, "Throttles", fn_dims, "Sum")},
            threshold=th.lambda_throttles, comparison=GREATER,
            evaluation_periods=5, datapoints=3, missing="notBreaching"))  # no requests, none refused
    return rules
