"""Router actions: one registry, one module per action. Importing this package registers them all."""
from __future__ import annotations

from churnguard_ops.alarms.actions.base import (
    ROUTER_ACTIONS,
    ActionContext,
    ActionResult,
    ActionTargets,
    RouterAction,
)

from . import abort_release, executions, notify, open_incident, start_backup  # noqa: F401,E402

__all__ = ["ROUTER_ACTIONS", "ActionContext", "ActionResult", "ActionTargets", "RouterAction"]
