"""The typed view of cdk.json's ``churnguard`` context."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from infra_cdk.paths import CDK_JSON
from infra_cdk.settings import SEED_POLICIES, ChurnGuardContext

pytestmark = pytest.mark.infra

CONTRACT = {
    "prefix": "churnguard-ops",
    "notification_emails": [],
    "backup": {
        "db_instance_ids": ["churnguard-prod"],
        "dr_region": "us-west-2",
        "dr_kms_key_alias": "alias/churnguard-ops-dr",
        "app_data_buckets": ["churnguard-app-data"],
        "ssm_paths": ["/churnguard/"],
        "keep_latest": 3,
        "manual_snapshot_quota": 100,
        "max_copies_in_flight": 5,
        "rpo_minutes": 15,
        "policies": {
            "database": {"schedule_minutes": 60, "retention_days": 30, "encrypted": True, "cross_region": True},
            "application_data": {"schedule_minutes": 1440, "retention_days": 90, "encrypted": True, "cross_region": False},
            "configuration": {"schedule_minutes": 1440, "retention_days": 365, "encrypted": True, "cross_region": True},
        },
    },
}


def test_cdk_json_carries_the_contract_context_and_runs_the_app_module():
    cdk_json = json.loads(CDK_JSON.read_text())
    assert cdk_json["app"] == "python3 -m infra_cdk.app"
    assert cdk_json["context"]["churnguard"] == CONTRACT
    assert ChurnGuardContext.model_validate(cdk_json["context"]["churnguard"]).model_dump() == CONTRACT


def test_defaults_equal_the_contract():
    assert ChurnGuardContext().model_dump() == CONTRACT
    assert SEED_POLICIES == CONTRACT["backup"]["policies"]


def test_partial_policy_override_merges_onto_seed():
    ctx = ChurnGuardContext.model_validate({"backup": {"policies": {"database": {"schedule_minutes": 30}}}})
    assert ctx.backup.policies["database"].schedule_minutes == 30
    assert ctx.backup.policies["database"].retention_days == 30
    assert set(ctx.backup.policies) == set(SEED_POLICIES)


def test_context_given_as_json_string_is_accepted():
    class _Node:
        def try_get_context(self, key):
            assert key == "churnguard"
            return json.dumps({"backup": {"rpo_minutes": 5}})

    class _Scope:
        node = _Node()

    assert ChurnGuardContext.from_node(_Scope()).backup.rpo_minutes == 5


@pytest.mark.parametrize("bad", [
    {"backup": {"policies": {"weekly": {"schedule_minutes": 60}}}},
    {"backup": {"db_instance_ids": []}},
    {"backup": {"db_instance_ids": ["bad--id"]}},
    {"backup": {"db_instance_ids": ["1starts-with-digit"]}},
    {"backup": {"dr_region": "mars"}},
    {"backup": {"dr_kms_key_alias": "churnguard-ops-dr"}},
    {"backup": {"ssm_paths": ["/"]}},
    {"backup": {"ssm_paths": ["churnguard"]}},
    {"backup": {"rpo_minutes": 0}},
    {"backup": {"policies": {"database": {"schedule_minutes": 0}}}},
    {"notification_emails": ["not-an-address"]},
    {"backup": {"unknown_key": 1}},
])
def test_invalid_context_is_rejected(bad):
    with pytest.raises(ValidationError):
        ChurnGuardContext.model_validate(bad)
