"""The ``flags`` context: the AppConfig environments, how ChurnGuard's own Lambdas read flags, and the flags."""
from __future__ import annotations

import copy
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator, model_validator

from churnguard_ops.core.contracts import FLAGS_APPLICATION, FLAGS_PROFILE
from churnguard_ops.core.flag_document import FlagDocument
from infra_cdk.context_types import _Strict

#: AppConfig environment names become construct ids and FLAGS_ENVIRONMENT: 1-64 letters, digits, '.', '_', '-'.
EnvironmentName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$")]

#: The seed's two flags: the redesigned dashboard for 10 % of users, analytics for the paying tiers.
SEED_FLAGS: dict[str, Any] = {
    "new_dashboard_ui": {
        "default": False,
        "description": "The redesigned dashboard",
        "rollout": {"percentage": 10, "value": True, "attribute": "user_id", "salt": "new_dashboard_ui"},
        "kill_switch": False,
    },
    "advanced_analytics": {
        "default": False,
        "rules": {
            "professional and enterprise tiers": {
                "when_match": True,
                "conditions": [{"action": "IN", "key": "subscription_tier", "value": ["professional", "enterprise"]}],
            },
        },
    },
}


class FlagsContext(_Strict):
    """Feature flags on AppConfig.

    ``environments``: one AppConfig environment each, all deployed the same ``flags`` document at synth (the
    canary flag shifter then moves one environment at a time). ``evaluation_environment``: the one ChurnGuard's
    own Lambdas read. ``flags``: the flag document (Powertools' rule schema plus ``rollout`` and ``kill_switch``),
    validated at synth as the runtime parses it."""

    environments: list[EnvironmentName] = Field(default_factory=lambda: ["production"], min_length=1)
    evaluation_environment: EnvironmentName = "production"
    # How often a Lambda asks AppConfig for a new version (the poll interval): a kill switch acts within this.
    cache_seconds: int = Field(default=45, ge=15, le=3600)
    # When AppConfig fails, the last good document is served this long, then the caller's default.
    max_stale_seconds: int = Field(default=3600, ge=0, le=7 * 24 * 3600)
    # Share of evaluations that emit FlagExposure (requests, errors and latency are never sampled).
    exposure_sample_rate: float = Field(default=0.1, gt=0, le=1)
    flags: dict[str, Any] = Field(default_factory=lambda: copy.deepcopy(SEED_FLAGS))

    @field_validator("environments")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("entries must be unique")
        return value

    @field_validator("flags")
    @classmethod
    def _a_valid_flag_document(cls, value: dict[str, Any]) -> dict[str, Any]:
        # The same parse the flags library runs on every new version: a typo fails the synth, not the flag.
        try:
            FlagDocument.from_data(value)
        except ValueError as error:
            raise ValueError(f"flags.flags.{error}") from None
        return value

    @model_validator(mode="after")
    def _evaluated_environment_is_deployed(self) -> FlagsContext:
        if self.evaluation_environment not in self.environments:
            raise ValueError(f"evaluation_environment {self.evaluation_environment!r} is not one of environments "
                             f"{self.environments}")
        return self

    def document(self) -> FlagDocument:
        return FlagDocument.from_data(self.flags)

    def lambda_environment(self) -> dict[str, str]:
        """The FLAGS_* variables the flags library reads (pydantic-settings, prefix FLAGS_)."""
        return {
            "FLAGS_APPLICATION": FLAGS_APPLICATION,
            "FLAGS_ENVIRONMENT": self.evaluation_environment,
            "FLAGS_PROFILE": FLAGS_PROFILE,
            "FLAGS_CACHE_SECONDS": str(self.cache_seconds),
            "FLAGS_MAX_STALE_SECONDS": str(self.max_stale_seconds),
            "FLAGS_EXPOSURE_SAMPLE_RATE": str(self.exposure_sample_rate),
        }
