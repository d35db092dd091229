"""The CDK app and the runtime agree on the names they share but cannot import from one place.

The CDK imports churnguard_ops.core.contracts and churnguard_ops.backup.policy; these tests cover
the rest: exception classes vs the names Step Functions retries on, sample events and cdk.json vs
the policy names, and the context's prefix vs the runtime's.
"""

from __future__ import annotations

import json

import pytest

from churnguard_ops.backup.policy import DEFAULT_POLICIES, POLICY_NAMES
from churnguard_ops.core.contracts import NAME_PREFIX, TRANSIENT_ERROR_NAMES
from churnguard_ops.core.errors import TRANSIENT_ERRORS
from infra_cdk.paths import REPO_ROOT, cdk_json_context
from infra_cdk.settings import SEED_POLICIES, ChurnGuardContext

from .infra_helpers import only, state_machine_definition

pytestmark = pytest.mark.infra

BACKUP_EVENTS = sorted((REPO_ROOT / "events" / "backup").glob("*.json"))


def test_transient_error_names_are_the_transient_error_classes():
    assert TRANSIENT_ERROR_NAMES == tuple(error.__name__ for error in TRANSIENT_ERRORS)


@pytest.mark.parametrize("path", BACKUP_EVENTS, ids=lambda p: p.name)
def test_every_sample_backup_event_names_a_policy_and_its_rule(path):
    event = json.loads(path.read_text())
    policy = event["detail"]["policy"]
    assert policy in POLICY_NAMES
    for rule_arn in event["resources"]:  # scheduled ticks name the rule that fired
        assert rule_arn.endswith(f":rule/{NAME_PREFIX}-backup-{policy.replace('_', '-')}")


def test_there_are_sample_backup_events():
    assert BACKUP_EVENTS


def test_cdk_json_configures_only_known_policies():
    policies = cdk_json_context()["churnguard"].get("backup", {}).get("policies") or {}
    assert set(policies) <= set(POLICY_NAMES)


def test_seed_policies_are_the_runtime_defaults():
    assert set(SEED_POLICIES) == set(POLICY_NAMES)
    assert SEED_POLICIES == {name: policy.model_dump() for name, policy in DEFAULT_POLICIES.items()}


def test_the_context_prefix_is_the_runtime_name_prefix():
    assert ChurnGuardContext().prefix == NAME_PREFIX
    with pytest.raises(ValueError):
        ChurnGuardContext.model_validate({"prefix": f"{NAME_PREFIX}-2"})


def test_the_drill_retries_exactly_the_contract_transient_errors(synth):
    from infra_cdk.stacks.drill_spec import LAMBDA_TRANSIENT_ERRORS

    resources = synth.template_json(synth.drill)["Resources"]
    _, machine = only(resources, "AWS::StepFunctions::StateMachine")
    states = state_machine_definition(machine["Properties"]["DefinitionString"])["States"]
    handler_retries = []
    for name, state in states.items():
        for retry in state.get("Retry", []):
            errors = retry["ErrorEquals"]
            if errors in (LAMBDA_TRANSIENT_ERRORS, ["States.ALL"]):
                continue
            handler_retries.append(name)
            assert errors == list(TRANSIENT_ERROR_NAMES), name
    assert handler_retries, "the tasks retry the handlers' transient errors"
