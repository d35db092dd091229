"""start_backup: an immediate on-demand snapshot through the backup function (a manual database event)."""
from __future__ import annotations

from pydantic import Field

from churnguard_ops.alarms.actions.base import ROUTER_ACTIONS, ActionContext, ActionResult, RouterAction
from churnguard_ops.core.errors import OpsError
from churnguard_ops.core.registry import PluginParams

BACKUP_FUNCTION_SUFFIX = "backup"


class StartBackupParams(PluginParams):
    db_instance_id: str | None = Field(
        None, pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$",
        description="the instance; default: the DBInstanceIdentifier dimension of the alarm's metric")
    retention_days: int | None = Field(None, ge=1, le=3650, description="default: the database policy's")


@ROUTER_ACTIONS.register
class StartBackup(RouterAction):
    """Take an on-demand snapshot of the alarm's database now (``<prefix>-backup``, invoked asynchronously).

    Example::

        {"action": "start_backup", "params": {"db_instance_id": "churnguard-prod"}}
    """

    name = "start_backup"
    Params = StartBackupParams
    permissions = ("lambda:InvokeFunction",)

    def run(self, ctx: ActionContext, params: StartBackupParams) -> ActionResult:  # type: ignore[override]
        instance = params.db_instance_id or ctx.change.dimensions.get("DBInstanceIdentifier")
        if not instance:
            raise OpsError(f"start_backup: alarm {ctx.change.name} has no DBInstanceIdentifier dimension; "
                           "set params.db_instance_id on its route")
        detail: dict[str, object] = {"policy": "database", "db_instance_ids": [instance], "on_demand": True}
        if params.retention_days is not None:
            detail["retention_days"] = params.retention_days
        event = {"version": "0", "id": f"{ctx.change.event_id}-backup", "detail-type": "Manual Backup",
                 "source": "churnguard.ops.alarms", "account": _account(ctx.change.arn), "time": _now_iso(),
                 "region": _region(ctx.change.arn), "resources": [ctx.change.arn], "detail": detail}
        function = f"{ctx.targets.prefix}-{BACKUP_FUNCTION_SUFFIX}"
        ctx.lambdas.invoke_async(function, event)
        return ActionResult(f"on-demand backup of {instance} requested from {function}",
                            data={"db_instance_id": instance})


def _account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else "000000000000"


def _region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else "us-east-1"


def _now_iso() -> str:
    from churnguard_ops.core.clock import utcnow

    return utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
