"""cdk-nag helpers: exact ``applies_to`` strings and one place for the AwsSolutions pack."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aws_cdk import Aspects, IAspect, Stack
from cdk_nag import AwsSolutionsChecks, NagPackSuppression, NagSuppressions
from constructs import IConstruct


def flatten_cfn_reference(value: Any) -> str:
    """Python port of cdk-nag's ``flattenCfnReference`` (how findings name tokens)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return delimiter.join(flatten_cfn_reference(i) for i in items)
        if "Fn::Sub" in value:
            return flatten_cfn_reference(value["Fn::Sub"])
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{flatten_cfn_reference(resource)}.{flatten_cfn_reference(attribute)}>"
        if "Fn::ImportValue" in value:
            return flatten_cfn_reference(value["Fn::ImportValue"])
        if "Ref" in value:
            return f"<{flatten_cfn_reference(value['Ref'])}>"
    return json.dumps(value, separators=(",", ":"))


def resource_finding(stack: Stack, arn: str) -> str:
    """The IAM5 ``applies_to`` text for a (possibly tokenized) resource ARN in ``stack``."""
    return "Resource::" + flatten_cfn_reference(stack.resolve(arn))


def suppress(construct: IConstruct, rule: str, reason: str, applies_to: Iterable[str] | None = None,
             *, apply_to_children: bool = False) -> None:
    """One documented suppression; ``rule`` without the ``AwsSolutions-`` prefix is accepted."""
    rule_id = rule if rule.startswith("AwsSolutions-") else f"AwsSolutions-{rule}"
    targets = sorted(set(applies_to)) if applies_to else None
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=rule_id, reason=reason, applies_to=targets)],
        apply_to_children=apply_to_children,
    )


def apply_nag(scope: IConstruct, *, verbose: bool = True) -> IAspect:
    """Attach AwsSolutionsChecks to ``scope`` (an App or a Stack) as an Aspect."""
    checks = AwsSolutionsChecks(verbose=verbose)
    Aspects.of(scope).add(checks)
    return checks
