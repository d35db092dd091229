"""IAM of the restore-drill functions: each task gets what its step calls, scoped to drill resources."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms

from churnguard_ops.core.contracts import (
    BASELINES_PREFIX,
    DBADVISOR_PROPOSALS_PREFIX,
    DRILL_INSTANCE_PREFIX,
    DRILL_REPORTS_PREFIX,
    DRILL_SNAPSHOT_PREFIX,
    MARKER_TAG,
    MARKER_VALUE,
    PURPOSE_DRILL,
    PURPOSE_TAG,
    SNAPSHOT_PREFIX,
)
from infra_cdk.constructs import Foundation, OpsFunction
from infra_cdk.constructs.grants import RoleGrants, cross_stack_arn_rendering
from infra_cdk.settings import ChurnGuardContext, secret_policy_resources
from infra_cdk.stacks.drill_spec import FUNCTION_SPECS


def grant_drill_permissions(stack: Stack, functions: dict[str, OpsFunction], *, config: ChurnGuardContext,
                            foundation: Foundation, drill_key: kms.IKey, history_table: dynamodb.ITable) -> None:
    """``functions``: the drill functions by DrillFunctionSpec.key."""

    def rds_arn(region: str, resource_type: str, name: str) -> str:
        return f"arn:{Aws.PARTITION}:rds:{region}:{account}:{resource_type}:{name}"

    bucket = foundation.bucket
    producer = Stack.of(bucket)
    drill = config.drill
    backup = config.backup
    primary, dr = stack.region, backup.dr_region
    account = stack.account
    regions = [primary, dr]

    source_dbs = [rds_arn(primary, "db", i) for i in backup.db_instance_ids]
    drill_instances = [rds_arn(r, "db", f"{DRILL_INSTANCE_PREFIX}*") for r in regions]
    drill_snapshots = [rds_arn(r, "snapshot", f"{DRILL_SNAPSHOT_PREFIX}*") for r in regions]
    any_snapshot = [rds_arn(r, "snapshot", "*") for r in regions]
    any_instance = [rds_arn(r, "db", "*") for r in regions]
    restore_dependencies = [rds_arn(r, t, "*") for r in regions for t in ("subgrp", "og", "pg")]
    dr_keys = f"arn:{Aws.PARTITION}:kms:{dr}:{account}:key/*"
    by_dr_alias = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [backup.dr_kms_key_alias]}}
    delete_only_drill_resources = {
        "StringEquals": {f"aws:ResourceTag/{PURPOSE_TAG}": PURPOSE_DRILL, f"aws:ResourceTag/{MARKER_TAG}": MARKER_VALUE}
    }

    why_drill_names = (
        f"Drill resources are named per drill: instances '{DRILL_INSTANCE_PREFIX}<drill id>', "
        f"snapshots '{DRILL_SNAPSHOT_PREFIX}<drill id>', in the primary and DR region; nothing else "
        "matches these prefixes (and deletes are further conditioned on the Purpose/CreatedBy tags)."
    )
    why_list_snapshots = (
        "rds:DescribeDBSnapshots lists snapshots to find the newest backup of a configured instance "
        "(snapshot names are generated per backup tick) or reads a snapshot named by the execution input; "
        "the list call cannot be scoped to names. Read-only, primary and DR region only."
    )
    why_dr_key = (
        "The DR CMK lives in another region/stack and is addressed by alias only: key/* is narrowed to "
        "that one key by the kms:ResourceAliases condition."
    )

    grants: dict[str, RoleGrants] = {k: RoleGrants(stack, f.role) for k, f in functions.items()}

    # plan: find the recovery point; mode "fresh" snapshots the source as <prefix>-dr-test-<id>.
    g = grants["plan"]
    g.add("RdsDescribeSources", ["rds:DescribeDBInstances"], source_dbs)
    g.add("RdsFindRecoveryPoints", ["rds:DescribeDBSnapshots"], any_snapshot, why_wildcard=why_list_snapshots)
    g.add("RdsTakeDrillSnapshot", ["rds:CreateDBSnapshot"], [*source_dbs, drill_snapshots[0]],
          why_wildcard=why_drill_names)
    g.add("RdsTagDrillSnapshot", ["rds:AddTagsToResource"], [drill_snapshots[0]], why_wildcard=why_drill_names)

    # restore: a drill instance from a snapshot (primary or DR copy) or to a point in time.
    g = grants["restore"]
    g.add("RdsDescribeSourcesAndDrillInstances", ["rds:DescribeDBInstances"], [*source_dbs, *drill_instances],
          why_wildcard=why_drill_names)
    g.add("RdsReadRecoveryPoint", ["rds:DescribeDBSnapshots"], any_snapshot, why_wildcard=why_list_snapshots)
    # Recovery points a drill may restore: our backups and drill snapshots ("<prefix>-*"), and the
    # automated snapshots of the configured instances ("rds:<instance>-*"), in both regions.
    # Recovery points of the configured instances only: our backups of them and their DR copies,
    # this system's drill snapshots, and their automated snapshots.
    recovery_points = [rds_arn(r, "snapshot", f"{SNAPSHOT_PREFIX}{i}-*") for r in regions
                       for i in backup.db_instance_ids] + [rds_arn(r, "snapshot", f"{DRILL_SNAPSHOT_PREFIX}*")
                                                           for r in regions] + [
        rds_arn(r, "snapshot", f"rds:{i}-*") for r in regions for i in backup.db_instance_ids]
    g.add("RdsRestoreFromSnapshot", ["rds:RestoreDBInstanceFromDBSnapshot"],
          [*drill_instances, *recovery_points, *restore_dependencies],
          why_wildcard=(
              "RestoreDBInstanceFromDBSnapshot authorizes on the new instance (only "
              f"'{DRILL_INSTANCE_PREFIX}*'), the source snapshot (our backups '{SNAPSHOT_PREFIX}<instance>-*', "
              f"drill snapshots '{DRILL_SNAPSHOT_PREFIX}*' and the "
              "configured instances' automated 'rds:<instance>-*', names generated per tick) and the "
              "subnet/option/parameter group the copy inherits from its source."
          ))
    g.add("RdsRestoreToPointInTime", ["rds:RestoreDBInstanceToPointInTime"],
          [*source_dbs, drill_instances[0], *[a for a in restore_dependencies if f":{primary}:" in a]],
          why_wildcard=(
              "RestoreDBInstanceToPointInTime authorizes on the configured source, the new instance (only "
              f"'{DRILL_INSTANCE_PREFIX}*') and the subnet/option/parameter group it inherits."
          ))
    g.add("RdsTagDrillInstances", ["rds:AddTagsToResource"], drill_instances, why_wildcard=why_drill_names)
    g.add("RdsDescribeSubnetGroups", ["rds:DescribeDBSubnetGroups"],
          [a for a in restore_dependencies if ":subgrp:" in a],
          why_wildcard="The restored copy goes into its source's DB subnet group (or the DR one), read by name.")
    # Encrypted recovery points: RDS creates grants on the snapshot's key for the new instance.
    g.add("DrKeyForRestoresOfDrCopies", ["kms:DescribeKey"], [dr_keys], conditions=by_dr_alias,
          why_wildcard=why_dr_key)
    g.add("DrKeyGrantsForRds", ["kms:CreateGrant"], [dr_keys],
          conditions={**by_dr_alias, "Bool": {"kms:GrantIsForAWSResource": "true"}}, why_wildcard=why_dr_key)
    # Primary-region recovery points are encrypted with the source instance's own key, which is not
    # part of the configuration: RDS may use any key here, but only on RDS's behalf.
    source_keys = f"arn:{Aws.PARTITION}:kms:{primary}:{account}:key/*"
    via_rds = {"StringEquals": {"kms:ViaService": f"rds.{primary}.amazonaws.com"}}
    why_source_key = ("The source instance's storage key is not configured: key/* in the primary region, "
                      "usable only through RDS (kms:ViaService) and, for grants, only for AWS resources.")
    g.add("SourceKeyForRestores", ["kms:DescribeKey"], [source_keys], conditions=via_rds,
          why_wildcard=why_source_key)
    g.add("SourceKeyGrantsForRds", ["kms:CreateGrant"], [source_keys],
          conditions={**via_rds, "Bool": {"kms:GrantIsForAWSResource": "true"}}, why_wildcard=why_source_key)

    # poll: snapshot / instance status.
    g = grants["poll"]
    g.add("RdsSnapshotStatus", ["rds:DescribeDBSnapshots"], any_snapshot, why_wildcard=why_list_snapshots)
    g.add("RdsDrillInstanceStatus", ["rds:DescribeDBInstances"], drill_instances, why_wildcard=why_drill_names)

    # validate / measure / prove: endpoint of the copy (and the source's, to refuse connecting to it),
    # database credentials, and (validate) the baseline row counts captured at backup time.
    for key in ("validate", "measure", "prove"):
        g = grants[key]
        g.add("RdsDescribeDrillAndSourceInstances", ["rds:DescribeDBInstances"], [*drill_instances, *source_dbs],
              why_wildcard=why_drill_names)
        secret_arns = sorted(set(drill.db_secrets.values()))
        if secret_arns:
            g.add("ReadConfiguredDatabaseSecrets", ["secretsmanager:GetSecretValue"],
                  secret_policy_resources(secret_arns),
                  why_wildcard="A secret configured by partial ARN is matched with its random suffix "
                               "'-??????' (exactly one configured secret each).")
            secret_regions = sorted({(a.split(":")[3], a.split(":")[4]) for a in secret_arns})
            g.add("DecryptSecretsViaSecretsManager", ["kms:Decrypt"],
                  [f"arn:{Aws.PARTITION}:kms:{r}:{acct}:key/*" for r, acct in secret_regions],
                  conditions={"StringEquals": {"kms:ViaService": [f"secretsmanager.{r}.amazonaws.com"
                                                                  for r, _ in secret_regions]}},
                  why_wildcard="The configured secrets' KMS keys are not part of the configuration: "
                               "kms:Decrypt is limited to calls Secrets Manager makes for this role.")
    g = grants["validate"]
    g.add("ReadBaselines", ["s3:GetObject"], [bucket.arn_for_objects(f"{BASELINES_PREFIX}*")],
          why_wildcard="Baselines are written per backup snapshot: baselines/<instance>/<snapshot>.json.",
          also_rendered_as=[cross_stack_arn_rendering(producer, bucket, f"/{BASELINES_PREFIX}*")])
    # Without ListBucket a missing baseline is a 403 instead of a 404 ("baseline missing").
    g.add("ListBaselines", ["s3:ListBucket"], [bucket.bucket_arn],
          conditions={"StringLike": {"s3:prefix": [f"{BASELINES_PREFIX}*"]}})
    g.add("DecryptBaselines", ["kms:Decrypt"], [foundation.key.key_arn])

    # prove: the advisor's latest index proposals (dbadvisor/proposals/<instance>.json), read only.
    g = grants["prove"]
    g.add("ReadIndexProposals", ["s3:GetObject"], [bucket.arn_for_objects(f"{DBADVISOR_PROPOSALS_PREFIX}*")],
          why_wildcard="The advisor writes one document per instance: dbadvisor/proposals/<instance>.json.",
          also_rendered_as=[cross_stack_arn_rendering(producer, bucket, f"/{DBADVISOR_PROPOSALS_PREFIX}*")])
    # Without ListBucket a missing document is a 403 instead of a 404 ("no advice yet").
    g.add("ListIndexProposals", ["s3:ListBucket"], [bucket.bucket_arn],
          conditions={"StringLike": {"s3:prefix": [f"{DBADVISOR_PROPOSALS_PREFIX}*"]}})
    g.add("DecryptIndexProposals", ["kms:Decrypt"], [foundation.key.key_arn])

    # Functions that run integrity checks: every IAM action a configured (or default) check declares.
    # A policy of its own, so its Resource '*' carries this reason rather than X-Ray's.
    check_actions = sorted(drill.check_permissions())
    for spec in FUNCTION_SPECS:
        if spec.runs_checks and check_actions:
            checks = RoleGrants(stack, functions[spec.key].role, policy_id=f"{spec.construct_id}CheckPermissions")
            checks.add("IntegrityCheckPermissions", check_actions, ["*"], why_wildcard=(
                "Actions the configured integrity checks declare (Plugin.permissions): a check names the API "
                "calls it makes, not their resources, so they are granted on '*' to this function only."))
            checks.suppress_wildcards()

    # cleanup and sweeper: delete only drill resources, and only when tagged as such.
    for key in ("cleanup", "sweeper"):
        g = grants[key]
        if key == "sweeper":
            g.add("RdsListInstances", ["rds:DescribeDBInstances"], any_instance,
                  why_wildcard="The sweeper lists every DB instance in the primary and DR region to find "
                               "expired drill instances (a list call cannot be scoped to a name prefix).")
            g.add("RdsListSnapshots", ["rds:DescribeDBSnapshots"], any_snapshot,
                  why_wildcard="The sweeper lists manual snapshots in the primary and DR region to find "
                               "expired drill snapshots (a list call cannot be scoped to a name prefix).")
            g.add("RdsListDrillResourceTags", ["rds:ListTagsForResource"], [*drill_instances, *drill_snapshots],
                  why_wildcard=why_drill_names)
        else:
            g.add("RdsDescribeDrillInstances", ["rds:DescribeDBInstances"], drill_instances,
                  why_wildcard=why_drill_names)
            g.add("RdsDescribeDrillSnapshots", ["rds:DescribeDBSnapshots"], drill_snapshots,
                  why_wildcard=why_drill_names)
        # ModifyDBInstance only to switch off deletion protection a restored copy may carry.
        g.add("RdsDeleteOnlyTaggedDrillInstances", ["rds:DeleteDBInstance", "rds:ModifyDBInstance"],
              drill_instances, conditions=delete_only_drill_resources, why_wildcard=why_drill_names)
        g.add("RdsDeleteOnlyTaggedDrillSnapshots", ["rds:DeleteDBSnapshot"], drill_snapshots,
              conditions=delete_only_drill_resources, why_wildcard=why_drill_names)

    # report: S3 document, history item, SNS summary (EMF metrics go through the log group).
    g = grants["report"]
    g.add("WriteReports", ["s3:PutObject"], [bucket.arn_for_objects(f"{DRILL_REPORTS_PREFIX}*")],
          why_wildcard="Reports are written per drill: drills/<YYYY>/<MM>/<drill id>.json.",
          also_rendered_as=[cross_stack_arn_rendering(producer, bucket, f"/{DRILL_REPORTS_PREFIX}*")])
    g.add("EncryptReports", ["kms:GenerateDataKey"], [foundation.key.key_arn])
    g.add("RecordHistory", ["dynamodb:PutItem"], [history_table.table_arn])
    g.add("HistoryTableKey", ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
          [drill_key.key_arn],
          conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{primary}.amazonaws.com"}})
    g.add("PublishSummary", ["sns:Publish"], [foundation.topic.topic_arn])
    g.add("OpsTopicKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.topic_key.key_arn])
    # RTO ends when RDS logged the restore as complete (its event log), not when a poll saw it.
    g.add("RdsRestoreEvents", ["rds:DescribeEvents"], ["*"],
          why_wildcard="rds:DescribeEvents supports no resource-level permissions (no resource type in the "
                       "RDS authorization reference): '*' is the only valid resource. Read-only: the event log.")

    # freshness: the newest passed drill per source, from the history table (read-only).
    g = grants["freshness"]
    g.add("ReadHistory", ["dynamodb:Query"], [history_table.table_arn])
    g.add("HistoryTableKeyRead", ["kms:Decrypt", "kms:DescribeKey"], [drill_key.key_arn],
          conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{primary}.amazonaws.com"}})

    for g in grants.values():
        g.suppress_wildcards()
