"""snapshot_shared_externally: an RDS/EBS snapshot or an AMI made public or shared with a foreign account."""
from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import Field, field_validator

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.security.cloudtrail import fields
from churnguard_ops.security.model import Event

from .base import DETECTORS, Finding
from .cloudtrail_base import CloudTrailDetector

_RDS = frozenset({"ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute"})


class SnapshotSharedExternallyParams(PluginParams):
    snapshot_share_allowlist: frozenset[str] = Field(
        default=frozenset(),
        description="12-digit accounts that may receive our snapshots and AMIs (a DR account); ours always may")

    @field_validator("snapshot_share_allowlist")
    @classmethod
    def _account_ids(cls, value: frozenset[str]) -> frozenset[str]:
        bad = sorted(account for account in value if not re.fullmatch(r"\d{12}", account))
        if bad:
            raise ValueError(f"not 12-digit AWS account ids: {bad}")
        return value


def permission_grantees(attribute: Any) -> list[str]:
    """EC2 ``{"add": {"items": [{"group": "all"} | {"userId": "..."}]}}`` -> ``["all", "<account>", ...]``."""
    added = attribute.get("add") if isinstance(attribute, dict) else None
    grantees: list[str] = []
    for item in fields.items(added):
        if isinstance(item, dict):
            if item.get("group"):
                grantees.append(str(item["group"]))
            if item.get("userId"):
                grantees.append(str(item["userId"]))
    return grantees


@DETECTORS.register
class SnapshotSharedExternally(CloudTrailDetector):
    """A snapshot or AMI made public or shared with an account not on the allowlist (CloudTrail). Critical.

    This is how backups are stolen: share, then restore in the thief's account.

    Rule: ``ModifyDBSnapshotAttribute`` / ``ModifyDBClusterSnapshotAttribute`` with ``attributeName`` ``restore``
    and ``valuesToAdd`` holding ``all`` or an account that is neither ours (``recipientAccountId``) nor on
    ``snapshot_share_allowlist``; ``ModifySnapshotAttribute`` (EBS) adding ``createVolumePermission`` for group
    ``all`` or such an account; ``ModifyImageAttribute`` adding ``launchPermission`` likewise. Decided: AMI
    shares to an organization or OU ARN are not judged (they name no account); removals never alert.

    Entity: the snapshot or image id; context: ``resource``, ``resource_kind`` (RDS snapshot, EBS snapshot, AMI),
    ``shared_with``, ``public``, ``reason``.

    Example::

        {"detector": "snapshot_shared_externally", "params": {"snapshot_share_allowlist": ["210987654321"]}}
    """

    name = "snapshot_shared_externally"
    Params: ClassVar[type[PluginParams]] = SnapshotSharedExternallyParams
    severity = "critical"
    recommended_action = ("Remove the share now (valuesToRemove / remove the permission), then find out whether the "
                          "other account already copied or restored it, and revoke the actor's credentials.")
    event_names = _RDS | frozenset({"ModifySnapshotAttribute", "ModifyImageAttribute"})
    event_sources = frozenset({"rds.amazonaws.com", "ec2.amazonaws.com"})

    def __init__(self, params: PluginParams | dict[str, Any] | None = None) -> None:
        super().__init__(params)
        assert isinstance(self.params, SnapshotSharedExternallyParams)
        self.allowlist = self.params.snapshot_share_allowlist

    def predicate(self, event: Event) -> Finding | None:
        params = fields.request(event)
        source = fields.source(event)
        if event.type in _RDS:
            if source != "rds.amazonaws.com" or str(params.get("attributeName", "")).lower() != "restore":
                return None
            resource = params.get("dBSnapshotIdentifier") or params.get("dBClusterSnapshotIdentifier")
            grantees = [str(value) for value in fields.as_list(params.get("valuesToAdd"))]
            kind = "RDS snapshot"
        elif event.type == "ModifySnapshotAttribute" and source == "ec2.amazonaws.com":
            resource = params.get("snapshotId")
            grantees = permission_grantees(params.get("createVolumePermission"))
            kind = "EBS snapshot"
        elif event.type == "ModifyImageAttribute" and source == "ec2.amazonaws.com":
            resource = params.get("imageId")
            grantees = permission_grantees(params.get("launchPermission"))
            kind = "AMI"
        else:
            return None
        own = fields.account(event)
        foreign = [value for value in grantees
                   if value.lower() == "all" or (value != own and value not in self.allowlist)]
        if not foreign:
            return None
        public = any(value.lower() == "all" for value in foreign)
        return self.finding(event, str(resource), resource=resource, resource_kind=kind, shared_with=foreign,
                            public=public, reason=f"{kind} {resource} " + (
                                "made public" if public else f"shared with {', '.join(foreign)}"))
