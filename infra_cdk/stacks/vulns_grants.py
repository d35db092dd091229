"""IAM of the vulnerability functions: the ledger (table and its state/resource index), Inspector's read-only
listings, the exceptions file, build reports and reports in the ops bucket, the ops key and topic."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb

from churnguard_ops.core.contracts import (
    VULNS_BUILD_REPORTS_PREFIX,
    VULNS_EXCEPTIONS_KEY,
    VULNS_LEDGER_STATE_INDEX,
    VULNS_REPORTS_PREFIX,
)
from infra_cdk.constructs import Foundation, OpsFunction
from infra_cdk.constructs.grants import RoleGrants, cross_stack_arn_rendering

WHY_INSPECTOR = ("inspector2:ListFindings and ListCoverage support no resource-level permissions (read-only; "
                 "the functions filter them to our functions).")
WHY_LIST_FUNCTIONS = "lambda:ListFunctions supports no resource-level permissions (read-only: our functions' names)."
WHY_BUILD_REPORTS = "Build reports are uploaded per run: vulns/build/<run id>/<source>.json."
WHY_REPORTS = "The weekly report is written in each format under vulns/reports/."
#: Ledger reads and (conditional) writes; the state/resource index serves the report and the runs' queries.
LEDGER_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
#: The ledger is encrypted with the ops key: DynamoDB uses it on the caller's behalf.
LEDGER_KEY_ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]


def _ledger(stack: Stack, g: RoleGrants, foundation: Foundation, table: dynamodb.ITable) -> None:
    g.add("Ledger", LEDGER_ACTIONS, [table.table_arn, f"{table.table_arn}/index/{VULNS_LEDGER_STATE_INDEX}"])
    g.add("LedgerKey", LEDGER_KEY_ACTIONS, [foundation.key.key_arn],
          conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{stack.region}.amazonaws.com"}})


def _exceptions_file(g: RoleGrants, foundation: Foundation) -> None:
    bucket = foundation.bucket
    g.add("ReadExceptionsFile", ["s3:GetObject"], [bucket.arn_for_objects(VULNS_EXCEPTIONS_KEY)])
    # ListBucket on exactly that key: a missing file is NotFound (no exceptions), not AccessDenied.
    g.add("ExceptionsFileExists", ["s3:ListBucket"], [bucket.bucket_arn],
          conditions={"StringEquals": {"s3:prefix": VULNS_EXCEPTIONS_KEY}})


def _inspector(g: RoleGrants, *, coverage: bool) -> None:
    actions = ["inspector2:ListFindings", "inspector2:ListCoverage"] if coverage else ["inspector2:ListFindings"]
    g.add("InspectorFindings", actions, ["*"], why_wildcard=WHY_INSPECTOR)


def grant_vulns_permissions(stack: Stack, *, foundation: Foundation, poll: OpsFunction, on_finding: OpsFunction,
                            ingest_build: OpsFunction, report: OpsFunction, table: dynamodb.ITable) -> None:
    bucket = foundation.bucket
    producer = Stack.of(bucket)
    # The ops key decrypts the bucket's objects (SSE-KMS with a bucket key) for S3 on the caller's behalf.
    read_objects_key = {"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}}

    g = RoleGrants(stack, poll.role)
    _inspector(g, coverage=True)
    g.add("OurFunctions", ["lambda:ListFunctions"], ["*"], why_wildcard=WHY_LIST_FUNCTIONS)
    _ledger(stack, g, foundation, table)
    _exceptions_file(g, foundation)
    g.add("ObjectsKey", ["kms:Decrypt"], [foundation.key.key_arn], conditions=read_objects_key)
    g.suppress_wildcards()

    g = RoleGrants(stack, on_finding.role)
    _inspector(g, coverage=False)  # the finding as Inspector has it now (events arrive out of order)
    _ledger(stack, g, foundation, table)
    _exceptions_file(g, foundation)
    g.add("ObjectsKey", ["kms:Decrypt"], [foundation.key.key_arn], conditions=read_objects_key)
    g.suppress_wildcards()

    g = RoleGrants(stack, ingest_build.role)
    _ledger(stack, g, foundation, table)
    _exceptions_file(g, foundation)
    g.add("ReadBuildReports", ["s3:GetObject"], [bucket.arn_for_objects(f"{VULNS_BUILD_REPORTS_PREFIX}*")],
          why_wildcard=WHY_BUILD_REPORTS,
          also_rendered_as=[cross_stack_arn_rendering(producer, bucket, f"/{VULNS_BUILD_REPORTS_PREFIX}*")])
    g.add("ObjectsKey", ["kms:Decrypt"], [foundation.key.key_arn], conditions=read_objects_key)
    g.suppress_wildcards()

    g = RoleGrants(stack, report.role)
    _ledger(stack, g, foundation, table)
    _exceptions_file(g, foundation)
    g.add("WriteReports", ["s3:PutObject"], [bucket.arn_for_objects(f"{VULNS_REPORTS_PREFIX}*")],
          why_wildcard=WHY_REPORTS,
          also_rendered_as=[cross_stack_arn_rendering(producer, bucket, f"/{VULNS_REPORTS_PREFIX}*")])
    g.add("ObjectsKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.key.key_arn],
          conditions=read_objects_key)
    g.add("AnnounceReports", ["sns:Publish"], [foundation.topic.topic_arn])
    g.add("OpsTopicKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.topic_key.key_arn])
    g.suppress_wildcards()
