"""cdk-nag AwsSolutions: no unsuppressed errors, and every suppression says why."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Annotations, Match

pytestmark = pytest.mark.infra

ALL_STACKS = ["foundation", "backup", "dr", "drill", "canary", "security", "cost", "performance", "dbadvisor",
              "flags", "vulns"]


@pytest.mark.parametrize("stack_attr", ALL_STACKS)
def test_no_unsuppressed_aws_solutions_errors(synth, stack_attr):
    stack = getattr(synth, stack_attr)
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [f"{e.id}: {e.entry.data}" for e in errors] == []


@pytest.mark.parametrize("stack_attr", ALL_STACKS)
def test_every_suppression_has_a_reason(synth, stack_attr):
    template = synth.template_json(getattr(synth, stack_attr))
    suppressions = [
        (logical_id, rule)
        for logical_id, res in template["Resources"].items()
        for rule in res.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    for logical_id, rule in suppressions:
        assert rule["id"].startswith("AwsSolutions-"), (logical_id, rule)
        assert len(rule.get("reason", "")) >= 30, f"{logical_id} {rule['id']}: reason too thin"


@pytest.mark.parametrize("stack_attr", ["backup", "drill"])
def test_suppressions_are_few_and_specific(synth, stack_attr):
    template = synth.template_json(getattr(synth, stack_attr))
    rules = [
        rule
        for res in template["Resources"].values()
        for rule in res.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert sorted({r["id"] for r in rules}) == ["AwsSolutions-IAM5", "AwsSolutions-SQS3"]
    # IAM5 is only ever suppressed for named findings, never wholesale.
    assert all(r.get("applies_to") for r in rules if r["id"] == "AwsSolutions-IAM5")
