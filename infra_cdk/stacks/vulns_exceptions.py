"""The exceptions file at deploy time: validated at synth, copied to the ops bucket for the functions.

``vulnerability-exceptions.toml`` (repository root) is read with the functions' own parser: an unscoped entry
fails the synth; an expired one does not (the ledger reopens what it covered, and ``make test``/``make audit``
fail on it). The file (5 KB and growing: too big for a function's 4 KB environment or a standard SSM parameter)
is copied to ``VULNS_EXCEPTIONS_KEY`` of the ops bucket by a BucketDeployment, the one place the functions read
it (``S3ExceptionsFile``). Its handler may write and delete that one object only (an explicit deny on every
other object of the ops bucket, which holds the backups' exports).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from aws_cdk import Aws, DefaultStackSynthesizer, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_deployment as s3deploy
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo

from churnguard_ops.core.contracts import VULNS_EXCEPTIONS_KEY
from churnguard_ops.vulns.exceptions import FILE_NAME, parse_exceptions
from infra_cdk.constructs import Foundation
from infra_cdk.nag import suppress
from infra_cdk.paths import REPO_ROOT

EXCEPTIONS_FILE: Path = REPO_ROOT / FILE_NAME
# parse_exceptions reports an expired entry as "<entry>: expired on <date>": not a synth error (see above).
WHY_DEPLOYMENT_GRANTS = ("CDK's BucketDeployment grants its handler read/write (s3 and kms wildcards) on the ops "
                         "bucket and its own asset source; explicit denies limit writes to the exceptions file and "
                         "reads to it and the asset bucket.")
_EXPIRED = re.compile(r": expired on \d{4}-\d{2}-\d{2}$")


class InvalidExceptionsFile(ValueError):
    """The exceptions file has unscoped entries: the synth stops, naming each."""


def validated_exceptions(path: Path = EXCEPTIONS_FILE, today: date | None = None) -> str:
    """The file's text when every entry is scoped (expired ones included); no file is an empty file."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    problems = [p for p in parse_exceptions(text, today or date.today()).problems if not _EXPIRED.search(p)]
    if problems:
        raise InvalidExceptionsFile(f"{path.name}: {len(problems)} problem(s): " + "; ".join(problems))
    return text


def deploy_exceptions_file(stack: Stack, *, foundation: Foundation,
                           path: Path = EXCEPTIONS_FILE) -> s3deploy.BucketDeployment:
    text = validated_exceptions(path)  # first: an unscoped entry stops the synth before anything is built
    prefix, _, name = VULNS_EXCEPTIONS_KEY.rpartition("/")
    # Our own role and log group: no managed policy, a retention like every function's.
    role = iam.Role(stack, "ExceptionsFileDeploymentRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                    description="Copies vulnerability-exceptions.toml to the ops bucket at deploy time")
    log_group = logs.LogGroup(stack, "ExceptionsFileDeploymentLogs", retention=logs.RetentionDays.ONE_MONTH,
                              removal_policy=RemovalPolicy.DESTROY)
    log_group.grant_write(role)
    deployment = s3deploy.BucketDeployment(
        stack, "ExceptionsFileDeployment",
        sources=[s3deploy.Source.data(name, text)],
        destination_bucket=foundation.bucket,
        destination_key_prefix=f"{prefix}/",
        prune=False,  # vulns/ also holds the build reports and reports: only this one file is ours to write
        # Deleting the stack leaves the file (a delete would remove everything under vulns/, reports included).
        retain_on_delete=True,
        role=role, log_group=log_group, memory_limit=256)
    # CDK grants the handler read/write on the whole ops bucket; it needs only this object (and its source).
    exceptions_file = foundation.bucket.arn_for_objects(VULNS_EXCEPTIONS_KEY)
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="WriteOnlyTheExceptionsFile", effect=iam.Effect.DENY,
        actions=["s3:PutObject*", "s3:DeleteObject*", "s3:Abort*"], not_resources=[exceptions_file]))
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="ReadOnlyTheExceptionsFileAndItsSource", effect=iam.Effect.DENY, actions=["s3:GetObject*"],
        not_resources=[exceptions_file, f"arn:{Aws.PARTITION}:s3:::{_assets_bucket(stack)}/*"]))
    policy = role.node.find_child("DefaultPolicy")
    NagSuppressions.add_resource_suppressions(policy, [NagPackSuppression(
        id="AwsSolutions-IAM5", reason=WHY_DEPLOYMENT_GRANTS,
        applies_to=[RegexAppliesTo(regex="/^Action::(s3|kms):[A-Za-z]+\\*$/"),
                    RegexAppliesTo(regex="/^Resource::.*/\\*$/")])])
    handler = next(c for c in stack.node.children if isinstance(c, lambda_.Function)
                   and c.node.id.startswith("Custom::CDKBucketDeployment"))
    suppress(handler, "L1", "CDK's BucketDeployment handler runs on the Python runtime aws-cdk-lib ships it for; it "
                            "runs only while CloudFormation deploys this stack.")
    return deployment


def _assets_bucket(stack: Stack) -> str:
    """Where the default synthesizer uploads file assets (the file's zipped source the handler reads); the app
    uses the default synthesizer with its default bucket name."""
    synthesizer = stack.synthesizer
    if not isinstance(synthesizer, DefaultStackSynthesizer):
        raise TypeError(f"{stack.stack_name}: the exceptions file needs the default stack synthesizer's asset bucket")
    qualifier = synthesizer.bootstrap_qualifier or DefaultStackSynthesizer.DEFAULT_QUALIFIER
    return (DefaultStackSynthesizer.DEFAULT_FILE_ASSETS_BUCKET_NAME.replace("${Qualifier}", qualifier)
            .replace("${AWS::AccountId}", stack.account).replace("${AWS::Region}", stack.region))
