"""The cost domain: inventory, evidence, prices, recommendations and the report.

Every amount is US dollars per month unless its name says otherwise; a month is ``HOURS_PER_MONTH``
hours (AWS's own convention in its pricing pages and Compute Optimizer). Every saving carries its maths
(:class:`Maths`): the prices and where they came from, the hours, the formula, and the evidence
(:class:`Evidence`) that justified it, so a reader can redo it with a calculator.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

HOURS_PER_MONTH = 730

Category = Literal["compute", "database", "storage"]
ResourceKind = Literal["ec2", "rds", "ebs"]
PriceSource = Literal["pricing_api", "bundled_table"]
Effort = Literal["low", "medium", "high"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- inventory ------------------------------------------------------------------------------------


class Ec2Instance(_Frozen):
    instance_id: str
    instance_type: str
    state: str = "running"
    platform: str = "linux"
    availability_zone: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class RdsInstance(_Frozen):
    db_instance_id: str
    instance_class: str
    engine: str = "postgres"
    multi_az: bool = False
    backup_retention_days: int = 0
    allocated_storage_gb: int = 0
    storage_type: str = "gp2"
    tags: dict[str, str] = Field(default_factory=dict)


class EbsVolume(_Frozen):
    volume_id: str
    volume_type: str
    size_gb: int
    iops: int | None = None
    throughput_mbps: int | None = None
    state: str = "in-use"
    attached_to: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)


class Inventory(_Frozen):
    ec2: list[Ec2Instance] = Field(default_factory=list)
    rds: list[RdsInstance] = Field(default_factory=list)
    ebs: list[EbsVolume] = Field(default_factory=list)

    def size(self) -> int:
        return len(self.ec2) + len(self.rds) + len(self.ebs)


# --- evidence -------------------------------------------------------------------------------------


class Evidence(_Frozen):
    """One metric of one resource over the lookback window: what a recommendation rests on."""

    metric: str  # our name: cpu, cpu_p95, memory, network_in, network_out, connections, freeable_memory, ...
    namespace: str
    name: str  # CloudWatch metric name
    statistic: str  # Average, Maximum, p95, Sum
    average: float | None = None
    p95: float | None = None
    maximum: float | None = None
    points: int = 0
    period_seconds: int = 3600
    window_days: int = 14
    unit: str = ""


class MetricQuery(_Frozen):
    """One series to fetch: ``id`` is unique in a request (GetMetricData's ``Id`` rules: ``^[a-z][a-zA-Z0-9_]*$``)."""

    id: str
    resource_id: str
    metric: str
    namespace: str
    name: str
    dimensions: dict[str, str]
    statistic: str = "Average"
    unit: str = ""


# --- prices ---------------------------------------------------------------------------------------


class Price(_Frozen):
    """A unit price and where it came from (the Pricing API, or the bundled table and its date)."""

    usd: float = Field(ge=0)
    unit: Literal["hour", "GB-month", "IOPS-month", "MBps-month"]
    source: PriceSource
    as_of: date
    description: str = ""

    def monthly(self, quantity: float = 1.0) -> float:
        """This price for a month (730 hours, or the unit's own month) of ``quantity`` units."""
        return self.usd * quantity * (HOURS_PER_MONTH if self.unit == "hour" else 1)


# --- recommendations -------------------------------------------------------------------------------


class Maths(_Frozen):
    """How a saving is computed, in enough detail to redo it."""

    current: list[Price]
    proposed: list[Price]
    hours_per_month: int = HOURS_PER_MONTH
    formula: str  # e.g. "(0.1664 - 0.0832) $/h x 730 h = $60.74"
    current_monthly_usd: float
    proposed_monthly_usd: float


class Recommendation(_Frozen):
    resource_id: str
    resource_kind: ResourceKind
    category: Category
    rule: str
    action: str  # "Downsize m5.xlarge -> m5.large", "Delete the unattached volume", ...
    reason: str  # why, in words, citing the evidence
    monthly_saving_usd: float = Field(ge=0)
    maths: Maths | None = None  # None only for a note
    evidence: list[Evidence] = Field(default_factory=list)
    effort: Effort = "medium"
    note: bool = False  # a note carries no saving (e.g. long backup retention that compliance may need)


ResourceStatus = Literal["recommended", "no_action", "insufficient_data", "vetoed", "note"]


class ResourceResult(_Frozen):
    """What the analysis concluded for one resource: its single best action (no double counting), the
    candidates it was chosen from, and why nothing was recommended where nothing was."""

    resource_id: str
    resource_kind: ResourceKind
    category: Category
    description: str  # "m5.xlarge (web-1)"
    monthly_cost_usd: float
    status: ResourceStatus
    reason: str = ""
    chosen: Recommendation | None = None
    candidates: list[Recommendation] = Field(default_factory=list)
    notes: list[Recommendation] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)


# --- costs ----------------------------------------------------------------------------------------


class ServiceCost(_Frozen):
    service: str
    monthly_usd: float
    category: Category | Literal["other"] = "other"


class DailyCost(_Frozen):
    day: date
    service: str
    usd: float


class Anomaly(_Frozen):
    service: str
    day: date
    usd: float
    baseline_7d_usd: float
    baseline_28d_usd: float
    ratio_7d: float
    ratio_28d: float
    reason: str


class CostData(_Frozen):
    """What Cost Explorer said for a period (three requests at most, cached per period)."""

    period_start: date
    period_end: date
    by_service: list[ServiceCost]
    by_usage_type: dict[str, dict[str, float]] = Field(default_factory=dict)  # service -> usage type -> USD
    daily: list[DailyCost] = Field(default_factory=list)
    own_by_service: list[ServiceCost] = Field(default_factory=list)  # resources tagged as ChurnGuard Ops'
    estimated: bool = False


class ApiUsage(BaseModel):
    """What one run cost in API calls: shown in the report, asserted by tests and the benchmark."""

    cost_explorer_requests: int = 0
    cost_explorer_usd: float = 0.0
    cost_explorer_cached: bool = False
    cloudwatch_metrics: int = 0
    cloudwatch_calls: int = 0
    calls: dict[str, int] = Field(default_factory=dict)  # "ec2:DescribeInstances" -> count

    def count(self, call: str, n: int = 1) -> None:
        self.calls[call] = self.calls.get(call, 0) + n


# --- the report -----------------------------------------------------------------------------------


class Phase(_Frozen):
    number: int
    name: str
    description: str
    recommendations: list[str]  # resource ids
    monthly_saving_usd: float


class Totals(_Frozen):
    monthly_cost_usd: float
    potential_monthly_saving_usd: float
    saving_pct: float
    by_category: dict[str, dict[str, float]]  # category -> {"cost": .., "saving": ..}


class CostReport(_Frozen):
    generated_at: datetime
    period_start: date
    period_end: date
    lookback_days: int
    totals: Totals
    services: list[ServiceCost]
    daily: list[DailyCost]
    anomalies: list[Anomaly]
    resources: list[ResourceResult]
    top_recommendations: list[Recommendation]
    plan: list[Phase]
    footprint: list[ServiceCost]  # what ChurnGuard Ops itself costs
    footprint_monthly_usd: float
    api_usage: ApiUsage
    prices: list[Price]
    notes: list[str] = Field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
