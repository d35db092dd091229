"""The ``monitoring`` context: the seed's alerting rules as CloudWatch alarms, and the dashboards.

Defaults are the seed's rules and the names under which ChurnGuard's API publishes its metrics
(``opsctl.local.sample_api`` publishes the same ones locally).
"""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from churnguard_ops.core.contracts import APP_METRICS_NAMESPACE
from infra_cdk.context_types import DbInstanceId, _Strict

# CloudWatch: namespaces and metric names are 1-255 printable characters, a namespace may not start with "AWS/"
# (reserved for AWS's own); dimension names 1-255 without ':'-prefixes; values 1-1024.
MetricNamespace = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/#:-]{1,255}$")]
MetricName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/#:%-]{1,255}$")]
DimensionName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,255}$")]
DimensionValue = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
LambdaFunctionName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
OrganizationName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,100}$")]
RunbookBase = Annotated[str, StringConstraints(pattern=r"^https://[^\s]+/$")]


class AppMetricsContext(_Strict):
    """Where ChurnGuard's API publishes its metrics: the alarms and the application dashboard read these."""

    namespace: MetricNamespace = APP_METRICS_NAMESPACE
    #: The dimensions of the API-wide series (requests, 5xx, latency, predictions, GDPR overdue).
    dimensions: dict[DimensionName, DimensionValue] = Field(default_factory=lambda: {"Service": "churnguard-api"})
    requests: MetricName = "Count"  # requests served (Count)
    server_errors: MetricName = "5XXError"  # requests answered 5xx (Count)
    latency: MetricName = "Latency"  # request latency (Milliseconds; the alarm reads p95)
    predictions: MetricName = "PredictionsServed"
    gdpr_overdue: MetricName = "GDPRRequestsOverdue"  # data-subject requests open for more than 30 days
    compliance_score: MetricName = "ComplianceScore"  # 0-100, per organization
    organization_dimension: DimensionName = "Organization"  # the compliance score's own dimension

    @field_validator("namespace")
    @classmethod
    def _not_aws(cls, value: str) -> str:
        if value.startswith("AWS/"):
            raise ValueError("namespaces starting with 'AWS/' are reserved for AWS's own metrics")
        return value


class MonitoringThresholds(_Strict):
    """The seed's thresholds (and the Lambda/RDS translations of its Kubernetes rules)."""

    error_rate_percent: float = Field(default=5.0, gt=0, le=100)
    latency_p95_ms: float = Field(default=2000.0, gt=0)
    db_connections: float = Field(default=80.0, gt=0)
    gdpr_overdue: float = Field(default=0.0, ge=0)
    compliance_score: float = Field(default=80.0, gt=0, le=100)
    rds_cpu_percent: float = Field(default=80.0, gt=0, le=100)
    lambda_errors: float = Field(default=0.0, ge=0)
    lambda_throttles: float = Field(default=0.0, ge=0)


class MonitoringContext(_Strict):
    """The seed's alerting rules as CloudWatch alarms, and the dashboards."""

    app: AppMetricsContext = Field(default_factory=AppMetricsContext)
    #: One ComplianceScoreLow alarm each (the seed's rule is per organization; an empty list: no such alarm).
    organizations: list[OrganizationName] = Field(default_factory=lambda: ["org-0001", "org-0002", "org-0003"])
    #: ChurnGuard's database (DatabaseConnectionsHigh, DatabaseCpuHigh; AWS/RDS metrics).
    db_instance_id: DbInstanceId = "churnguard-prod"
    #: ChurnGuard's Lambda functions (errors and throttles alarms replace the seed's crash-looping pods).
    functions: list[LambdaFunctionName] = Field(default_factory=lambda: ["churnguard-api", "churnguard-worker"])
    #: Each alarm's Runbook tag is this base plus the rule's kebab-case name (high-error-rate, ...).
    runbook_base_url: RunbookBase = "https://runbooks.churnguard.example/alerts/"
    thresholds: MonitoringThresholds = Field(default_factory=MonitoringThresholds)

    @field_validator("organizations", "functions")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("entries must be unique")
        return value

    def lambda_environment(self) -> dict[str, str]:
        return {}  # the monitoring stack has no function
