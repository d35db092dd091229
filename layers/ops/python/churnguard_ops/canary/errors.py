"""Canary failures. Lambda reports an exception's class name as the error and Step Functions Catches
exactly that name (not a base class), so every failure a state machine branches on has its own class;
the names are ``core.contracts.CANARY_ERROR_NAMES``."""
from __future__ import annotations

from churnguard_ops.core.errors import InvalidEvent, OpsError


class ValidationFailed(InvalidEvent):
    """The release request cannot be started: bad input, unknown function/alias/version/alarm, same version."""


class AlarmAlreadyFiring(ValidationFailed):
    """A gating alarm was in ALARM before the release started (``pre_existing_alarm: block``)."""


class ReleaseInProgress(OpsError):
    """Another release holds the alias; the message names it."""


class SmokeTestFailed(OpsError):
    """A smoke event sent straight to the new version did not meet its expectation (no traffic was shifted)."""


class AliasChanged(OpsError):
    """The alias moved under the release (someone else deployed or shifted it): nothing was changed."""


class MetricsUnavailable(OpsError):
    """CloudWatch could not be read; the evaluation is a PROVIDER_ERROR, never a pass."""


class FlagDeploymentBusy(OpsError):
    """The flag's AppConfig environment is deploying (one deployment per environment at a time), or another
    release holds its short write lock: nothing was changed; the state machine retries with backoff."""


class FlagDeploymentFailed(OpsError):
    """A flag deployment did not complete (AppConfig rolled it back, or it never finished in time)."""
