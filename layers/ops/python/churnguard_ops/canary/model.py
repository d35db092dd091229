"""The canary domain: what a release asks for, what the judge decides, what the workflow carries.

The request is strict (``extra="forbid"``, every rule names its field) because a typo in a gate is a
gate that silently does not exist. The state the workflow carries between tasks ignores unknown keys so
Step Functions can add its own (``$.error`` from a Catch, say).
"""
from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from churnguard_ops.core.clock import IsoTime
from churnguard_ops.core.contracts import CANARY_VERSION_DIMENSION, FLAG_VARIANT_DIMENSION
from churnguard_ops.core.flag_document import FLAG_KEY_PATTERN

DEFAULT_STEPS = [10, 25, 50, 75, 100]
#: CloudWatch statistics a business metric may use: the five basics or a percentile such as p90 / p99.9.
_STATISTIC = re.compile(r"^(Sum|SampleCount|Average|Minimum|Maximum|p(\d{1,2}(\.\d+)?|100))$")
#: Statistics that count events: compared per invocation (a version serving half the traffic counts half).
COUNTING_STATISTICS = frozenset({"Sum", "SampleCount"})

FunctionName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BakeRules(_Strict):
    """How long each step bakes before it is judged.

    A step is *ready* once BOTH ``min_seconds`` have elapsed AND ``min_invocations`` of the new version
    were observed. Enough invocations before enough time: a breach already fails (the evidence is there),
    a pass waits for the time. Not enough invocations by ``max_wait_seconds``: NO_DATA.
    """

    min_seconds: int = Field(300, ge=0, le=24 * 3600)
    min_invocations: int = Field(100, ge=1, description="Zero traffic is never a pass, so at least 1")
    max_wait_seconds: int = Field(1800, ge=60, le=24 * 3600)
    final_bake_seconds: int | None = Field(
        None, ge=0, le=24 * 3600,
        description="Bake after 100 % (absolute thresholds only, the stable version has no traffic left); "
                    "None = min_seconds, 0 = promote as soon as the alias points at the new version")

    @model_validator(mode="after")
    def _wait_covers_bake(self) -> BakeRules:
        if self.max_wait_seconds < self.min_seconds:
            raise ValueError(f"max_wait_seconds ({self.max_wait_seconds}) must be at least min_seconds "
                             f"({self.min_seconds})")
        if self.final_bake_seconds is not None and self.final_bake_seconds > self.max_wait_seconds:
            raise ValueError(f"final_bake_seconds ({self.final_bake_seconds}) must not exceed max_wait_seconds "
                             f"({self.max_wait_seconds})")
        return self

    @property
    def final_seconds(self) -> int:
        return self.min_seconds if self.final_bake_seconds is None else self.final_bake_seconds

    def final(self) -> BakeRules:
        """The rules of the bake at 100 %."""
        return self.model_copy(update={"min_seconds": self.final_seconds})


class BusinessMetric(_Strict):
    """A metric the application publishes per version, e.g. ``ChurnGuard/Api`` ``PredictionsServed``.

    Counting statistics (Sum, SampleCount) are compared per invocation of each version; the others
    (Average, percentiles, ...) as they are.
    """

    namespace: Name
    name: Name
    dimensions: dict[str, str] = Field(default_factory=dict, description="Besides the version dimension")
    version_dimension: Name = CANARY_VERSION_DIMENSION
    statistic: str = "Sum"
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"
    max_degradation_pct: float = Field(5.0, ge=0, le=100)

    @field_validator("statistic")
    @classmethod
    def _known_statistic(cls, value: str) -> str:
        if not _STATISTIC.match(value):
            raise ValueError(f"{value!r} is not a CloudWatch statistic (Sum, SampleCount, Average, Minimum, "
                             "Maximum or a percentile such as p99)")
        return value

    @model_validator(mode="after")
    def _version_dimension_is_ours(self) -> BusinessMetric:
        if self.version_dimension in self.dimensions:
            raise ValueError(f"dimensions: {self.version_dimension!r} is the version dimension, set per version")
        if len(self.dimensions) > 29:  # CloudWatch allows 30 dimensions, one is the version
            raise ValueError("dimensions: at most 29 besides the version dimension")
        return self

    @property
    def per_invocation(self) -> bool:
        return self.statistic in COUNTING_STATISTICS


class Thresholds(_Strict):
    """When a step fails.

    Absolute: error rate above ``max_error_rate_pct`` fails, exactly at it passes; p99 above ``max_p99_ms``
    fails, exactly at it passes. Business: a degradation of more than ``max_degradation_pct`` against the
    baseline, in the metric's direction, fails.

    Relative (canary against the stable version over the same window, once the stable version has
    ``min_invocations`` itself): the canary may be worse by ``relative_tolerance_pct`` of the baseline's
    value OR by the absolute floor, whichever allows more. So with a baseline error rate of 0.2 % and
    tolerance 50 %, floor 0.5 points: allowed up to max(0.3, 0.7) = 0.7 %. The floor keeps 0 % vs 0.1 %
    at low rates from failing on one unlucky request. p99 likewise with ``relative_floor_p99_ms``.
    """

    max_error_rate_pct: float = Field(1.0, ge=0, le=100)
    max_p99_ms: float = Field(2000, gt=0)
    business: BusinessMetric | None = None
    relative_tolerance_pct: float = Field(50.0, ge=0, le=10_000)
    relative_floor_error_rate_pct: float = Field(0.5, ge=0, le=100)
    relative_floor_p99_ms: float = Field(50.0, ge=0)


class Approval(_Strict):
    """A human approves before the step that moves all traffic (100 %); no answer in time = rollback."""

    required: bool = False
    timeout_seconds: int = Field(3600, ge=1, le=7 * 24 * 3600)


class SmokeExpectation(_Strict):
    status: Literal["success", "error"] = "success"
    body_contains: str | None = None
    #: Dotted paths into the JSON response, e.g. ``{"statusCode": 200, "body.prediction.label": "churn"}``.
    field_equals: dict[str, Any] = Field(default_factory=dict)


class SmokeEvent(_Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    payload: dict[str, Any] = Field(default_factory=dict)
    expect: SmokeExpectation = Field(default_factory=SmokeExpectation)


class _ReleaseRules(_Strict):
    """What every release shares, whatever it moves: steps, bake, thresholds, gates, approval."""

    steps: list[int] = Field(default_factory=lambda: list(DEFAULT_STEPS), min_length=1, max_length=20)
    bake: BakeRules = Field(default_factory=BakeRules)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    on_no_data: Literal["rollback", "hold", "extend"] = "rollback"
    on_provider_error: Literal["rollback", "hold"] = "rollback"
    evaluation_interval_seconds: int = Field(60, ge=1, le=3600, description="Time between evaluations of a step")
    # AWS/Lambda metrics have one-minute resolution: 60 on AWS. 1, 5, 10 or 30 only for metrics published
    # at high resolution (and the embedded AWS, where a whole release runs in a couple of minutes).
    metric_period_seconds: Literal[1, 5, 10, 30, 60] = 60
    alarms: list[Name] = Field(default_factory=list, max_length=100)
    pre_existing_alarm: Literal["block", "ignore"] = "block"
    approval: Approval = Field(default_factory=Approval)
    release_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")] | None = None
    execution_id: str | None = Field(None, description="The Step Functions execution, recorded in the lock")
    requested_by: str | None = None

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: list[int]) -> list[int]:
        for index, weight in enumerate(steps):
            if not 1 <= weight <= 100:
                raise ValueError(f"steps[{index}] = {weight}: each weight is a percentage from 1 to 100")
        for index in range(1, len(steps)):
            if steps[index] <= steps[index - 1]:
                raise ValueError(f"steps must be strictly increasing: steps[{index}] = {steps[index]} follows "
                                 f"{steps[index - 1]}")
        if steps[-1] != 100:
            raise ValueError(f"steps must end at 100 (the promotion), not {steps[-1]}")
        return steps

    @field_validator("alarms")
    @classmethod
    def _unique_alarms(cls, values: list[str]) -> list[str]:
        duplicates = sorted({n for n in values if values.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate names: {duplicates}")
        return values

    def max_duration_seconds(self) -> int:
        """An upper bound of a release's run time (the lock expires after it, so a crashed run cannot block)."""
        per_step = self.bake.max_wait_seconds * (2 if self.on_no_data == "extend" else 1)
        approval = self.approval.timeout_seconds if self.approval.required else 0
        return len(self.steps) * per_step + approval + 3600


class ReleaseRequest(_ReleaseRules):
    """The execution input: release ``new_version`` of ``function_name`` behind ``alias``."""

    kind: Literal["lambda_alias"] = "lambda_alias"
    function_name: FunctionName
    alias: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,128}$")]
    new_version: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,9}$")] = Field(
        description="A published version number ($LATEST cannot be judged: its metrics are not per version)")
    smoke_events: list[SmokeEvent] = Field(default_factory=list, max_length=20)

    @field_validator("alias")
    @classmethod
    def _alias_not_a_version(cls, alias: str) -> str:
        if alias.isdigit():
            raise ValueError(f"{alias!r} is a version number, not an alias")
        return alias

    @field_validator("smoke_events")
    @classmethod
    def _unique_smoke_events(cls, values: list[SmokeEvent]) -> list[SmokeEvent]:
        names = [v.name for v in values]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate names: {duplicates}")
        return values

    @property
    def lock_key(self) -> str:
        return f"{self.function_name}:{self.alias}"


class FlagRef(_Strict):
    """A feature flag in one AppConfig environment of the flags application."""

    environment: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    key: Annotated[str, StringConstraints(pattern=FLAG_KEY_PATTERN)]


class FlagReleaseRequest(_ReleaseRules):
    """Ramp a flag's rollout percentage through ``steps``; judged on its ``on`` against its ``off`` cohort."""

    kind: Literal["feature_flag"]
    flag: FlagRef
    #: The applications see a deployment only at their next poll (their flag cache period): the bake of a step
    #: starts this long after its deployment completed, so the judged window holds the new percentage alone.
    #: None: the deployment's own (CANARY_FLAGS_PROPAGATION_SECONDS: the flags' cache period + 1 s).
    propagation_seconds: int | None = Field(None, ge=0, le=3600)

    @field_validator("propagation_seconds")
    @classmethod
    def _propagates_within_the_wait(cls, seconds: int | None, info: ValidationInfo) -> int | None:
        bake = info.data.get("bake")
        if seconds is not None and isinstance(bake, BakeRules) and seconds >= bake.max_wait_seconds:
            raise ValueError(f"{seconds} s is not less than bake.max_wait_seconds ({bake.max_wait_seconds} s): "
                             "no step could ever start baking")
        return seconds

    @model_validator(mode="before")
    @classmethod
    def _business_by_variant(cls, data: Any) -> Any:
        # A cohort's business metric carries the variant (on/off), not a Lambda version: the default dimension.
        business = ((data or {}).get("thresholds") or {}).get("business") if isinstance(data, dict) else None
        if isinstance(business, dict) and "version_dimension" not in business:
            business = {**business, "version_dimension": FLAG_VARIANT_DIMENSION}
            data = {**data, "thresholds": {**data["thresholds"], "business": business}}
        return data

    @property
    def lock_key(self) -> str:
        return f"{FLAG_LOCK_PREFIX}{self.flag.environment}:{self.flag.key}"


def _request_kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "lambda_alias"))
    return str(getattr(value, "kind", "lambda_alias"))


#: A release of a Lambda alias (no ``kind``, or ``"lambda_alias"``) or of a feature flag (``"feature_flag"``).
AnyReleaseRequest = Annotated[
    Annotated[ReleaseRequest, Tag("lambda_alias")] | Annotated[FlagReleaseRequest, Tag("feature_flag")],
    Discriminator(_request_kind)]
#: Lock keys of flag releases start with this (an alias's key is ``<function>:<alias>``).
FLAG_LOCK_PREFIX = "flag:"


class Verdict(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    NO_DATA = "NO_DATA"
    PROVIDER_ERROR = "PROVIDER_ERROR"


class VersionSamples(BaseModel):
    """What CloudWatch saw of one version during the window. A missing series is 0 samples."""

    model_config = ConfigDict(extra="forbid")

    version: str
    invocations: float = Field(0, ge=0)
    errors: float = Field(0, ge=0)
    p99_ms: float | None = Field(None, ge=0, description="None: no Duration datapoint")
    business: float | None = Field(None, description="The business statistic's value; None: no datapoint")

    @property
    def error_rate_pct(self) -> float | None:
        return self.errors / self.invocations * 100 if self.invocations else None

    def business_value(self, metric: BusinessMetric) -> float | None:
        """Per invocation for counting statistics (an empty series counts 0), else the statistic itself."""
        if metric.per_invocation:
            return (self.business or 0.0) / self.invocations if self.invocations else None
        return self.business


class WindowSamples(BaseModel):
    model_config = ConfigDict(extra="forbid")

    canary: VersionSamples
    baseline: VersionSamples


class Judgement(BaseModel):
    """The judge's answer. ``verdict`` None: still baking, evaluate again after the interval."""

    verdict: Verdict | None
    ready: bool
    reasons: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="Rules skipped and why")


Action = Literal["smoke", "advance", "bake", "approve", "promote", "rollback", "hold", "aborted", "done"]


class DecisionRecord(BaseModel):
    """One verdict on one step: written to S3 and published as an event."""

    release_id: str
    #: what was released: a function's alias, or a flag in an environment (the other pair is None)
    function_name: str | None = None
    alias: str | None = None
    flag: str | None = None
    environment: str | None = None
    step_index: int
    weight: int
    window_start: datetime
    window_end: datetime
    elapsed_seconds: float
    canary: VersionSamples
    baseline: VersionSamples
    canary_error_rate_pct: float | None
    baseline_error_rate_pct: float | None
    thresholds: Thresholds
    bake: BakeRules
    alarms_in_alarm: list[str] = Field(default_factory=list)
    verdict: Verdict
    reasons: list[str]
    notes: list[str] = Field(default_factory=list)
    action: Action
    evaluated_at: datetime


Outcome = Literal["running", "promoted", "rolled_back", "aborted"]


class LastDecision(BaseModel):
    model_config = ConfigDict(extra="ignore")

    verdict: Verdict
    reasons: list[str]
    location: str | None = None
    evaluated_at: datetime
    step_index: int = -1
    weight: int = 0
    canary_invocations: float = 0
    canary_error_rate_pct: float | None = None
    canary_p99_ms: float | None = None
    baseline_error_rate_pct: float | None = None
    baseline_p99_ms: float | None = None
    business_change_pct: float | None = Field(None, description="Canary vs stable, signed percent")
    action: str | None = None


class ReleaseState(BaseModel):
    """What every canary task takes and returns whole (``ResultPath: "$"``); ``action`` says what next."""

    model_config = ConfigDict(extra="ignore")

    request: AnyReleaseRequest
    release_id: str
    stable_version: str = Field(description="The alias's version before the release, or the flag's rollout "
                                            "percentage before it (what a rollback restores)")
    #: What is released, for the states that announce it: {"kind", "name", ...} (see ``targets.describe``).
    target: dict[str, Any] = Field(default_factory=dict)
    #: What the last move waits for before its bake counts (a flag deployment: {"environment", "number"}).
    pending: dict[str, Any] | None = None
    started_at: IsoTime
    action: Action
    outcome: Outcome = "running"
    step_index: int = Field(-1, ge=-1, description="-1 before the first shift")
    weight: int = Field(0, ge=0, le=100, description="Percentage of the alias's traffic on the new version, or "
                                                     "the flag's rollout percentage")
    step_started_at: IsoTime | None = None
    extensions: int = Field(0, ge=0, description="Times on_no_data 'extend' lengthened this step's wait")
    wait_seconds: int = Field(0, ge=0, description="How long the Wait state before the next task sleeps")
    evaluations: int = Field(0, ge=0)
    preexisting_alarms: list[str] = Field(default_factory=list)
    approved_by: str | None = None
    smoke: list[dict[str, Any]] = Field(default_factory=list)
    last_decision: LastDecision | None = None
    #: Every decision of the release, oldest first: the execution's output alone says why it ended as it did.
    decisions: list[LastDecision] = Field(default_factory=list)
    reason: str | None = None
    error: dict[str, Any] | None = Field(None, description="Where a Catch puts {Error, Cause}")
    finished_at: IsoTime | None = None

    @property
    def steps(self) -> list[int]:
        return self.request.steps

    @property
    def next_weight(self) -> int | None:
        following = self.step_index + 1
        return self.steps[following] if following < len(self.steps) else None

    @property
    def final(self) -> bool:
        """At 100 %: the alias points at the new version, nothing is left on the stable one."""
        return self.weight == 100
