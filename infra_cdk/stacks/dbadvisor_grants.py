"""IAM of the PostgreSQL advisor function: the configured secrets and instances, its two document prefixes."""

from __future__ import annotations

from aws_cdk import Aws, Stack

from churnguard_ops.core.contracts import DBADVISOR_PROPOSALS_PREFIX, DBADVISOR_REPORTS_PREFIX
from infra_cdk.constructs import Foundation, OpsFunction
from infra_cdk.constructs.grants import RoleGrants, cross_stack_arn_rendering
from infra_cdk.settings import ChurnGuardContext, secret_policy_resources

WHY_PREFIX = ("Advice is written per instance and run under dbadvisor/reports/, the latest proposals per instance "
              "under dbadvisor/proposals/ (object keys carry the instance id and run time).")


def grant_dbadvisor_permissions(stack: Stack, *, config: ChurnGuardContext, foundation: Foundation,
                                advisor: OpsFunction) -> None:
    advice = config.dbadvisor
    bucket = foundation.bucket
    g = RoleGrants(stack, advisor.role)
    instances = sorted(advice.db_secrets)
    if instances:
        # Where each configured instance is (endpoint, port, DBName): exactly those instances.
        g.add("DescribeConfiguredInstances", ["rds:DescribeDBInstances"],
              [f"arn:{Aws.PARTITION}:rds:{stack.region}:{stack.account}:db:{i}" for i in instances])
        secret_arns = sorted(set(advice.db_secrets.values()))
        g.add("ReadConfiguredDatabaseSecrets", ["secretsmanager:GetSecretValue"], secret_policy_resources(secret_arns),
              why_wildcard="A secret configured by partial ARN is matched with its random suffix '-??????' "
                           "(exactly one configured secret each).")
        secret_regions = sorted({(a.split(":")[3], a.split(":")[4]) for a in secret_arns})
        g.add("DecryptSecretsViaSecretsManager", ["kms:Decrypt"],
              [f"arn:{Aws.PARTITION}:kms:{r}:{acct}:key/*" for r, acct in secret_regions],
              conditions={"StringEquals": {"kms:ViaService": [f"secretsmanager.{r}.amazonaws.com"
                                                              for r, _ in secret_regions]}},
              why_wildcard="The configured secrets' KMS keys are not part of the configuration: kms:Decrypt is "
                           "limited to calls Secrets Manager makes for this role.")
    prefixes = (DBADVISOR_REPORTS_PREFIX, DBADVISOR_PROPOSALS_PREFIX)
    g.add("AdviceAndProposals", ["s3:PutObject"], [bucket.arn_for_objects(f"{p}*") for p in prefixes],
          why_wildcard=WHY_PREFIX,
          also_rendered_as=[cross_stack_arn_rendering(Stack.of(bucket), bucket, f"/{p}*") for p in prefixes])
    g.add("OpsKey", ["kms:GenerateDataKey"], [foundation.key.key_arn])
    g.add("AnnounceAdvice", ["sns:Publish"], [foundation.topic.topic_arn])
    g.add("OpsTopicKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.topic_key.key_arn])
    g.suppress_wildcards()
