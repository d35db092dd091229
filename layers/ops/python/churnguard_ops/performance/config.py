"""What to watch and how to advise: the validated configuration the CDK context and the functions share.

Pure pydantic (the CDK app imports it at synth to validate the ``performance`` context).
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from churnguard_ops.performance.kinds import KINDS, check_kinds

Statistic = Literal["average", "p95", "p99", "maximum"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiTarget(_Strict):
    """The ChurnGuard API: an API Gateway REST API (``ApiName``, optional ``Stage``) or an ALB
    (``LoadBalancer`` dimension value, ``app/<name>/<id>``)."""

    type: Literal["apigateway", "alb"] = "apigateway"
    name: str = Field(default="churnguard-api", min_length=1, max_length=255)
    stage: str | None = Field(default=None, min_length=1, max_length=128)


class Targets(_Strict):
    """ChurnGuard's resources to watch (defaults: its production API, functions, queue and database)."""

    api: ApiTarget | None = Field(default_factory=ApiTarget)
    functions: list[str] = Field(default_factory=lambda: ["churnguard-api", "churnguard-worker"])
    queues: list[str] = Field(default_factory=lambda: ["churnguard-scoring"])
    databases: list[str] = Field(default_factory=lambda: ["churnguard-prod"])

    @field_validator("functions", "queues", "databases")
    @classmethod
    def _unique_names(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("names must be unique")
        if any(not name or len(name) > 140 for name in value):
            raise ValueError("names must be 1-140 characters")
        return value


class RecommendationRule(_Strict):
    """Advice that fires when ``statistic`` of a ``kind``'s series reaches ``at_least`` x the kind's threshold
    over the report's window; the recommendation cites the numbers."""

    kind: str
    statistic: Statistic
    at_least: float = Field(default=1.0, gt=0)
    advice: str = Field(min_length=1, max_length=500)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        check_kinds([value])
        return value


#: The seed's recommendations, made data-driven: one rule per kind and symptom.
DEFAULT_RULES: tuple[RecommendationRule, ...] = tuple(RecommendationRule(kind=k, statistic=s, advice=a) for k, s, a in (
    ("rds_cpu", "average", "Sustained high CPU: scale the instance class up, or optimise the heaviest queries "
                           "(the PostgreSQL advisor lists them)."),
    ("rds_cpu", "p95", "CPU peaks above the threshold: spread batch work over the day or add a read replica."),
    ("rds_memory", "average", "Memory pressure: move to a larger (or memory-optimised) instance class."),
    ("rds_connections", "maximum", "Many connections: pool them (RDS Proxy) or lower the functions' concurrency."),
    ("api_latency_p99", "p99", "Slow tail latency: investigate slow queries and cold starts (provisioned "
                               "concurrency for the API function)."),
    ("api_latency_p95", "p95", "Slow typical latency: profile the API's handlers and their database calls."),
    ("api_5xx_rate", "average", "Server errors: read the API's logs and the failing function's errors."),
    ("lambda_duration_p95", "p95", "Slow function: profile it, or give it more memory (and so more CPU)."),
    ("lambda_errors", "maximum", "Function errors: read its logs; errors that retry also add load."),
    ("lambda_throttles", "maximum", "Throttled invocations: raise the function's reserved concurrency."),
    ("lambda_concurrency", "maximum", "Concurrency near the limit: request a higher account limit or reserve "
                                      "concurrency for the critical functions."),
    ("sqs_depth", "maximum", "Queue backlog: add consumers (more concurrency or a larger batch size)."),
    ("sqs_age", "maximum", "Old messages waiting: add consumers, and check the consumer for failures."),
))


def kind_label(kind: str) -> str:
    return KINDS[kind].label
