"""IAM statements for one role, each wildcard carrying its cdk-nag IAM5 reason."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct

from infra_cdk.nag import resource_finding, suppress


class RoleGrants:
    """Statements for one role, with the cdk-nag IAM5 reason for each wildcard they contain."""

    def __init__(self, stack: Stack, role: iam.IRole, *, policy_id: str | None = None) -> None:
        """Statements go to the role's default policy, or to a policy of their own (``policy_id``)
        when a finding must carry a reason that another grant of the same role already uses
        for the same resource text (e.g. ``Resource::*``)."""
        self.stack = stack
        self.role = role
        self.policy: iam.Policy | None = iam.Policy(stack, policy_id, roles=[role]) if policy_id else None
        self.reasons: dict[str, list[str | RegexAppliesTo]] = {}

    def add(self, sid: str, actions: list[str], resources: Iterable[str], *, why_wildcard: str | None = None,
            conditions: dict[str, Any] | None = None,
            also_rendered_as: Iterable[RegexAppliesTo] = ()) -> None:
        resources = list(dict.fromkeys(resources))
        statement = iam.PolicyStatement(sid=sid, actions=actions, resources=resources, conditions=conditions)
        if self.policy is not None:
            self.policy.add_statements(statement)
        else:
            self.role.add_to_principal_policy(statement)
        for arn in resources:
            finding = resource_finding(self.stack, arn)
            if "*" in finding:
                if why_wildcard is None:
                    raise ValueError(f"{sid}: wildcard resource {finding} needs a reason")
                self.reasons.setdefault(why_wildcard, []).append(finding)
        if also_rendered_as:
            assert why_wildcard is not None
            self.reasons.setdefault(why_wildcard, []).extend(also_rendered_as)

    def suppress_wildcards(self) -> None:
        policy = self.policy or self.role.node.find_child("DefaultPolicy")
        for reason, findings in self.reasons.items():
            exact = sorted({f for f in findings if isinstance(f, str)})
            regexes = [f for f in findings if not isinstance(f, str)]
            if not regexes:
                suppress(policy, "IAM5", reason, applies_to=exact)
                continue
            NagSuppressions.add_resource_suppressions(
                policy, [NagPackSuppression(id="AwsSolutions-IAM5", reason=reason, applies_to=[*exact, *regexes])]
            )


def cross_stack_arn_rendering(producer: Stack, resource: IConstruct, suffix: str) -> RegexAppliesTo:
    """How cdk-nag names ``<resource ARN from another stack><suffix>`` once CDK has resolved the reference.

    cdk-nag runs again whenever the app is synthesized again (``Annotations.from_stack`` does), and by
    then the consumer's token is a ``Fn::GetStackOutput`` of the producer's output, which cdk-nag prints
    as JSON. Matches exactly that one resource's ARN output (by its logical id) followed by ``suffix``.
    """
    logical_id = producer.resolve(producer.get_logical_id(resource.node.default_child))
    output = r'\{"Fn::GetStackOutput":\{[^{}]*"OutputName":"PublishOutputFnGetAtt' + re.escape(logical_id) \
        + r'Arn[0-9A-F]+"\}\}'
    return RegexAppliesTo(regex=f"/^Resource::{output}{re.escape(suffix).replace('/', chr(92) + '/')}$/")


