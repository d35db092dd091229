"""IAM of the backup function: what each policy flow calls, scoped to configured and own resources."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam

from churnguard_ops.backup.settings import SECURE_STRING_CONTEXT_KEY
from churnguard_ops.core.contracts import (
    BASELINES_PREFIX,
    CONFIGURATION_PREFIX,
    COPIED_FROM_TAG,
    MARKER_TAG,
    MARKER_VALUE,
    ON_DEMAND_TAG,
    POLICY_TAG,
    PURPOSE_BACKUP,
    PURPOSE_TAG,
    RETENTION_DATE_TAG,
    SLOT_TAG,
    SNAPSHOT_PREFIX,
    SOURCE_INSTANCE_TAG,
)
from infra_cdk.constructs import Foundation
from infra_cdk.constructs.grants import RoleGrants, cross_stack_arn_rendering
from infra_cdk.settings import ChurnGuardContext, secret_policy_resources

WHY_OWN_SNAPSHOTS = (
    f"RDS snapshot ARNs are limited to the names backups generate, '{SNAPSHOT_PREFIX}<configured instance>-*', "
    "in the primary and DR region (names are generated per tick); drill snapshots never match. "
    "DeleteDBSnapshot is additionally conditioned on the CreatedBy and Purpose tags."
)
#: Every tag a backup sets on a snapshot or its copy; tagging calls may set nothing else.
BACKUP_TAG_KEYS = sorted({PURPOSE_TAG, MARKER_TAG, POLICY_TAG, SOURCE_INSTANCE_TAG, SLOT_TAG, RETENTION_DATE_TAG,
                          ON_DEMAND_TAG, COPIED_FROM_TAG})
WHY_DR_KEY = (
    "The DR CMK lives in another region/stack and is addressed by alias only: key/* is "
    "narrowed to that one key by the kms:ResourceAliases condition."
)
WHY_SSM_TREE = "Parameters below each configured SSM path (the path tree is the unit of configuration)."
WHY_OBJECT_KEYS = (
    "Object keys are generated per tick: configuration/ssm/<date>/<slot>.json in the backup and DR "
    "buckets, baselines/<instance>/<snapshot>.json (written, and read back for idempotency)."
)
WHY_SOURCE_KEYS = (
    "Keys of the source databases, SecureString parameters and secrets are not part of the "
    "configuration: key/* in the primary region is usable only through RDS, SSM (for the configured "
    "parameter paths) or Secrets Manager, each pinned by kms:ViaService."
)
WHY_LIST_SNAPSHOTS = (
    "rds:DescribeDBSnapshots lists snapshots account-wide: the function counts every manual "
    "snapshot per region (primary and DR) against the manual-snapshot quota and finds its "
    "own copies by tag, so the call cannot be scoped to our name prefix."
)


def grant_backup_permissions(stack: Stack, role: iam.IRole, *, config: ChurnGuardContext, foundation: Foundation,
                             dr_bucket_name: str) -> None:
    backup = config.backup
    primary = stack.region
    account = stack.account

    def rds_arn(region: str, resource_type: str, name: str) -> str:
        return f"arn:{Aws.PARTITION}:rds:{region}:{account}:{resource_type}:{name}"

    g = RoleGrants(stack, role)
    db_arns = [rds_arn(primary, "db", i) for i in backup.db_instance_ids]
    # Our snapshots (and their DR copies) are named "<prefix>-<configured instance>-...": nothing else,
    # not a drill's "<prefix>-dr-test-..." snapshot, is created, tagged, copied or deleted.
    own_snapshots = [rds_arn(r, "snapshot", f"{SNAPSHOT_PREFIX}{i}-*")
                     for r in (primary, backup.dr_region) for i in backup.db_instance_ids]
    primary_snapshots = [a for a in own_snapshots if f":{primary}:" in a]
    only_backup_tags = {"ForAllValues:StringEquals": {"aws:TagKeys": BACKUP_TAG_KEYS}}

    g.add("RdsDescribeConfiguredInstances", ["rds:DescribeDBInstances"], db_arns)
    g.add("RdsSnapshotConfiguredInstances", ["rds:CreateDBSnapshot"], [*db_arns, *primary_snapshots],
          why_wildcard=WHY_OWN_SNAPSHOTS)
    # Tags are read back with DescribeDBSnapshots (TagList), so no rds:ListTagsForResource.
    g.add("RdsCopyOwnSnapshots", ["rds:CopyDBSnapshot"], own_snapshots, why_wildcard=WHY_OWN_SNAPSHOTS)
    g.add("RdsTagOwnSnapshotsWithBackupTagsOnly", ["rds:AddTagsToResource"], own_snapshots,
          conditions=only_backup_tags, why_wildcard=WHY_OWN_SNAPSHOTS)
    g.add("RdsDeleteOnlySnapshotsWeCreated", ["rds:DeleteDBSnapshot"], own_snapshots,
          conditions={"StringEquals": {f"rds:snapshot-tag/{MARKER_TAG}": MARKER_VALUE,
                                       f"rds:snapshot-tag/{PURPOSE_TAG}": PURPOSE_BACKUP}},
          why_wildcard=WHY_OWN_SNAPSHOTS)

    # DR CMK: addressed by alias only (it lives in another stack/region).
    dr_keys = f"arn:{Aws.PARTITION}:kms:{backup.dr_region}:{account}:key/*"
    by_alias = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [backup.dr_kms_key_alias]}}
    # Only on RDS's (snapshot copies) and S3's (DR configuration exports) behalf, never directly.
    dr_services = {"StringEquals": {"kms:ViaService": [f"rds.{backup.dr_region}.amazonaws.com",
                                                       f"s3.{backup.dr_region}.amazonaws.com"]}}
    g.add("DrKeyUseViaAlias", ["kms:DescribeKey", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], [dr_keys],
          conditions={**by_alias, **dr_services}, why_wildcard=WHY_DR_KEY)
    g.add("DrKeyGrantsForRdsCopies", ["kms:CreateGrant"], [dr_keys],
          conditions={**by_alias, "Bool": {"kms:GrantIsForAWSResource": "true"}}, why_wildcard=WHY_DR_KEY)
    # The DR copy of each configuration export carries its SecureStrings encrypted under the DR key (called
    # directly, not through a service), so it can be decrypted in the DR region without the primary. Only
    # Encrypt, and only for values bound to a parameter below a configured path by the encryption context.
    if backup.ssm_paths:
        g.add("DrKeyEncryptConfigurationSecureStrings", ["kms:Encrypt"], [dr_keys],
              conditions={**by_alias, "StringLike": {
                  f"kms:EncryptionContext:{SECURE_STRING_CONTEXT_KEY}": [f"{p}*" for p in backup.ssm_paths]}},
              why_wildcard=WHY_DR_KEY)
    g.add("BackupKeyUse", ["kms:DescribeKey", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
          [foundation.key.key_arn])
    # Copying an encrypted snapshot reads it with the source instance's own key, which is not part of
    # the configuration: any key in the primary region, but only through RDS and only for grants
    # to AWS resources.
    source_keys = f"arn:{Aws.PARTITION}:kms:{primary}:{account}:key/*"
    via_rds = {"StringEquals": {"kms:ViaService": f"rds.{primary}.amazonaws.com"}}
    g.add("SourceKeyForCopies", ["kms:DescribeKey"], [source_keys], conditions=via_rds, why_wildcard=WHY_SOURCE_KEYS)
    g.add("SourceKeyGrantsForCopies", ["kms:CreateGrant"], [source_keys],
          conditions={**via_rds, "Bool": {"kms:GrantIsForAWSResource": "true"}}, why_wildcard=WHY_SOURCE_KEYS)

    # SSM: the configured paths (GetParametersByPath authorizes on the path itself).
    ssm_arns: list[str] = []
    for path in backup.ssm_paths:
        base = f"arn:{Aws.PARTITION}:ssm:{primary}:{account}:parameter{path.rstrip('/')}"
        ssm_arns += [base, f"{base}/*"]
    g.add("SsmReadConfiguredPaths", ["ssm:GetParametersByPath", "ssm:GetParameter", "ssm:GetParameters"], ssm_arns,
          why_wildcard=WHY_SSM_TREE)
    # SecureStrings under a customer-managed key: decrypt through SSM, for the configured paths only.
    g.add("DecryptSecureStringsViaSsm", ["kms:Decrypt"], [source_keys],
          conditions={
              "StringEquals": {"kms:ViaService": f"ssm.{primary}.amazonaws.com"},
              "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": [a for a in ssm_arns if a.endswith("/*")]},
          },
          why_wildcard=WHY_SOURCE_KEYS)

    # S3: only what backups write: configuration exports (both buckets) and row-count baselines; never
    # drill reports, which belong to the drill functions.
    bucket = foundation.bucket
    producer = Stack.of(bucket)
    configuration_objects, baseline_objects = f"{CONFIGURATION_PREFIX}*", f"{BASELINES_PREFIX}*"
    g.add("S3WriteExports", ["s3:PutObject", "s3:AbortMultipartUpload"],
          [bucket.arn_for_objects(configuration_objects), bucket.arn_for_objects(baseline_objects),
           f"arn:{Aws.PARTITION}:s3:::{dr_bucket_name}/{configuration_objects}"],
          why_wildcard=WHY_OBJECT_KEYS,
          also_rendered_as=[cross_stack_arn_rendering(producer, bucket, f"/{p}")
                            for p in (configuration_objects, baseline_objects)])
    # Application-data buckets: versioning and lifecycle; replication is only read (bucket-level ARNs).
    if backup.app_data_buckets:
        g.add("S3ProtectAppDataBuckets",
              ["s3:GetBucketVersioning", "s3:PutBucketVersioning",
               "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration",
               "s3:GetReplicationConfiguration"],
              [f"arn:{Aws.PARTITION}:s3:::{b}" for b in backup.app_data_buckets])

    secret_arns = sorted(set(config.drill.db_secrets.values()))
    if secret_arns:  # row-count baselines: read the source's credentials, keep counts per snapshot
        g.add("ReadConfiguredDatabaseSecrets", ["secretsmanager:GetSecretValue"], secret_policy_resources(secret_arns))
        g.add("DecryptSecretsViaSecretsManager", ["kms:Decrypt"], [source_keys],
              conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{primary}.amazonaws.com"}},
              why_wildcard=WHY_SOURCE_KEYS)
        g.add("S3ReadBaselines", ["s3:GetObject"], [bucket.arn_for_objects(baseline_objects)],
              why_wildcard=WHY_OBJECT_KEYS,
              also_rendered_as=[cross_stack_arn_rendering(producer, bucket, f"/{baseline_objects}")])
        # Without it a missing baseline is a 403, not "not yet recorded".
        g.add("S3ListBaselines", ["s3:ListBucket"], [bucket.bucket_arn],
              conditions={"StringLike": {"s3:prefix": [baseline_objects]}})
    g.suppress_wildcards()

    # Its own policy: Resource '*' here carries its own reason (the default policy's '*' is X-Ray's).
    list_snapshots = RoleGrants(stack, role, policy_id="RdsListSnapshotsPolicy")
    list_snapshots.add("RdsListSnapshots", ["rds:DescribeDBSnapshots"], ["*"], why_wildcard=WHY_LIST_SNAPSHOTS)
    list_snapshots.suppress_wildcards()
