"""Put an OpsFunction into the database VPC (functions that open SQL connections to RDS)."""

from __future__ import annotations

from aws_cdk import Annotations, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from infra_cdk.constructs.ops_function import OpsFunction
from infra_cdk.nag import suppress
from infra_cdk.settings import DrillVpc


def place_in_vpc(stack: Stack, construct_id: str, ops_fn: OpsFunction, vpc: DrillVpc) -> None:
    """VpcConfig by id (Vpc.from_lookup would need credentials at synth) plus the ENI permissions.

    The VPC needs a route to the AWS APIs the function calls (NAT, or interface endpoints for RDS,
    Secrets Manager, S3, KMS, X-Ray; RDS in another region needs NAT), and the database's security
    groups must admit ``vpc.security_group_ids``.
    """
    # OpsFunction takes no VPC settings; set them on the L1 resource.
    cfn_fn: lambda_.CfnFunction = ops_fn.function.node.default_child
    cfn_fn.add_property_override("VpcConfig", {"SubnetIds": list(vpc.subnet_ids),
                                               "SecurityGroupIds": list(vpc.security_group_ids)})
    # What AWSLambdaVPCAccessExecutionRole grants, without a managed policy; created before the function.
    eni_policy = iam.Policy(
        stack,
        f"{construct_id}VpcAccessPolicy",
        roles=[ops_fn.role],
        statements=[
            iam.PolicyStatement(
                sid="LambdaVpcEnis",
                actions=[
                    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            )
        ],
    )
    ops_fn.function.node.add_dependency(eni_policy)
    suppress(
        eni_policy, "IAM5",
        "Lambda VPC networking: ec2:DescribeNetworkInterfaces works only on Resource '*', and Lambda "
        "verifies the ENI actions for the execution role on all resources (as in the AWS managed "
        "AWSLambdaVPCAccessExecutionRole, which this replaces).",
        applies_to=["Resource::*"],
    )


def warn_without_vpc(stack: Stack, what: str) -> None:
    Annotations.of(stack).add_warning_v2(
        "churnguard:no-database-vpc",
        f"{what} connect to the databases named in drill.db_secrets but drill.vpc is not set: they run "
        "outside any VPC and reach only publicly accessible databases (restored drill copies never are).",
    )
