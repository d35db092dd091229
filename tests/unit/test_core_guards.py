"""Guarded deletes of the shared RDS port, and EventBridge entry failures mapped to domain errors."""
from __future__ import annotations

from typing import Any

import pytest

from churnguard_ops.core import aws, contracts
from churnguard_ops.core.errors import OpsError, RefusedDeletion, Throttled, Unavailable
from churnguard_ops.core.fakes import MemoryRds
from churnguard_ops.core.rds_model import DbInstance, Snapshot, proves_ownership
from churnguard_ops.core.stores import EventBridgePublisher


def test_a_guard_without_our_marker_is_a_bug_not_a_licence_to_delete() -> None:
    with pytest.raises(ValueError, match="must require CreatedBy=churnguard-ops"):
        proves_ownership({"Purpose": "RestoreDrill"}, {})
    with pytest.raises(ValueError):
        proves_ownership({}, {contracts.PURPOSE_TAG: contracts.PURPOSE_DRILL})
    assert proves_ownership(dict(contracts.DRILL_TAGS, DrillId="d1"), contracts.DRILL_TAGS)
    assert not proves_ownership({contracts.MARKER_TAG: contracts.MARKER_VALUE}, contracts.DRILL_TAGS)


def test_the_fake_refuses_foreign_deletes_like_the_adapter() -> None:
    rds = MemoryRds()
    rds.put_snapshot(Snapshot(snapshot_id="dba", arn="arn:dba", source_instance="prod", status="available",
                              created_at=None, tags={}))
    rds.add_instance(DbInstance(instance_id="copy", status="available", deletion_protection=True,
                                tags=dict(contracts.DRILL_TAGS)))
    with pytest.raises(RefusedDeletion):
        rds.delete_snapshot("dba", required_tags=contracts.OWNED_TAGS)
    rds.delete_instance("copy", required_tags=contracts.DRILL_TAGS)
    assert rds.unprotected == ["copy"] and rds.deleted_instances == ["copy"]


class _Events:
    def __init__(self, code: str) -> None:
        self.code = code

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": self.code, "ErrorMessage": "entry failed"}]}


@pytest.mark.parametrize(("code", "error"), [("ThrottlingException", Throttled), ("InternalFailure", Unavailable),
                                             ("AccessDeniedException", OpsError)])
def test_a_failed_event_entry_raises_the_domain_error_of_its_code(monkeypatch, code: str, error: type) -> None:
    monkeypatch.setattr(aws, "client", lambda service, region=None: _Events(code))
    with pytest.raises(error, match=f"put Drill Finished event: {code}"):
        EventBridgePublisher("churnguard.ops.test").publish("Drill Finished", {"passed": True})
