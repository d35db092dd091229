"""Synthesize the CDK app once per session into a temporary cloud assembly."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

import pytest  # noqa: E402

# Anything from the caller's shell that would change what gets synthesized.
_ENV_THAT_CHANGES_SYNTH = ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_OUTDIR", "CDK_CONTEXT_JSON")


# A partial ARN (no random suffix), one of the two forms a user may configure.
CONFIGURED_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:churnguard/prod/db-credentials"


@dataclass
class Synth:
    app: Any
    outdir: Path
    foundation: Any  # FoundationStack
    backup: Any  # BackupStack
    dr: Any  # BackupDrStack
    drill: Any  # DrillStack
    canary: Any  # CanaryStack
    security: Any  # SecurityStack
    cost: Any  # CostStack
    performance: Any  # PerformanceStack
    dbadvisor: Any  # DbAdvisorStack
    flags: Any  # FlagsStack
    vulns: Any  # VulnsStack
    foundation_template: Any  # aws_cdk.assertions.Template of each stack
    template: Any  # the (primary) backup stack
    dr_template: Any
    drill_template: Any

    def template_json(self, stack: Any) -> dict[str, Any]:
        return json.loads((self.outdir / stack.template_file).read_text())

    def resolved(self, value: Any) -> Any:
        """``value`` with each ``Fn::GetStackOutput`` replaced by the producing stack's output value."""
        if isinstance(value, list):
            return [self.resolved(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Fn::GetStackOutput" in value:
            ref = value["Fn::GetStackOutput"]
            (producer,) = [s for s in (self.foundation, self.backup, self.dr, self.drill, self.canary,
                                                    self.security, self.cost, self.performance, self.dbadvisor,
                                                    self.flags, self.vulns)
                           if s.stack_name == ref["StackName"]]
            return self.template_json(producer)["Outputs"][ref["OutputName"]]["Value"]
        return {k: self.resolved(v) for k, v in value.items()}


@pytest.fixture(scope="session")
def clean_cdk_env():
    with pytest.MonkeyPatch.context() as mp:
        for name in _ENV_THAT_CHANGES_SYNTH:
            mp.delenv(name, raising=False)
        yield mp


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory, clean_cdk_env) -> Synth:
    from aws_cdk import Stack
    from aws_cdk.assertions import Template

    from infra_cdk.app import (
        BACKUP_DR_STACK_ID,
        BACKUP_STACK_ID,
        CANARY_STACK_ID,
        COST_STACK_ID,
        DBADVISOR_STACK_ID,
        DRILL_STACK_ID,
        FLAGS_STACK_ID,
        FOUNDATION_STACK_ID,
        PERFORMANCE_STACK_ID,
        SECURITY_STACK_ID,
        VULNS_STACK_ID,
        build_app,
        cdk_json_context,
    )

    # cdk.json plus database credentials, as a real deployment configures them, so the secret-reading
    # branches of the stacks are synthesized (and cdk-nag checks them) too.
    churnguard = json.loads(json.dumps(cdk_json_context()["churnguard"]))
    churnguard["drill"]["db_secrets"] = {"churnguard-prod": CONFIGURED_SECRET}
    outdir = tmp_path_factory.mktemp("cdk.out")
    # test_cfn_lint validates every template of this synth: CDK's own validation would add ~20 s to it.
    app = build_app(outdir=outdir, region="us-east-1", context={"churnguard": churnguard},
                    cloudformation_validation=False)
    app.synth()
    foundation = Stack.of(app.node.find_child(FOUNDATION_STACK_ID))
    backup = Stack.of(app.node.find_child(BACKUP_STACK_ID))
    dr = Stack.of(app.node.find_child(BACKUP_DR_STACK_ID))
    drill = Stack.of(app.node.find_child(DRILL_STACK_ID))
    canary = Stack.of(app.node.find_child(CANARY_STACK_ID))
    security = Stack.of(app.node.find_child(SECURITY_STACK_ID))
    cost = Stack.of(app.node.find_child(COST_STACK_ID))
    performance = Stack.of(app.node.find_child(PERFORMANCE_STACK_ID))
    dbadvisor = Stack.of(app.node.find_child(DBADVISOR_STACK_ID))
    flags = Stack.of(app.node.find_child(FLAGS_STACK_ID))
    vulns = Stack.of(app.node.find_child(VULNS_STACK_ID))
    return Synth(
        app=app,
        outdir=outdir,
        foundation=foundation,
        backup=backup,
        dr=dr,
        drill=drill,
        canary=canary,
        security=security,
        cost=cost,
        performance=performance,
        dbadvisor=dbadvisor,
        flags=flags,
        vulns=vulns,
        foundation_template=Template.from_stack(foundation),
        template=Template.from_stack(backup),
        dr_template=Template.from_stack(dr),
        drill_template=Template.from_stack(drill),
    )


@pytest.fixture(scope="session")
def backup_resources(synth: Synth) -> dict[str, Any]:
    return synth.template_json(synth.backup)["Resources"]


@pytest.fixture(scope="session")
def foundation_resources(synth: Synth) -> dict[str, Any]:
    return synth.template_json(synth.foundation)["Resources"]


@pytest.fixture(scope="session")
def canary_resources(synth: Synth) -> dict[str, Any]:
    return synth.template_json(synth.canary)["Resources"]


@pytest.fixture(scope="session")
def security_resources(synth: Synth) -> dict[str, Any]:
    return synth.template_json(synth.security)["Resources"]


@pytest.fixture(scope="session")
def cost_resources(synth: Synth) -> dict[str, Any]:
    return synth.template_json(synth.cost)["Resources"]
