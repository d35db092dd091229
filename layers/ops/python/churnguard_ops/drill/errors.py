"""Drill failures. Their class names become Step Functions error names (Catch matches States.ALL)."""
from __future__ import annotations

from churnguard_ops.core.errors import OpsError


class NoRecoveryPoint(OpsError):
    """No snapshot or restorable time matches the request."""


class RestoreTimedOut(OpsError):
    """The instance (or drill snapshot) did not become available within max_wait_seconds."""


class RestoreFailed(OpsError):
    """RDS reported a terminal failure state for the restore or the drill snapshot."""


class GuardViolation(OpsError):
    """A drill step was about to touch something that is not a drill resource (the source, say)."""
