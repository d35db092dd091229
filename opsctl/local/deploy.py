"""Deploy a synthesized CDK stack (cdk.out/<Stack>.template.json) into EmbeddedAws.

Resources are created through boto3 against moto, in dependency order, in the region the
caller names (the DR stack lives in another region than the primary one). Lambda functions
are created in moto (so GetFunction/ListFunctions answer) and registered with EmbeddedAws'
dispatcher, so Invoke runs the real handler from the CDK asset directory.

EventBridge rules and buses are created in moto (PutRule, PutTargets), so events put on a bus
(and the events the embedded AWS emits, such as alarm state changes) reach their targets through
``opsctl.local.eventbridge_routes``. A rule's ScheduleExpression is not fired by the embedded AWS:
rules with a schedule are also listed in ``LocalDeployment.skipped`` (schedule and target input
resolved), for whatever fires them locally (opsctl invokes the scheduled functions itself).

SQS event source mappings are created in moto (CreateEventSourceMapping: the control plane answers
Get/List/Update/Delete) and delivered by ``opsctl.local.sqs_event_sources`` (batches, batching window,
ReportBatchItemFailures, FilterCriteria); mappings of other sources (DynamoDB, Kinesis, Kafka, MQ)
are skipped, since nothing would deliver them. WAFv2 IP sets and SQS queue policies are created in moto.
AppConfig applications, environments, profiles, hosted versions, strategies and deployments are created through
AppConfig's API (``opsctl.local.appconfig_deploy``; the embedded AWS serves what moto lacks).

A bucket's EventBridge notifications are turned on (``opsctl.local.s3_events`` emits its "Object Created"
events); CDK's BucketDeployment (``Custom::CDKBucketDeployment``) copies its source assets from the cloud
assembly into the destination bucket.

What is not created is listed in ``LocalDeployment.skipped``, with its properties resolved
where possible, and answers Ref/GetAtt with placeholders so the rest of the stack still deploys.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .appconfig_deploy import APPCONFIG_HANDLERS
from .aws import EmbeddedAws
from .lambda_runtime import DEFAULT_ACCOUNT_ID, RegisteredFunction
from .template import PhysicalResource, Resolver, TemplateError, deployment_order, load_template

__all__ = [
    "DeployedResource",
    "LocalDeployment",
    "SkippedResource",
    "deploy_cloud_assembly",
    "deploy_stack",
]


@dataclass
class DeployedResource:
    logical_id: str
    type: str
    physical_id: str
    attributes: dict[str, Any]
    ignored_properties: list[str] = field(default_factory=list)  # present in the template, not applied


@dataclass
class SkippedResource:
    logical_id: str
    type: str
    reason: str
    properties: dict[str, Any]  # resolved where possible, raw otherwise


@dataclass
class LocalDeployment:
    stack_name: str
    region: str
    resources: dict[str, DeployedResource] = field(default_factory=dict)
    functions: dict[str, RegisteredFunction] = field(default_factory=dict)  # by physical FunctionName
    functions_by_logical_id: dict[str, RegisteredFunction] = field(default_factory=dict)
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    outputs: dict[str, Any] = field(default_factory=dict)
    skipped: list[SkippedResource] = field(default_factory=list)

    def physical_id(self, logical_id: str) -> str:
        return self.resources[logical_id].physical_id

    def state_machine_arn(self, logical_id_or_name: str) -> str:
        if logical_id_or_name in self.state_machines:
            return self.state_machines[logical_id_or_name]
        matches = [arn for arn in self.state_machines.values() if arn.endswith(f":{logical_id_or_name}")]
        if len(matches) != 1:
            raise KeyError(logical_id_or_name)
        return matches[0]


# --------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------
def deploy_stack(
    aws: EmbeddedAws,
    template: str | Path | Mapping[str, Any],
    *,
    region: str | None = None,
    stack_name: str | None = None,
    assembly_dir: str | Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> LocalDeployment:
    """Create every supported resource of ``template`` in ``region`` (default: aws.region).

    ``assembly_dir`` is the cdk.out directory holding Lambda assets; it defaults to the
    template's directory. ``stack_name`` defaults to the template file's stem.
    """
    if isinstance(template, Mapping):
        body: Mapping[str, Any] = template
        if assembly_dir is None or stack_name is None:
            raise ValueError("a template given as a dict needs assembly_dir and stack_name")
    else:
        path = Path(template)
        body = load_template(path)
        assembly_dir = assembly_dir or path.parent
        stack_name = stack_name or path.name.removesuffix(".template.json")
    region = region or aws.region
    ctx = _Context(
        aws=aws,
        resolver=Resolver(body, stack_name, region, account_id, dict(parameters or {}),
                          stack_outputs=dict(stack_outputs or {})),
        assembly=_Assembly(Path(assembly_dir)),
        deployment=LocalDeployment(stack_name=stack_name, region=region),
    )
    resources = body.get("Resources", {})
    for logical_id in deployment_order(body):
        spec = resources[logical_id]
        if "Condition" in spec and not ctx.resolver.condition(spec["Condition"]):
            continue
        if spec["Type"] in _RECORDED:
            reason, reference = _RECORDED[spec["Type"]]
            props = ctx.resolver.resolve(spec.get("Properties", {}))
            ctx.deployment.skipped.append(SkippedResource(logical_id, spec["Type"], reason, props))
            ctx.resolver.resources[logical_id] = reference(ctx, logical_id, props)
            continue
        handler = _HANDLERS.get(spec["Type"])
        if handler is None:
            _skip(ctx, logical_id, spec, "no local handler for this type")
            continue
        props = ctx.resolver.resolve(spec.get("Properties", {}))
        try:
            created, handled = handler(ctx, logical_id, props)
        except _NotCreated as exc:
            _skip(ctx, logical_id, spec, str(exc))
            continue
        ctx.resolver.resources[logical_id] = created
        ctx.deployment.resources[logical_id] = DeployedResource(
            logical_id=logical_id,
            type=spec["Type"],
            physical_id=created.ref,
            attributes=created.attributes,
            ignored_properties=sorted(set(props) - handled),
        )
    for name, output in body.get("Outputs", {}).items():
        if "Condition" in output and not ctx.resolver.condition(output["Condition"]):
            continue
        ctx.deployment.outputs[name] = ctx.resolver.resolve(output["Value"])
    return ctx.deployment


def deploy_cloud_assembly(
    aws: EmbeddedAws,
    cdk_out: str | Path,
    *,
    regions: Mapping[str, str] | None = None,
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, LocalDeployment]:
    """Deploy every stack of a cloud assembly, each in its manifest region (or ``regions[id]``).

    Stacks deploy in manifest dependency order. Returns deployments by artifact id.
    """
    cdk_out = Path(cdk_out)
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    artifacts = {
        k: v for k, v in manifest.get("artifacts", {}).items() if v.get("type") == "aws:cloudformation:stack"
    }
    deployments: dict[str, LocalDeployment] = {}

    def visit(artifact_id: str) -> None:
        if artifact_id in deployments:
            return
        artifact = artifacts[artifact_id]
        for dep in artifact.get("dependencies", []):
            if dep in artifacts:
                visit(dep)
        props = artifact.get("properties", {})
        env_region = artifact.get("environment", "").rsplit("/", 1)[-1]
        region = (regions or {}).get(artifact_id) or (env_region if env_region != "unknown-region" else None)
        deployments[artifact_id] = deploy_stack(
            aws,
            cdk_out / props["templateFile"],
            region=region,
            stack_name=props.get("stackName", artifact_id),
            assembly_dir=cdk_out,
            parameters=(parameters or {}).get(artifact_id),
            stack_outputs={d.stack_name: d.outputs for d in deployments.values()},
        )

    for artifact_id in artifacts:
        visit(artifact_id)
    return deployments


# --------------------------------------------------------------------------------------
# Context and helpers
# --------------------------------------------------------------------------------------
@dataclass
class _Context:
    aws: EmbeddedAws
    resolver: Resolver
    assembly: _Assembly
    deployment: LocalDeployment

    @property
    def region(self) -> str:
        return self.resolver.region

    @property
    def account(self) -> str:
        return self.resolver.account_id

    def client(self, service: str) -> Any:
        return self.aws.client(service, self.region)

    def name(self, logical_id: str, max_len: int, *, lower: bool = False, suffix: str = "") -> str:
        """A CloudFormation-like generated name: <stack>-<logical id>, trimmed to the limit."""
        base = f"{self.resolver.stack_name}-{logical_id}"
        base = re.sub(r"[^A-Za-z0-9-]", "-", base.lower() if lower else base)
        return base[: max_len - len(suffix)].strip("-") + suffix

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"


class _Assembly:
    """Finds a Lambda function's code directory inside cdk.out."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._sources: dict[str, str] | None = None

    def code_dir(self, logical_id: str, code: Mapping[str, Any], metadata: Mapping[str, Any]) -> Path:
        if "ZipFile" in code:
            # Inline code: CloudFormation stores it as index.py.
            target = self.root / ".local-assets" / logical_id
            target.mkdir(parents=True, exist_ok=True)
            (target / "index.py").write_text(code["ZipFile"])
            return target
        rel = metadata.get("aws:asset:path") or self._asset_path(code)
        path = (self.root / rel).resolve()
        if path.is_file() and path.suffix == ".zip":
            return self._unzipped(path)
        if not path.is_dir():
            raise TemplateError(f"{logical_id}: Lambda asset {path} not found in {self.root}")
        return path

    def _asset_path(self, code: Mapping[str, Any]) -> str:
        key = code.get("S3Key")
        if not isinstance(key, str):
            raise TemplateError(f"cannot locate Lambda code {code!r} (no S3Key / asset metadata)")
        sources = self._asset_sources()
        if key in sources:
            return sources[key]
        return f"asset.{key.split('.', 1)[0]}"  # CDK's default staging name: asset.<hash>

    def asset_files(self, object_key: str) -> list[tuple[str, bytes]]:
        """The files of a zip asset (by its object key), as relative names and contents."""
        path = (self.root / self._asset_sources().get(object_key, f"asset.{object_key.split('.', 1)[0]}")).resolve()
        if path.is_file() and path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                return [(n, zf.read(n)) for n in sorted(zf.namelist()) if not n.endswith("/")]
        if not path.is_dir():
            raise TemplateError(f"asset {object_key} not found in {self.root}")
        return [(f.relative_to(path).as_posix(), f.read_bytes()) for f in sorted(path.rglob("*")) if f.is_file()]

    def _asset_sources(self) -> dict[str, str]:
        """objectKey -> source path, from every <Stack>.assets.json in the assembly."""
        if self._sources is None:
            self._sources = {}
            for manifest in self.root.glob("*.assets.json"):
                for entry in json.loads(manifest.read_text()).get("files", {}).values():
                    for dest in entry.get("destinations", {}).values():
                        self._sources[dest.get("objectKey", "")] = entry["source"]["path"]
        return self._sources

    def _unzipped(self, archive: Path) -> Path:
        target = self.root / ".local-assets" / archive.stem
        if not target.exists():
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(target)
        return target


class _Placeholders(dict):  # type: ignore[type-arg]
    """GetAtt on a skipped resource answers a recognisable placeholder instead of failing."""

    def __init__(self, logical_id: str) -> None:
        super().__init__()
        self.logical_id = logical_id

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return f"local-placeholder:{self.logical_id}.{key}"


def _skip(ctx: _Context, logical_id: str, spec: Mapping[str, Any], reason: str) -> None:
    try:
        props = ctx.resolver.resolve(spec.get("Properties", {}))
    except TemplateError:
        props = dict(spec.get("Properties", {}))
    ctx.deployment.skipped.append(SkippedResource(logical_id, spec["Type"], reason, props))
    ref = props.get("Name") if isinstance(props.get("Name"), str) else ctx.name(logical_id, 64)
    ctx.resolver.resources[logical_id] = PhysicalResource(ref=ref, attributes=_Placeholders(logical_id))


def _tiny_zip() -> bytes:
    # moto stores the code; the real code runs in-process from the asset dir.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README.txt", "code runs in-process via opsctl.local\n")
    return buf.getvalue()


def _attribute_string(value: Any) -> str:
    """SNS/SQS attributes are strings: JSON for objects, lowercase for booleans."""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _tags(props: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"Key": t["Key"], "Value": str(t["Value"])} for t in props.get("Tags", [])]


# --------------------------------------------------------------------------------------
# Resource handlers: (ctx, logical id, resolved properties) -> (created, handled property names)
# --------------------------------------------------------------------------------------
_Handler = Callable[[_Context, str, dict[str, Any]], tuple[PhysicalResource, set[str]]]


def _kms_key(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    kms = ctx.client("kms")
    args: dict[str, Any] = {"Description": p.get("Description", logical_id)}
    if "KeyPolicy" in p:
        args["Policy"] = json.dumps(p["KeyPolicy"])
    for key in ("KeyUsage", "KeySpec", "MultiRegion"):
        if key in p:
            args[key] = p[key]
    if p.get("Tags"):
        args["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in _tags(p)]
    meta = kms.create_key(**args)["KeyMetadata"]
    if p.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=meta["KeyId"])
    handled = {"Description", "KeyPolicy", "KeyUsage", "KeySpec", "MultiRegion", "Tags", "EnableKeyRotation"}
    return PhysicalResource(meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]}), handled


def _kms_alias(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    target = p["TargetKeyId"].rsplit("/", 1)[-1]  # accept a key ARN or id
    ctx.client("kms").create_alias(AliasName=p["AliasName"], TargetKeyId=target)
    return PhysicalResource(p["AliasName"], {}), {"AliasName", "TargetKeyId"}


def _s3_bucket(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    s3 = ctx.client("s3")
    name = p.get("BucketName") or ctx.name(logical_id, 63, lower=True)
    create: dict[str, Any] = {"Bucket": name}
    if ctx.region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
    s3.create_bucket(**create)
    if "VersioningConfiguration" in p:
        s3.put_bucket_versioning(Bucket=name,
                                 VersioningConfiguration={"Status": p["VersioningConfiguration"]["Status"]})
    if "BucketEncryption" in p:
        # CloudFormation's ServerSideEncryptionByDefault is the API's ApplyServerSideEncryptionByDefault.
        rules = [
            {("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v
             for k, v in rule.items()}
            for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]  # fmt: skip
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in p:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"])
    if p.get("Tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(p)})
    handled = {"BucketName", "VersioningConfiguration", "BucketEncryption", "PublicAccessBlockConfiguration", "Tags"}
    notifications = p.get("NotificationConfiguration") or {}
    if set(notifications) == {"EventBridgeConfiguration"}:  # Lambda/queue/topic configurations are not applied
        if str(notifications["EventBridgeConfiguration"].get("EventBridgeEnabled")).lower() == "true":
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}})
        handled.add("NotificationConfiguration")
    attrs = {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
        "DualStackDomainName": f"{name}.s3.dualstack.{ctx.region}.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-{ctx.region}.amazonaws.com",
    }
    return PhysicalResource(name, attrs), handled


def _sns_topic(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    fifo = bool(p.get("FifoTopic"))
    name = p.get("TopicName") or ctx.name(logical_id, 256, suffix=".fifo" if fifo else "")
    keys = ("KmsMasterKeyId", "DisplayName", "FifoTopic", "ContentBasedDeduplication")
    attributes = {k: _attribute_string(p[k]) for k in keys if k in p}
    arn = ctx.client("sns").create_topic(Name=name, Attributes=attributes, Tags=_tags(p))["TopicArn"]
    handled = {"TopicName", "KmsMasterKeyId", "DisplayName", "FifoTopic", "ContentBasedDeduplication", "Tags"}
    return PhysicalResource(arn, {"TopicArn": arn, "TopicName": name}), handled


_SQS_ATTRIBUTES = (
    "VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds",
    "MaximumMessageSize", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled",
    "FifoQueue", "ContentBasedDeduplication", "RedrivePolicy",
)  # fmt: skip


def _sqs_queue(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    fifo = bool(p.get("FifoQueue"))
    name = p.get("QueueName") or ctx.name(logical_id, 80, suffix=".fifo" if fifo else "")
    attributes = {key: _attribute_string(p[key]) for key in _SQS_ATTRIBUTES if key in p}
    sqs = ctx.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = ctx.arn("sqs", name)
    attributes = {"Arn": arn, "QueueName": name, "QueueUrl": url}
    return PhysicalResource(url, attributes), {"QueueName", "Tags", *_SQS_ATTRIBUTES}


def _dynamodb_table(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    name = p.get("TableName") or ctx.name(logical_id, 255)
    billing = p.get("BillingMode", "PROVISIONED")
    args: dict[str, Any] = {
        "TableName": name,
        "KeySchema": p["KeySchema"],
        "AttributeDefinitions": p["AttributeDefinitions"],
        "BillingMode": billing,
    }
    default_throughput = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    if billing == "PROVISIONED":
        args["ProvisionedThroughput"] = p.get("ProvisionedThroughput", default_throughput)
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in p:
            args[key] = p[key]
    if billing == "PROVISIONED" and "GlobalSecondaryIndexes" in args:  # each GSI needs its own throughput
        args["GlobalSecondaryIndexes"] = [
            {"ProvisionedThroughput": default_throughput, **idx} for idx in args["GlobalSecondaryIndexes"]
        ]
    if "StreamSpecification" in p:
        args["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
    if "SSESpecification" in p:  # CloudFormation says SSEEnabled where the API says Enabled
        sse = dict(p["SSESpecification"])
        args["SSESpecification"] = {"Enabled": sse.pop("SSEEnabled", False), **sse}
    if p.get("Tags"):
        args["Tags"] = _tags(p)
    ddb = ctx.client("dynamodb")
    table = ddb.create_table(**args)["TableDescription"]
    ttl = p.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    attrs = {"Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attrs["StreamArn"] = table["LatestStreamArn"]
    handled = {"TableName", "KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput",
               "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification", "SSESpecification",
               "Tags", "TimeToLiveSpecification"}  # fmt: skip
    return PhysicalResource(name, attrs), handled


def _log_group(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    name = p.get("LogGroupName") or ctx.name(logical_id, 512)
    logs = ctx.client("logs")
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in p:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
    return PhysicalResource(name, {"Arn": ctx.arn("logs", f"log-group:{name}:*")}), {"LogGroupName", "RetentionInDays"}


def _iam_role(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    # Created (not only named) because moto's CreateFunction checks that the role exists.
    # Policies are not attached: moto does not enforce IAM, so they would change nothing.
    name = p.get("RoleName") or ctx.name(logical_id, 64)
    role = ctx.aws.client("iam", "us-east-1").create_role(
        RoleName=name,
        Path=p.get("Path", "/"),
        AssumeRolePolicyDocument=json.dumps(p.get("AssumeRolePolicyDocument", {})),
    )["Role"]
    return PhysicalResource(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}), {
        "RoleName", "Path", "AssumeRolePolicyDocument"}  # fmt: skip


def _lambda_function(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    name = p.get("FunctionName") or ctx.name(logical_id, 64)
    spec = ctx.resolver.template["Resources"][logical_id]
    code_dir = ctx.assembly.code_dir(logical_id, p.get("Code", {}), spec.get("Metadata", {}))
    environment = p.get("Environment", {}).get("Variables", {})
    memory, timeout = int(p.get("MemorySize", 128)), int(p.get("Timeout", 3))
    ctx.client("lambda").create_function(
        FunctionName=name,
        Runtime=p.get("Runtime", "python3.13"),
        Role=p["Role"],
        Handler=p["Handler"],
        Code={"ZipFile": _tiny_zip()},
        Environment={"Variables": {k: str(v) for k, v in environment.items()}},
        MemorySize=memory,
        Timeout=timeout,
        Description=p.get("Description", ""),
    )
    fn = ctx.aws.register(
        name,
        p["Handler"],
        code_dir=code_dir,
        environment=environment,
        region=ctx.region,
        memory_mb=memory,
        timeout_seconds=timeout,
    )
    ctx.deployment.functions[name] = fn
    ctx.deployment.functions_by_logical_id[logical_id] = fn
    # Layers are not installed: the shared library is importable from the venv already.
    handled = {"FunctionName", "Code", "Handler", "Role", "Runtime", "Environment", "MemorySize", "Timeout",
               "Description", "Layers", "Architectures"}  # fmt: skip
    return PhysicalResource(name, {"Arn": fn.arn}), handled


def _state_machine(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    name = p.get("StateMachineName") or ctx.name(logical_id, 80)
    definition = p.get("DefinitionString") or json.dumps(p.get("Definition", {}))
    for key, value in p.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    # Logging/tracing configuration is not passed: moto neither needs nor uses it.
    arn = ctx.client("stepfunctions").create_state_machine(
        name=name,
        definition=definition,
        roleArn=p["RoleArn"],
        type=p.get("StateMachineType", "STANDARD"),
    )["stateMachineArn"]
    ctx.deployment.state_machines[logical_id] = arn
    handled = {"StateMachineName", "DefinitionString", "Definition", "DefinitionSubstitutions", "RoleArn",
               "StateMachineType"}  # fmt: skip
    return PhysicalResource(arn, {"Arn": arn, "Name": name}), handled


class _NotCreated(Exception):
    """The embedded AWS refused a resource that the stack does not need to run locally (recorded as skipped)."""


_ESM_KEYS = ("EventSourceArn", "FunctionName", "Enabled", "BatchSize", "MaximumBatchingWindowInSeconds",
             "FunctionResponseTypes", "FilterCriteria", "Tags")


def _event_source_mapping(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    """An SQS mapping, created in moto and delivered by ``opsctl.local.sqs_event_sources``. ScalingConfig is
    stored (GetEventSourceMapping shows it) but not applied: the local poller delivers one batch at a time."""
    from botocore.exceptions import ClientError

    source = str(p.get("EventSourceArn", ""))
    if source.split(":")[2:3] != ["sqs"]:
        raise _NotCreated("only SQS event sources are delivered locally (opsctl.local.sqs_event_sources)")
    args: dict[str, Any] = {"EventSourceArn": source, "FunctionName": p["FunctionName"]}
    if "Enabled" in p:
        args["Enabled"] = str(p["Enabled"]).lower() != "false"
    for key in ("BatchSize", "MaximumBatchingWindowInSeconds"):
        if key in p:
            args[key] = int(p[key])
    for key in ("FunctionResponseTypes", "FilterCriteria", "ScalingConfig"):
        if key in p:
            args[key] = p[key]
    if p.get("Tags"):  # CloudFormation: a list of {Key, Value}; the API: a map
        args["Tags"] = {t["Key"]: t["Value"] for t in _tags(p)}
    try:
        created = ctx.client("lambda").create_event_source_mapping(**args)
    except ClientError as exc:
        raise _NotCreated(f"embedded Lambda refused the event source mapping: {exc}") from exc
    uuid = created["UUID"]
    arn = created.get("EventSourceMappingArn") or ctx.arn("lambda", f"event-source-mapping:{uuid}")
    return PhysicalResource(uuid, {"Id": uuid, "EventSourceMappingArn": arn}), set(_ESM_KEYS)


def _wafv2_ip_set(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    """Ref is ``name|id|scope`` as CloudFormation answers it; CLOUDFRONT sets live in us-east-1."""
    name = p.get("Name") or ctx.name(logical_id, 128)
    scope = p["Scope"]
    args: dict[str, Any] = {"Name": name, "Scope": scope, "IPAddressVersion": p["IPAddressVersion"],
                            "Addresses": [str(a) for a in p.get("Addresses", [])]}
    if p.get("Description"):
        args["Description"] = p["Description"]
    if p.get("Tags"):
        args["Tags"] = _tags(p)
    region = "us-east-1" if scope == "CLOUDFRONT" else ctx.region
    summary = ctx.aws.client("wafv2", region).create_ip_set(**args)["Summary"]
    return PhysicalResource(f"{name}|{summary['Id']}|{scope}", {"Arn": summary["ARN"], "Id": summary["Id"]}), {
        "Name", "Scope", "IPAddressVersion", "Addresses", "Description", "Tags"}


def _sqs_queue_policy(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    """The policy is set on each queue (GetQueueAttributes answers it); moto does not enforce it."""
    from botocore.exceptions import ClientError

    policy = p["PolicyDocument"] if isinstance(p["PolicyDocument"], str) else json.dumps(p["PolicyDocument"])
    sqs = ctx.client("sqs")
    for url in p.get("Queues", []):
        try:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
        except ClientError as exc:
            raise _NotCreated(f"embedded SQS refused the queue policy: {exc}") from exc
    policy_id = ctx.name(logical_id, 255)
    return PhysicalResource(policy_id, {"Id": policy_id}), {"PolicyDocument", "Queues"}


_ALARM_KEYS = ("AlarmName", "AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions",
               "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions",
               "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
               "TreatMissingData", "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId")


def _cloudwatch_alarm(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    """Created so that alarms answer DescribeAlarms and SetAlarmState emits their state change events.
    moto does not evaluate alarms against metrics, nor run their actions."""
    from botocore.exceptions import ClientError

    name = p.get("AlarmName") or ctx.name(logical_id, 255)
    args = {k: p[k] for k in _ALARM_KEYS if k in p}
    args["AlarmName"] = name
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in args:
            args[key] = int(args[key])
    if "Threshold" in args:
        args["Threshold"] = float(args["Threshold"])
    if p.get("Tags"):
        args["Tags"] = _tags(p)
    try:
        ctx.client("cloudwatch").put_metric_alarm(**args)
    except ClientError as exc:
        raise _NotCreated(f"embedded CloudWatch refused the alarm: {exc}") from exc
    arn = ctx.arn("cloudwatch", f"alarm:{name}")
    return PhysicalResource(name, {"Arn": arn}), {*_ALARM_KEYS, "Tags"}


def _lambda_version(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    args = {"FunctionName": p["FunctionName"]}
    if p.get("Description"):
        args["Description"] = p["Description"]
    published = ctx.client("lambda").publish_version(**args)
    arn = published["FunctionArn"]  # qualified: ...:function:name:3
    return PhysicalResource(arn, {"Version": published["Version"], "FunctionArn": arn}), {
        "FunctionName", "Description", "CodeSha256"}


def _lambda_alias(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    args: dict[str, Any] = {"FunctionName": p["FunctionName"], "Name": p["Name"],
                            "FunctionVersion": str(p["FunctionVersion"])}
    if p.get("Description"):
        args["Description"] = p["Description"]
    weights = (p.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or []
    if weights:  # CloudFormation: a list of {FunctionVersion, FunctionWeight}; the API: a map
        args["RoutingConfig"] = {"AdditionalVersionWeights": {
            str(w["FunctionVersion"]): float(w["FunctionWeight"]) for w in weights}}
    arn = ctx.client("lambda").create_alias(**args)["AliasArn"]
    return PhysicalResource(arn, {"AliasArn": arn}), {"FunctionName", "Name", "FunctionVersion", "Description",
                                                      "RoutingConfig"}


_TARGET_KEYS = ("Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "DeadLetterConfig", "RetryPolicy",
                "SqsParameters", "KinesisParameters", "EcsParameters", "HttpParameters", "BatchParameters",
                "RunCommandParameters", "SageMakerPipelineParameters", "RedshiftDataParameters", "AppSyncParameters")


def _events_rule(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    name = p.get("Name") or ctx.name(logical_id, 64)
    bus = p.get("EventBusName") or "default"
    args: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": p.get("State", "ENABLED")}
    if "EventPattern" in p:
        pattern = p["EventPattern"]
        args["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    for key in ("ScheduleExpression", "Description", "RoleArn"):
        if key in p:
            args[key] = p[key]
    if p.get("Tags"):
        args["Tags"] = _tags(p)
    events = ctx.client("events")
    arn = events.put_rule(**args)["RuleArn"]
    targets = [{k: v for k, v in t.items() if k in _TARGET_KEYS} for t in p.get("Targets", [])]
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    if "ScheduleExpression" in p:  # not fired by the embedded AWS: a local runner can fire it from this record
        ctx.deployment.skipped.append(SkippedResource(logical_id, "AWS::Events::Rule",
                                                      "created; its schedule is not fired (fire it locally)", p))
    handled = {"Name", "EventBusName", "State", "EventPattern", "ScheduleExpression", "Description", "RoleArn",
               "Tags", "Targets"}  # fmt: skip
    return PhysicalResource(name, {"Arn": arn}), handled


def _event_bus(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    name = p["Name"]
    args: dict[str, Any] = {"Name": name}
    if p.get("Description"):
        args["Description"] = p["Description"]
    if p.get("Tags"):
        args["Tags"] = _tags(p)
    arn = ctx.client("events").create_event_bus(**args)["EventBusArn"]
    return PhysicalResource(name, {"Arn": arn, "Name": name}), {"Name", "Description", "Tags"}


def _bucket_deployment(ctx: _Context, logical_id: str, p: dict[str, Any]) -> tuple[PhysicalResource, set[str]]:
    """CDK's BucketDeployment: what its handler copies (``aws s3 sync`` of each source zip in the cloud assembly)
    put into the destination bucket under its prefix. Sources with markers (deploy-time values substituted into
    the files) are not created; Prune is not applied (nothing is deleted locally)."""
    if any(marker for marker in p.get("SourceMarkers") or []):
        raise _NotCreated("sources with deploy-time markers are not substituted locally")
    s3 = ctx.client("s3")
    bucket, prefix = p["DestinationBucketName"], p.get("DestinationBucketKeyPrefix", "")
    keys: list[str] = []
    for object_key in p.get("SourceObjectKeys", []):
        for name, body in ctx.assembly.asset_files(object_key):
            key = f"{prefix.rstrip('/')}/{name}" if prefix else name
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            keys.append(key)
    physical_id = ctx.name(logical_id, 255)
    return PhysicalResource(physical_id, {"DestinationBucketArn": f"arn:aws:s3:::{bucket}",
                                          "SourceObjectKeys": keys}), {
        "ServiceToken", "SourceBucketNames", "SourceObjectKeys", "SourceMarkers", "SourceMarkersConfig",
        "DestinationBucketName", "DestinationBucketKeyPrefix", "RetainOnDelete", "OutputObjectKeys",
        "WaitForDistributionInvalidation"}


def _layer_reference(ctx: _Context, logical_id: str, p: dict[str, Any]) -> PhysicalResource:
    name = p.get("LayerName") or ctx.name(logical_id, 64)
    return PhysicalResource(ctx.arn("lambda", f"layer:{name}:1"), {})


# Not created, but recorded with resolved properties and a meaningful Ref/GetAtt.
_RECORDED: dict[str, tuple[str, Callable[[_Context, str, dict[str, Any]], PhysicalResource]]] = {
    # The layer's library is installed in the local venv; handlers import it from there.
    "AWS::Lambda::LayerVersion": ("layer library is importable from the venv", _layer_reference),
}

_HANDLERS: dict[str, _Handler] = {
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::Alias": _kms_alias,
    "AWS::S3::Bucket": _s3_bucket,
    "AWS::SNS::Topic": _sns_topic,
    "AWS::SQS::Queue": _sqs_queue,
    "AWS::DynamoDB::Table": _dynamodb_table,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::IAM::Role": _iam_role,
    "AWS::Lambda::Function": _lambda_function,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::Events::Rule": _events_rule,
    "AWS::Events::EventBus": _event_bus,
    "AWS::CloudWatch::Alarm": _cloudwatch_alarm,
    "AWS::Lambda::Version": _lambda_version,
    "AWS::Lambda::Alias": _lambda_alias,
    "AWS::Lambda::EventSourceMapping": _event_source_mapping,
    "AWS::WAFv2::IPSet": _wafv2_ip_set,
    "AWS::SQS::QueuePolicy": _sqs_queue_policy,
    "Custom::CDKBucketDeployment": _bucket_deployment,
    **APPCONFIG_HANDLERS,  # AWS::AppConfig::* (opsctl.local.appconfig_deploy)
}
