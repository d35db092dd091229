"""IAM of the canary functions: each one what its tasks call, on the configured functions only."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from cdk_nag import RegexAppliesTo

from churnguard_ops.core.contracts import CANARY_DECISIONS_PREFIX
from infra_cdk.constructs import Foundation, OpsFunction
from infra_cdk.constructs.grants import RoleGrants, cross_stack_arn_rendering
from infra_cdk.flags_target import FlagsTarget
from infra_cdk.settings import ChurnGuardContext

WHY_QUALIFIED = ("A release reads and moves the alias and smoke-tests versions of the configured functions: "
                 "'<function>:*' is that function's aliases and versions (names are given per release).")
WHY_METRICS = ("cloudwatch:GetMetricData supports no resource-level permissions; read-only, one call per "
               "evaluation.")
WHY_ALARMS = ("A release names the alarms that gate it at start time; DescribeAlarms is read-only and limited "
              "to alarms in this account and region.")
WHY_DECISIONS = "Decision records are written per release and evaluation: canary/decisions/<fn>/<alias>/<id>/..."


WHY_FLAG_VERSIONS = ("The flag shifter reads the hosted version an environment's latest deployment names (its "
                     "number is known at run time): versions of ChurnGuard's flag profile only.")
WHY_FLAG_DEPLOYMENTS = ("A flag release waits for the deployment it started to complete (its number is known at "
                        "run time): deployments of the flags application's configured environments only.")


def grant_canary_permissions(stack: Stack, *, config: ChurnGuardContext, foundation: Foundation,
                             release: OpsFunction, decide: OpsFunction, abort: OpsFunction,
                             lock_table: dynamodb.ITable, key: kms.IKey, state_machine_name: str,
                             flags: FlagsTarget | None = None) -> None:
    region, account, partition = stack.region, stack.account, Aws.PARTITION
    functions = [f"arn:{partition}:lambda:{region}:{account}:function:{name}" for name in config.canary.functions]
    qualified = [f"{arn}:*" for arn in functions]
    default_bus = f"arn:{partition}:events:{region}:{account}:event-bus/default"
    table_key = {"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}}
    bucket = foundation.bucket

    g = RoleGrants(stack, release.role)
    # Alias actions are authorized on the function's ARN (and its qualified forms): both are granted.
    g.add("ReadAndMoveTheAlias", ["lambda:GetAlias", "lambda:UpdateAlias"], [*functions, *qualified],
          why_wildcard=WHY_QUALIFIED)
    g.add("ReadVersions", ["lambda:GetFunctionConfiguration"], [*functions, *qualified], why_wildcard=WHY_QUALIFIED)
    g.add("SmokeTestVersions", ["lambda:InvokeFunction"], qualified, why_wildcard=WHY_QUALIFIED)
    g.add("JudgeMetrics", ["cloudwatch:GetMetricData"], ["*"], why_wildcard=WHY_METRICS)
    g.add("ReadGatingAlarms", ["cloudwatch:DescribeAlarms"],
          [f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*"], why_wildcard=WHY_ALARMS)
    g.add("OneReleasePerAlias", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                                 "dynamodb:DeleteItem"], [lock_table.table_arn])
    g.add("LockTableKey", ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], [key.key_arn],
          conditions=table_key)
    g.add("WriteDecisions", ["s3:PutObject"], [bucket.arn_for_objects(f"{CANARY_DECISIONS_PREFIX}*")],
          why_wildcard=WHY_DECISIONS,
          also_rendered_as=[cross_stack_arn_rendering(Stack.of(bucket), bucket, f"/{CANARY_DECISIONS_PREFIX}*")])
    g.add("EncryptDecisions", ["kms:GenerateDataKey"], [foundation.key.key_arn])
    g.add("PublishReleaseEvents", ["events:PutEvents"], [default_bus])
    if flags is not None:
        grant_flag_shifter(stack, g, flags)
    g.suppress_wildcards()

    g = RoleGrants(stack, decide.role)
    g.add("AnnounceToOps", ["sns:Publish"], [foundation.topic.topic_arn])
    g.add("OpsTopicKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.topic_key.key_arn])
    g.add("PublishDecisionRequests", ["events:PutEvents"], [default_bus])

    g = RoleGrants(stack, abort.role)
    # With flags, restoring a flag takes its environment's write lock: an item the abort puts in the table.
    write_lock = ["dynamodb:PutItem"] if flags is not None else []
    g.add("FindRunningReleases", ["dynamodb:Scan", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                                  *write_lock], [lock_table.table_arn])
    g.add("LockTableKey", ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], [key.key_arn],
          conditions=table_key)
    g.add("RollBackTheAlias", ["lambda:GetAlias", "lambda:UpdateAlias"], [*functions, *qualified],
          why_wildcard=WHY_QUALIFIED)
    g.add("StopTheRelease", ["states:StopExecution"],
          [f"arn:{partition}:states:{region}:{account}:execution:{state_machine_name}:*"],
          why_wildcard="Executions of the canary state machine only (their names are generated per release).")
    g.add("PublishReleaseEvents", ["events:PutEvents"], [default_bus])
    if flags is not None:  # an aborted flag release is set back to its stable percentage
        grant_flag_shifter(stack, g, flags)
    g.suppress_wildcards()


def grant_flag_shifter(stack: Stack, g: RoleGrants, flags: FlagsTarget) -> None:
    """Exactly the flags application's profile, strategy and environments: read the deployed document, create
    a version, deploy it with the immediate strategy, watch the deployment."""
    base = f"arn:{Aws.PARTITION}:appconfig:{stack.region}:{stack.account}"
    application = f"{base}:application/{flags.application_id}"
    profile = f"{application}/configurationprofile/{flags.profile_id}"
    strategy = f"{base}:deploymentstrategy/{flags.deployment_strategy_id}"
    environments = [f"{application}/environment/{env_id}" for _, env_id in sorted(flags.environment_ids.items())]
    g.add("ListFlagVersions", ["appconfig:ListHostedConfigurationVersions"], [profile])
    # The ids are the flags stack's (cross-stack references): once CDK resolves them, cdk-nag prints each as
    # its stack output, so the suppression also matches these two ARN shapes whatever the ids render as.
    g.add("ReadFlagVersions", ["appconfig:GetHostedConfigurationVersion"],
          [f"{profile}/hostedconfigurationversion/*"], why_wildcard=WHY_FLAG_VERSIONS,
          also_rendered_as=[_rendered("configurationprofile/.+/hostedconfigurationversion")])
    g.add("WriteFlagVersions", ["appconfig:CreateHostedConfigurationVersion"], [profile])
    g.add("DeployFlags", ["appconfig:StartDeployment"], [application, profile, strategy, *environments])
    g.add("ListFlagDeployments", ["appconfig:ListDeployments"], environments)
    g.add("WatchFlagDeployments", ["appconfig:GetDeployment"], [f"{env}/deployment/*" for env in environments],
          why_wildcard=WHY_FLAG_DEPLOYMENTS, also_rendered_as=[_rendered("environment/.+/deployment")])


def _rendered(path: str) -> RegexAppliesTo:
    """``arn:...:appconfig:...:application/<any id>/<path>/*`` as cdk-nag names it."""
    return RegexAppliesTo(regex=r"/^Resource::arn:.+:appconfig:.+:application\/.+\/"
                          + path.replace("/", "\\/") + r"\/\*$/")
