"""Typed, validated view of the ``churnguard`` key in cdk.json context.

The CDK app reads its configuration only through these models, and turns them into the
environment variables the Lambda functions read with pydantic-settings (see
``BackupContext.lambda_environment``). Override on the command line with, e.g.::

    npx aws-cdk@2 deploy -c 'churnguard={"prefix": "churnguard-ops", "backup": {...}}'

(``-c`` replaces the whole ``churnguard`` object; missing keys fall back to the defaults below.)
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from churnguard_ops.backup.policy import DEFAULT_POLICIES, POLICY_NAMES, BackupPolicy, PolicyName  # noqa: F401
from churnguard_ops.core.contracts import NAME_PREFIX, SECURITY_APP_DETAIL_TYPE, SECURITY_APP_EVENT_SOURCE
from churnguard_ops.core.postgres import SslMode
from churnguard_ops.core.registry import PluginSpecError
from churnguard_ops.cost.rules import COST_RULES
from churnguard_ops.drill.checks import CHECKS, DEFAULT_CHECKS, CheckSpec
from churnguard_ops.security.detectors import DEFAULT_DETECTORS
from churnguard_ops.security.engine import DetectorSpec, Suppression, build_detectors
from churnguard_ops.security.remediation import RemediationPolicy
from infra_cdk.alarms_settings import AlarmsContext
from infra_cdk.context_types import (  # noqa: F401  (re-exported: stacks import them from here)
    BucketName,
    DbInstanceClass,
    DbInstanceId,
    DrillVpc,
    Email,
    RegionName,
    ScheduleExpression,
    SecretArn,
    SecurityGroupId,
    SsmPath,
    SubnetId,
    VpcId,
    VpcPlacement,
    _Strict,
    secret_policy_resources,
)
from infra_cdk.dbadvisor_settings import DbAdvisorContext
from infra_cdk.flags_settings import FlagsContext
from infra_cdk.incidents_settings import IncidentsContext
from infra_cdk.monitoring_settings import MonitoringContext
from infra_cdk.performance_settings import PerformanceContext
from infra_cdk.vulns_settings import VulnsContext

if TYPE_CHECKING:  # the CDK (and its Node.js runtime) loads only where an app is built
    from constructs import Construct

CONTEXT_KEY = "churnguard"

#: Seed policies (the runtime's defaults, as plain dicts): used for every policy the context leaves
#: out, and as the base that partial overrides are merged onto (``{"database": {"schedule_minutes": 30}}``).
SEED_POLICIES: dict[str, dict[str, Any]] = {name: policy.model_dump() for name, policy in DEFAULT_POLICIES.items()}

#: One ``drill.checks`` entry: exactly what the validate function reads from DRILL_CHECKS.
DrillCheck = CheckSpec

#: Hours a restore-drill execution may run (the state machine's timeout). Drill resources expire
#: later than that, so the hourly sweeper never deletes the instance of a drill still running.
DRILL_STATE_MACHINE_TIMEOUT_HOURS = 4


class BackupContext(_Strict):
    db_instance_ids: list[DbInstanceId] = Field(default_factory=lambda: ["churnguard-prod"], min_length=1)
    dr_region: RegionName = "us-west-2"
    dr_kms_key_alias: Annotated[str, StringConstraints(pattern=r"^alias/[a-zA-Z0-9/_-]+$")] = "alias/churnguard-ops-dr"
    app_data_buckets: list[BucketName] = Field(default_factory=lambda: ["churnguard-app-data"])
    ssm_paths: list[SsmPath] = Field(default_factory=lambda: ["/churnguard/"])
    keep_latest: int = Field(default=3, ge=1)
    manual_snapshot_quota: int = Field(default=100, ge=1)
    max_copies_in_flight: int = Field(default=5, ge=1)
    rpo_minutes: int = Field(default=15, ge=1)
    # How often the recoverability probe measures restorable lag and posture (the hourly tick is too coarse
    # to see a 15-minute RPO being missed); at most the RPO, so a lag beyond it is seen within one RPO.
    probe_minutes: int = Field(default=5, ge=1, le=60)
    # The newest recovery point in the DR region may be this old before the DR-freshness alarm fires:
    # a snapshot is copied on the tick after it is available, and the copy itself takes time.
    dr_rpo_minutes: int | None = Field(default=None, ge=1, description="default: 2 database schedules + rpo")
    # Events older than this (EventBridge retries 2 h + Lambda's async queue 1 h) or further ahead than the
    # skew are refused: a replay would make a backup expired at birth, a future one a fake "newest".
    max_event_age_minutes: int = Field(default=180, ge=1)
    max_clock_skew_minutes: int = Field(default=5, ge=0)
    policies: dict[PolicyName, BackupPolicy] = Field(default_factory=dict)
    # TLS to the source databases whose row counts backups record (as drill.db_sslmode / db_sslrootcert):
    # db_sslrootcert None is the RDS CA bundle shipped in the layer.
    db_sslmode: SslMode = "verify-full"
    db_sslrootcert: Annotated[str, StringConstraints(min_length=1)] | None = None

    @field_validator("db_instance_ids", "app_data_buckets", "ssm_paths")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("entries must be unique")
        return value

    @model_validator(mode="after")
    def _probe_within_rpo(self) -> BackupContext:
        if self.probe_minutes > self.rpo_minutes:
            raise ValueError(f"probe_minutes ({self.probe_minutes}) must not exceed rpo_minutes "
                             f"({self.rpo_minutes}): a lag beyond the RPO would go unseen for longer than the RPO")
        return self

    @field_validator("db_instance_ids")
    @classmethod
    def _rds_identifier_rules(cls, value: list[str]) -> list[str]:
        for ident in value:
            if "--" in ident or ident.endswith("-"):
                raise ValueError(f"{ident!r}: RDS identifiers contain no '--' and do not end with '-'")
        return value

    @field_validator("ssm_paths")
    @classmethod
    def _no_root_path(cls, value: list[str]) -> list[str]:
        if "/" in value:
            raise ValueError("'/' would grant every parameter in the account; name a path such as '/churnguard/'")
        return value

    @model_validator(mode="before")
    @classmethod
    def _merge_seed_policies(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        given = data.get("policies") or {}
        if not isinstance(given, dict):
            return data  # let field validation report the type error
        unknown = set(given) - set(POLICY_NAMES)
        if unknown:
            raise ValueError(f"unknown backup policies {sorted(unknown)}; known: {sorted(POLICY_NAMES)}")
        # In the seed table's order (rules, alarms, dashboard and BACKUP_POLICIES follow it).
        merged = {name: {**seed, **(given.get(name) or {})} for name, seed in SEED_POLICIES.items()}
        return {**data, "policies": merged}

    def policies_json(self) -> str:
        return json.dumps({name: p.model_dump() for name, p in self.policies.items()}, separators=(",", ":"))

    def lambda_environment(self) -> dict[str, str]:
        """The BACKUP_* variables that do not depend on deployed resources (contract names)."""
        env = {
            "BACKUP_DB_INSTANCE_IDS": json.dumps(self.db_instance_ids),
            "BACKUP_DR_REGION": self.dr_region,
            "BACKUP_DR_KMS_KEY_ID": self.dr_kms_key_alias,
            "BACKUP_SSM_PATHS": json.dumps(self.ssm_paths),
            "BACKUP_APP_DATA_BUCKETS": json.dumps(self.app_data_buckets),
            "BACKUP_KEEP_LATEST": str(self.keep_latest),
            "BACKUP_MANUAL_SNAPSHOT_QUOTA": str(self.manual_snapshot_quota),
            "BACKUP_MAX_COPIES_IN_FLIGHT": str(self.max_copies_in_flight),
            "BACKUP_POLICIES": self.policies_json(),
            "BACKUP_MAX_EVENT_AGE_MINUTES": str(self.max_event_age_minutes),
            "BACKUP_MAX_CLOCK_SKEW_MINUTES": str(self.max_clock_skew_minutes),
            "BACKUP_DB_SSLMODE": self.db_sslmode,
        }
        if self.db_sslrootcert:
            env["BACKUP_DB_SSLROOTCERT"] = self.db_sslrootcert
        return env

    @property
    def dr_rpo_threshold_minutes(self) -> int:
        return self.dr_rpo_minutes or 2 * self.policies["database"].schedule_minutes + self.rpo_minutes


class DrillPerformanceQuery(_Strict):
    """One DRILL_PERFORMANCE_QUERIES entry (mirrors churnguard_ops.drill.performance.QuerySpec)."""

    name: Annotated[str, StringConstraints(min_length=1)]
    sql: Annotated[str, StringConstraints(min_length=1)]
    max_ms: float = Field(gt=0)


class DrillContext(_Strict):
    """Restore drills. The drilled instances and the DR region are the backup ones."""

    instance_class: DbInstanceClass = "db.t3.micro"
    rto_minutes: int = Field(default=30, ge=1)
    rpo_minutes: int = Field(default=15, ge=1)
    expiry_hours: int = Field(default=6, gt=DRILL_STATE_MACHINE_TIMEOUT_HOURS, le=168)
    schedule: ScheduleExpression = "cron(0 3 ? * SUN *)"
    # Alarm when the scheduled source has had no successful drill for this many days (weekly + slack).
    no_success_alert_days: int = Field(default=8, ge=1, le=365)
    db_secrets: dict[DbInstanceId, SecretArn] = Field(default_factory=dict)
    vpc: DrillVpc | None = None
    # Network for restores in the DR region (the source's subnet group does not exist there).
    dr_subnet_group: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9 ._-]{1,255}$")] | None = None
    dr_security_group_ids: list[SecurityGroupId] = Field(default_factory=list)
    # None: the functions' built-in defaults (the seed's checks and queries); the env var is not set.
    checks: list[DrillCheck] | None = Field(default=None, min_length=1)
    performance_queries: list[DrillPerformanceQuery] | None = Field(default=None, min_length=1)
    # TLS to the restored copies: verify the RDS certificate against the CA bundle shipped in the layer
    # (db_sslrootcert None), another CA file, or "system" (a publicly trusted server certificate).
    db_sslmode: SslMode = "verify-full"
    db_sslrootcert: Annotated[str, StringConstraints(min_length=1)] | None = None
    # The index proof: the PostgreSQL advisor's latest proposals for the drilled instance, timed on the copy
    # before and after creating each proposed index (advisory: it never fails the drill). Per proposal, up to
    # max_proof_statements statements are replayed; each index build (and ANALYZE) may take build_timeout.
    prove_indexes: bool = True
    max_index_proposals: int = Field(default=5, ge=1, le=20)
    max_proof_statements: int = Field(default=3, ge=1, le=10)
    # Below the proof function's 15-minute timeout, so a slow build is cancelled and reported, not killed.
    proof_build_timeout_seconds: int = Field(default=300, ge=1, le=600)

    @field_validator("checks")
    @classmethod
    def _checks_are_registered_with_valid_params(cls, value: list[DrillCheck] | None) -> list[DrillCheck] | None:
        # The same validation the validate function runs: a typo fails the synth, not the weekly drill.
        for index, spec in enumerate(value or []):
            try:
                CHECKS.validate(spec.check, spec.params)
            except PluginSpecError as exc:
                raise ValueError(f"checks[{index}] ({spec.check}): {exc}") from None
        return value

    @field_validator("performance_queries")
    @classmethod
    def _unique_query_names(cls, value: list[DrillPerformanceQuery] | None) -> list[DrillPerformanceQuery] | None:
        names = [q.name for q in value or []]
        if len(set(names)) != len(names):
            raise ValueError("performance query names must be unique")
        return value

    def check_permissions(self) -> set[str]:
        """IAM actions the configured checks (or the functions' default checks) declare."""
        return CHECKS.permissions(spec.check for spec in (self.checks or DEFAULT_CHECKS))

    def lambda_environment(self, backup: BackupContext) -> dict[str, str]:
        """The DRILL_* variables that do not depend on deployed resources (contract names)."""
        env = {
            "DRILL_DB_INSTANCE_IDS": json.dumps(backup.db_instance_ids),
            "DRILL_DR_REGION": backup.dr_region,
            "DRILL_INSTANCE_CLASS": self.instance_class,
            "DRILL_DB_SECRETS": json.dumps(self.db_secrets, sort_keys=True),
            "DRILL_RTO_MINUTES": str(self.rto_minutes),
            "DRILL_RPO_MINUTES": str(self.rpo_minutes),
            "DRILL_EXPIRY_HOURS": str(self.expiry_hours),
            "DRILL_DB_SSLMODE": self.db_sslmode,
            "DRILL_PROVE_INDEXES": "true" if self.prove_indexes else "false",
            "DRILL_MAX_INDEX_PROPOSALS": str(self.max_index_proposals),
            "DRILL_MAX_PROOF_STATEMENTS": str(self.max_proof_statements),
            "DRILL_PROOF_BUILD_TIMEOUT_MS": str(self.proof_build_timeout_seconds * 1000),
        }
        if self.db_sslrootcert:
            env["DRILL_DB_SSLROOTCERT"] = self.db_sslrootcert
        if self.dr_subnet_group:
            env["DRILL_DR_SUBNET_GROUP"] = self.dr_subnet_group
        if self.dr_security_group_ids:
            env["DRILL_DR_SECURITY_GROUP_IDS"] = json.dumps(self.dr_security_group_ids)
        if self.checks is not None:
            env["DRILL_CHECKS"] = json.dumps([c.model_dump(exclude_none=True) for c in self.checks],
                                             separators=(",", ":"))
        if self.performance_queries is not None:
            env["DRILL_PERFORMANCE_QUERIES"] = json.dumps(
                [q.model_dump() for q in self.performance_queries], separators=(",", ":"))
        return env


class CanaryContext(_Strict):
    """Canary releases: which functions may be released, and how long a release may run at most."""

    # Lambda functions whose aliases releases may shift and whose versions smoke tests may invoke (IAM is
    # scoped to exactly these); the embedded default deploys a sample "churnguard-api".
    functions: list[Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]] = Field(
        default_factory=lambda: ["churnguard-api"], min_length=1)
    # A release waiting on a human (approval, hold) longer than this fails, and its lock expires.
    max_release_hours: int = Field(default=24, ge=1, le=24 * 7)

    @field_validator("functions")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("entries must be unique")
        return value

    def lambda_environment(self) -> dict[str, str]:
        return {"CANARY_FUNCTIONS": json.dumps(self.functions)}


#: Who may delete our snapshots without a backup_tampering alert: the roles CloudFormation names after the
#: backup, DR and drill stacks (``<stack name>-<logical id>-<suffix>``).
DEFAULT_SNAPSHOT_DELETER_ROLES = (f"arn:aws:iam::*:role/{NAME_PREFIX}-backup-*",
                                  f"arn:aws:iam::*:role/{NAME_PREFIX}-drill-*")


class SecurityContext(_Strict):
    """Security analysis: where events come from, which detectors run, dedup, remediation, reports."""

    # Application security events: the EventBridge source and detail-types ChurnGuard publishes them under.
    app_event_source: Annotated[str, StringConstraints(min_length=1, max_length=256)] = SECURITY_APP_EVENT_SOURCE
    app_detail_types: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] = Field(
        default_factory=lambda: [SECURITY_APP_DETAIL_TYPE], min_length=1)
    # Route CloudTrail's EventBridge events (API calls, console sign-ins) to the analyzer too.
    cloudtrail: bool = True
    # None: every registered detector with its defaults; else specs {"detector": name, "params": {...}}.
    detectors: list[DetectorSpec] | None = Field(default=None, min_length=1)
    dedup_minutes: float = Field(default=60, ge=0, le=7 * 24 * 60)
    lateness_seconds: int = Field(default=900, ge=0, le=24 * 3600)
    suppressions: list[Suppression] = Field(default_factory=list)
    # SQS -> analyzer: records per invocation, how long to gather them, deliveries before the DLQ.
    batch_size: int = Field(default=100, ge=1, le=10_000)
    max_batching_window_seconds: int = Field(default=5, ge=0, le=300)
    max_receive_count: int = Field(default=5, ge=1, le=1000)
    alert_retention_days: int = Field(default=400, ge=7, le=3650)
    report_schedule: ScheduleExpression = "cron(0 6 ? * MON *)"
    sweep_schedule: ScheduleExpression = "rate(1 hour)"
    # Brute-force remediation (WAF IP set with a TTL); dry-run unless {"dry_run": false}.
    remediation: dict[str, Any] = Field(default_factory=lambda: {"dry_run": True})
    waf_scope: Literal["REGIONAL", "CLOUDFRONT"] = "REGIONAL"

    @field_validator("detectors")
    @classmethod
    def _detectors_are_registered_with_valid_params(cls, value: list[DetectorSpec] | None) -> list[DetectorSpec] | None:
        # The same construction the analyzer runs at cold start: a typo fails the synth, not the live path.
        build_detectors(value)
        return value

    @field_validator("remediation")
    @classmethod
    def _remediation_policy(cls, value: dict[str, Any]) -> dict[str, Any]:
        RemediationPolicy.model_validate(value)
        return value

    def detector_specs(self) -> list[DetectorSpec]:
        """The configured detectors, with our own roles allowed to delete our snapshots unless configured."""
        specs = self.detectors or [DetectorSpec(detector=name) for name in DEFAULT_DETECTORS]
        ours = {"backup_role_arn_patterns": list(DEFAULT_SNAPSHOT_DELETER_ROLES)}
        return [DetectorSpec(detector=s.detector, params={**ours, **s.params}) if s.detector == "backup_tampering"
                else s for s in specs]

    def remediation_policy(self) -> RemediationPolicy:
        return RemediationPolicy.model_validate(self.remediation)

    def lambda_environment(self) -> dict[str, str]:
        def compact(value: Any) -> str:
            return json.dumps(value, separators=(",", ":"))

        return {
            "SECURITY_DETECTORS": compact([s.model_dump() for s in self.detector_specs()]),
            "SECURITY_DEDUP_SECONDS": str(self.dedup_minutes * 60),
            "SECURITY_LATENESS_SECONDS": str(self.lateness_seconds),
            "SECURITY_SUPPRESSIONS": compact([s.model_dump(mode="json") for s in self.suppressions]),
            "SECURITY_ALERT_RETENTION_DAYS": str(self.alert_retention_days),
            "SECURITY_REMEDIATION": compact(self.remediation),
            "SECURITY_WAF_SCOPE": self.waf_scope,
        }


#: What every cost report reads, whatever its rules: costs, metrics, inventories, prices (all read-only).
COST_BASE_PERMISSIONS = frozenset({"ce:GetCostAndUsage", "cloudwatch:GetMetricData", "ec2:DescribeInstances",
                                   "ec2:DescribeVolumes", "rds:DescribeDBInstances", "pricing:GetProducts"})


class CostRuleSpec(_Strict):
    rule: str
    params: dict[str, Any] = Field(default_factory=dict)


class CostContext(_Strict):
    """Cost reports: when, over how long a lookback, with which rules and thresholds."""

    schedule: ScheduleExpression = "cron(0 7 ? * MON *)"
    lookback_days: int = Field(default=14, ge=1, le=63)
    # Fewer data points (hourly) than this: no recommendation for the resource, and the report says so.
    min_points: int = Field(default=30, ge=1)
    # None: every registered rule with its defaults; else {"rule": name, "params": {...}} (validated at synth).
    rules: list[CostRuleSpec] | None = Field(default=None, min_length=1)
    top: int = Field(default=10, ge=1, le=100)
    cost_metric: Literal["UnblendedCost", "AmortizedCost", "NetUnblendedCost", "BlendedCost"] = "UnblendedCost"

    @field_validator("rules")
    @classmethod
    def _rules_are_registered_with_valid_params(cls, value: list[CostRuleSpec] | None) -> list[CostRuleSpec] | None:
        for index, spec in enumerate(value or []):
            try:
                COST_RULES.validate(spec.rule, spec.params)
            except PluginSpecError as exc:
                raise ValueError(f"rules[{index}] ({spec.rule}): {exc}") from None
        return value

    def permissions(self) -> set[str]:
        names = [spec.rule for spec in self.rules] if self.rules else sorted(COST_RULES)
        return set(COST_BASE_PERMISSIONS) | COST_RULES.permissions(names)

    def lambda_environment(self) -> dict[str, str]:
        env = {"COST_LOOKBACK_DAYS": str(self.lookback_days), "COST_MIN_POINTS": str(self.min_points),
               "COST_TOP": str(self.top), "COST_COST_METRIC": self.cost_metric}
        if self.rules is not None:
            env["COST_RULES"] = json.dumps([r.model_dump() for r in self.rules], separators=(",", ":"))
        return env


class ChurnGuardContext(_Strict):
    # Fixed: the functions name and tag what they create "<NAME_PREFIX>-*" / CreatedBy=<NAME_PREFIX>
    # (churnguard_ops.core.contracts), and IAM is scoped to that; a second deployment needs that made configurable.
    prefix: Literal[NAME_PREFIX] = NAME_PREFIX  # type: ignore[valid-type]
    notification_emails: list[Email] = Field(default_factory=list)
    backup: BackupContext = Field(default_factory=BackupContext)
    drill: DrillContext = Field(default_factory=DrillContext)
    canary: CanaryContext = Field(default_factory=CanaryContext)
    security: SecurityContext = Field(default_factory=SecurityContext)
    cost: CostContext = Field(default_factory=CostContext)
    performance: PerformanceContext = Field(default_factory=PerformanceContext)
    dbadvisor: DbAdvisorContext = Field(default_factory=DbAdvisorContext)
    alarms: AlarmsContext = Field(default_factory=AlarmsContext)
    incidents: IncidentsContext = Field(default_factory=IncidentsContext)
    monitoring: MonitoringContext = Field(default_factory=MonitoringContext)
    flags: FlagsContext = Field(default_factory=FlagsContext)
    vulns: VulnsContext = Field(default_factory=VulnsContext)

    @model_validator(mode="after")
    def _drill_secrets_name_drilled_instances(self) -> ChurnGuardContext:
        unknown = set(self.drill.db_secrets) - set(self.backup.db_instance_ids)
        if unknown:
            raise ValueError(f"drill.db_secrets names {sorted(unknown)}, which are not in backup.db_instance_ids "
                             f"{self.backup.db_instance_ids} (only those may be drilled)")
        return self

    @classmethod
    def from_node(cls, scope: Construct) -> ChurnGuardContext:
        """Validate ``churnguard`` context (a dict from cdk.json, or a JSON string from ``-c``)."""
        raw = scope.node.try_get_context(CONTEXT_KEY)
        if raw is None:
            raw = {}
        if isinstance(raw, str):
            raw = json.loads(raw)
        return cls.model_validate(raw)
