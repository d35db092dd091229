"""The typed view of cdk.json's ``churnguard`` context."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from infra_cdk.paths import CDK_JSON
from infra_cdk.settings import SEED_POLICIES, ChurnGuardContext

pytestmark = pytest.mark.infra

CONTRACT = {
    "prefix": "churnguard-ops",
    "notification_emails": [],
    "backup": {
        "db_instance_ids": ["churnguard-prod"],
        "dr_region": "us-west-2",
        "dr_kms_key_alias": "alias/churnguard-ops-dr",
        "app_data_buckets": ["churnguard-app-data"],
        "ssm_paths": ["/churnguard/"],
        "keep_latest": 3,
        "manual_snapshot_quota": 100,
        "max_copies_in_flight": 5,
        "rpo_minutes": 15,
        "probe_minutes": 5,  # the recoverability probe: restorable lag at least every RPO
        "dr_rpo_minutes": None,  # None: two database schedules + rpo_minutes
        "max_event_age_minutes": 180,
        "max_clock_skew_minutes": 5,
        "db_sslmode": "verify-full",  # row-count baselines read the source over TLS, as drills read the copy
        "db_sslrootcert": None,  # None: the RDS CA bundle shipped in the layer
        "policies": {
            "database": {"schedule_minutes": 60, "retention_days": 30, "encrypted": True, "cross_region": True},
            "application_data": {"schedule_minutes": 1440, "retention_days": 90, "encrypted": True,
                                 "cross_region": False},
            "configuration": {"schedule_minutes": 1440, "retention_days": 365, "encrypted": True, "cross_region": True},
        },
    },
    "drill": {
        "instance_class": "db.t3.micro",
        "rto_minutes": 30,
        "rpo_minutes": 15,
        "expiry_hours": 6,
        "schedule": "cron(0 3 ? * SUN *)",
        "no_success_alert_days": 8,
        "db_secrets": {},
        "vpc": None,
        "dr_subnet_group": None,
        "dr_security_group_ids": [],
        "checks": None,  # None: the functions' seed checks / queries
        "performance_queries": None,
        "db_sslmode": "verify-full",
        "db_sslrootcert": None,  # None: the RDS CA bundle shipped in the layer
        "prove_indexes": True, "max_index_proposals": 5, "max_proof_statements": 3,
        "proof_build_timeout_seconds": 300,
    },
    "canary": {"functions": ["churnguard-api"], "max_release_hours": 24},
    "security": {
        "app_event_source": "churnguard.app", "app_detail_types": ["Security Event"], "cloudtrail": True,
        "detectors": None,  # None: every registered detector with its defaults
        "dedup_minutes": 60, "lateness_seconds": 900, "suppressions": [],
        "batch_size": 100, "max_batching_window_seconds": 5, "max_receive_count": 5, "alert_retention_days": 400,
        "report_schedule": "cron(0 6 ? * MON *)", "sweep_schedule": "rate(1 hour)",
        "remediation": {"dry_run": True},  # blocks are recorded, the WAF IP set is left alone
        "waf_scope": "REGIONAL",
    },
    "cost": {"schedule": "cron(0 7 ? * MON *)", "lookback_days": 14, "min_points": 30, "rules": None, "top": 10,
             "cost_metric": "UnblendedCost"},
    "performance": {
        "check_schedule": "rate(5 minutes)", "report_schedule": "cron(30 6 * * ? *)", "report_hours": 24,
        "check_period_seconds": 300, "check_periods": 3, "report_period_seconds": 3600,
        "targets": {"api": {"type": "apigateway", "name": "churnguard-api", "stage": None},
                    "functions": ["churnguard-api", "churnguard-worker"], "queues": ["churnguard-scoring"],
                    "databases": ["churnguard-prod"]},
        # The seed's CPU 80 %, memory 85 %, response time (p99) 2,000 ms and queue depth 100; the rest are ours.
        "thresholds": {"api_latency_p95": 1000.0, "api_latency_p99": 2000.0, "api_5xx_rate": 1.0,
                       "lambda_duration_p95": 3000.0, "lambda_errors": 1.0, "lambda_throttles": 1.0,
                       "lambda_concurrency": 800.0, "sqs_depth": 100.0, "sqs_age": 300.0, "rds_cpu": 80.0,
                       "rds_memory": 85.0, "rds_connections": 200.0},
        "rules": None, "alert_state_ttl_days": 7,
    },
    "dbadvisor": {
        "schedule": "cron(0 5 ? * SUN *)", "db_secrets": {}, "databases": {}, "vpc": None,
        "db_sslmode": "verify-full", "db_sslrootcert": None, "statement_timeout_ms": 30000, "analyze_stale": False,
        "thresholds": {"slow_query_ms": 100.0, "top_statements": 10, "min_table_rows": 5000,
                       "min_rows_per_seq_scan": 1000, "max_column_selectivity": 0.3, "max_index_selectivity": 0.05,
                       "unused_min_stats_days": 7.0, "stale_fraction": 0.2, "stale_min_rows": 1000,
                       "bloat_fraction": 0.3, "bloat_min_bytes": 10485760, "wraparound_used_fraction": 0.5,
                       "connections_fraction": 0.8, "cache_hit_min": 0.95, "cache_hit_min_blocks": 10000},
    },
    "alarms": {"routes": [{"name": "backup-restorable-lag",
                           "match": {"names": ["*-backup-restorable-lag-*"], "tags": {}, "states": None},
                           "actions": [{"action": "start_backup", "params": {}, "states": None},
                                       {"action": "notify", "params": {}, "states": None}],
                           "severity": "critical",
                           "team": "platform",
                           "runbook_url": None,
                           "group": "backups"},
                          {"name": "canary-gates",
                           "match": {"names": [], "tags": {"CanaryGate": "true"}, "states": None},
                           "actions": [{"action": "abort_release", "params": {}, "states": None},
                                       {"action": "notify", "params": {}, "states": None}],
                           "severity": None,
                           "team": None,
                           "runbook_url": None,
                           "group": None},
                          {"name": "application",
                           "match": {"names": ["churnguard-*"], "tags": {"Severity": "*"}, "states": None},
                           "actions": [{"action": "notify", "params": {}, "states": None},
                                       {"action": "open_incident", "params": {}, "states": None}],
                           "severity": None,
                           "team": None,
                           "runbook_url": None,
                           "group": None}],
               "idempotency_hours": 24,
               "max_event_age_minutes": 60},
    "incidents": {"sweep_schedule": "rate(1 minute)", "group_window_minutes": 15,
                  "escalate_after_minutes": {"critical": 5, "warning": 30, "info": None},
                  "auto_resolve_minutes": 10, "retention_days": 90},
    "monitoring": {
        "app": {"namespace": "ChurnGuard/Api", "dimensions": {"Service": "churnguard-api"}, "requests": "Count",
                "server_errors": "5XXError", "latency": "Latency", "predictions": "PredictionsServed",
                "gdpr_overdue": "GDPRRequestsOverdue", "compliance_score": "ComplianceScore",
                "organization_dimension": "Organization"},
        "organizations": ["org-0001", "org-0002", "org-0003"], "db_instance_id": "churnguard-prod",
        "functions": ["churnguard-api", "churnguard-worker"],
        "runbook_base_url": "https://runbooks.churnguard.example/alerts/",
        "thresholds": {"error_rate_percent": 5.0, "latency_p95_ms": 2000.0, "db_connections": 80.0,
                       "gdpr_overdue": 0.0, "compliance_score": 80.0, "rds_cpu_percent": 80.0,
                       "lambda_errors": 0.0, "lambda_throttles": 0.0},
    },
    # The seed's two flags: the new dashboard for a sticky 10 % of users, analytics for the paying tiers.
    "flags": {
        "environments": ["production"], "evaluation_environment": "production", "cache_seconds": 45,
        "max_stale_seconds": 3600, "exposure_sample_rate": 0.1,
        "flags": {
            "new_dashboard_ui": {
                "default": False, "description": "The redesigned dashboard",
                "rollout": {"percentage": 10, "value": True, "attribute": "user_id", "salt": "new_dashboard_ui"},
                "kill_switch": False},
            "advanced_analytics": {
                "default": False,
                "rules": {"professional and enterprise tiers": {
                    "when_match": True,
                    "conditions": [{"action": "IN", "key": "subscription_tier",
                                    "value": ["professional", "enterprise"]}]}}},
        },
    },
    # Vulnerability management: Inspector polled every 6 hours, the weekly report on Mondays, CISA/DefectDojo SLAs.
    "vulns": {
        "poll_schedule": "rate(6 hours)", "report_schedule": "cron(0 8 ? * MON *)",
        "sla_days": {"critical": 15, "high": 30, "medium": 90, "low": 120}, "expiring_within_days": 14,
        "overlap_seconds": 300,
    },
}
# cdk.json drills (and backs up) both ChurnGuard databases; everything else is the default.
CDK_JSON_CONTEXT = {
    **CONTRACT,
    "backup": {**CONTRACT["backup"], "db_instance_ids": ["churnguard-prod", "churnguard-analytics"]},
}


def test_cdk_json_carries_the_contract_context_and_runs_the_app_module():
    cdk_json = json.loads(CDK_JSON.read_text())
    assert cdk_json["app"] == "python3 -m infra_cdk.app"
    assert cdk_json["context"]["churnguard"] == CDK_JSON_CONTEXT
    assert ChurnGuardContext.model_validate(cdk_json["context"]["churnguard"]).model_dump() == CDK_JSON_CONTEXT


def test_defaults_equal_the_contract():
    assert ChurnGuardContext().model_dump() == CONTRACT
    assert SEED_POLICIES == CONTRACT["backup"]["policies"]


def test_partial_policy_override_merges_onto_seed():
    ctx = ChurnGuardContext.model_validate({"backup": {"policies": {"database": {"schedule_minutes": 30}}}})
    assert ctx.backup.policies["database"].schedule_minutes == 30
    assert ctx.backup.policies["database"].retention_days == 30
    assert set(ctx.backup.policies) == set(SEED_POLICIES)


def test_context_given_as_json_string_is_accepted():
    class _Node:
        def try_get_context(self, key):
            assert key == "churnguard"
            return json.dumps({"backup": {"rpo_minutes": 5}})

    class _Scope:
        node = _Node()

    assert ChurnGuardContext.from_node(_Scope()).backup.rpo_minutes == 5


@pytest.mark.parametrize("bad", [
    {"backup": {"policies": {"weekly": {"schedule_minutes": 60}}}},
    {"backup": {"db_instance_ids": []}},
    {"backup": {"db_instance_ids": ["bad--id"]}},
    {"backup": {"db_instance_ids": ["1starts-with-digit"]}},
    {"backup": {"dr_region": "mars"}},
    {"backup": {"dr_kms_key_alias": "churnguard-ops-dr"}},
    {"backup": {"ssm_paths": ["/"]}},
    {"backup": {"ssm_paths": ["churnguard"]}},
    {"backup": {"rpo_minutes": 0}},
    {"backup": {"policies": {"database": {"schedule_minutes": 0}}}},
    {"notification_emails": ["not-an-address"]},
    {"backup": {"unknown_key": 1}},
    {"drill": {"unknown_key": 1}},
    {"drill": {"schedule": "every sunday"}},
    {"drill": {"schedule": "cron(0 3 * *)"}},
    {"drill": {"instance_class": "t3.micro"}},
    {"drill": {"expiry_hours": 4}},  # not longer than the 4 h state machine timeout: sweeper vs running drill
    {"drill": {"rto_minutes": 0}},
    {"drill": {"max_index_proposals": 0}},
    {"drill": {"max_proof_statements": 11}},
    {"drill": {"proof_build_timeout_seconds": 900}},  # beyond the proof function's 15-minute timeout
    {"drill": {"prove_indexes": "sometimes"}},
    {"drill": {"no_success_alert_days": 0}},
    {"drill": {"db_secrets": {"churnguard-other": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf"}}},
    {"drill": {"db_secrets": {"churnguard-prod": "churnguard/prod"}}},
    {"drill": {"vpc": {"vpc_id": "vpc-01234567", "subnet_ids": [], "security_group_ids": ["sg-01234567"]}}},
    {"drill": {"vpc": {"vpc_id": "vpc-01234567", "subnet_ids": ["subnet-01234567"], "security_group_ids": []}}},
    {"drill": {"vpc": {"vpc_id": "my-vpc", "subnet_ids": ["subnet-01234567"], "security_group_ids": ["sg-01234567"]}}},
    {"drill": {"checks": []}},
    {"drill": {"checks": [{"check": "row_counts_vs_baseline", "unknown": 1}]}},
    {"drill": {"performance_queries": [{"name": "q", "sql": "SELECT 1", "max_ms": 0}]}},
    {"drill": {"performance_queries": [{"name": "q", "sql": "SELECT 1", "max_ms": 1},
                                       {"name": "q", "sql": "SELECT 2", "max_ms": 1}]}},
])
def test_invalid_context_is_rejected(bad):
    with pytest.raises(ValidationError):
        ChurnGuardContext.model_validate(bad)


def test_drill_environment_carries_the_contract_variables():
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:churnguard/prod-AbCdEf"
    ctx = ChurnGuardContext.model_validate({"drill": {"db_secrets": {"churnguard-prod": secret}}})
    env = ctx.drill.lambda_environment(ctx.backup)
    assert env == {
        "DRILL_DB_INSTANCE_IDS": '["churnguard-prod"]',
        "DRILL_DR_REGION": "us-west-2",
        "DRILL_INSTANCE_CLASS": "db.t3.micro",
        "DRILL_DB_SECRETS": json.dumps({"churnguard-prod": secret}),
        "DRILL_RTO_MINUTES": "30",
        "DRILL_RPO_MINUTES": "15",
        "DRILL_EXPIRY_HOURS": "6",
        "DRILL_DB_SSLMODE": "verify-full",  # against the RDS CA bundle in the layer (DRILL_DB_SSLROOTCERT unset)
        "DRILL_PROVE_INDEXES": "true", "DRILL_MAX_INDEX_PROPOSALS": "5", "DRILL_MAX_PROOF_STATEMENTS": "3",
        "DRILL_PROOF_BUILD_TIMEOUT_MS": "300000",
    }


def test_drill_database_tls_settings_are_passed_when_given():
    ctx = ChurnGuardContext.model_validate({"drill": {"db_sslmode": "verify-ca",
                                                      "db_sslrootcert": "/opt/python/corp-ca.pem"}})
    env = ctx.drill.lambda_environment(ctx.backup)
    assert (env["DRILL_DB_SSLMODE"], env["DRILL_DB_SSLROOTCERT"]) == ("verify-ca", "/opt/python/corp-ca.pem")
    with pytest.raises(ValidationError):
        ChurnGuardContext.model_validate({"drill": {"db_sslmode": "verify_full"}})


def test_backup_database_tls_defaults_to_verify_full_and_passes_a_given_root_certificate():
    env = ChurnGuardContext().backup.lambda_environment()
    assert env["BACKUP_DB_SSLMODE"] == "verify-full" and "BACKUP_DB_SSLROOTCERT" not in env  # the layer's bundle
    ctx = ChurnGuardContext.model_validate({"backup": {"db_sslmode": "verify-ca",
                                                       "db_sslrootcert": "/opt/python/corp-ca.pem"}})
    env = ctx.backup.lambda_environment()
    assert (env["BACKUP_DB_SSLMODE"], env["BACKUP_DB_SSLROOTCERT"]) == ("verify-ca", "/opt/python/corp-ca.pem")
    with pytest.raises(ValidationError):
        ChurnGuardContext.model_validate({"backup": {"db_sslmode": "verify_full"}})


def test_local_context_disables_tls_for_backups_and_drills_alone():
    from opsctl.environment import local_context

    local = ChurnGuardContext.model_validate(local_context("us-east-1")["churnguard"])
    assert (local.backup.db_sslmode, local.drill.db_sslmode) == ("disable", "disable")  # embedded PostgreSQL
    assert local.backup.model_dump(exclude={"db_sslmode"}) == \
        ChurnGuardContext.model_validate(CDK_JSON_CONTEXT).backup.model_dump(exclude={"db_sslmode"})


def test_drill_checks_and_queries_are_passed_when_given():
    ctx = ChurnGuardContext.model_validate({"drill": {
        "checks": [{"check": "amcheck", "statement_timeout_ms": 60000}, {"check": "row_counts_vs_baseline"}],
        "performance_queries": [{"name": "q", "sql": "SELECT 1", "max_ms": 50}],
    }})
    env = ctx.drill.lambda_environment(ctx.backup)
    assert json.loads(env["DRILL_CHECKS"]) == [
        {"check": "amcheck", "params": {}, "statement_timeout_ms": 60000},
        {"check": "row_counts_vs_baseline", "params": {}}]
    assert json.loads(env["DRILL_PERFORMANCE_QUERIES"]) == [{"name": "q", "sql": "SELECT 1", "max_ms": 50.0}]


@pytest.mark.parametrize("schedule", ["cron(0 3 ? * SUN *)", "cron(15 2 ? * MON-FRI *)", "rate(7 days)",
                                      "rate(1 day)"])
def test_drill_schedule_accepts_eventbridge_expressions(schedule):
    assert ChurnGuardContext.model_validate({"drill": {"schedule": schedule}}).drill.schedule == schedule


# --- drill checks are validated against the check registry at synth ---------------------------

def test_a_misspelt_check_fails_naming_the_check_and_the_known_ones():
    with pytest.raises(ValidationError, match=r"checks\[1\] \(row_count_vs_baseline\): unknown check "
                                              r"'row_count_vs_baseline'; known checks: .*row_counts_vs_baseline"):
        ChurnGuardContext.model_validate({"drill": {"checks": [{"check": "amcheck"},
                                                               {"check": "row_count_vs_baseline"}]}})


@pytest.mark.parametrize(("params", "field"), [
    ({"tolerance_pct": -1}, "tolerance_pct"),  # out of bounds
    ({"tolerance_percent": 1}, "tolerance_percent"),  # not a parameter of this check
])
def test_bad_check_params_fail_naming_the_check_and_the_field(params, field):
    with pytest.raises(ValidationError, match=rf"checks\[0\] \(row_counts_vs_baseline\): invalid params for "
                                              rf"row_counts_vs_baseline: {field}: "):
        ChurnGuardContext.model_validate({"drill": {"checks": [{"check": "row_counts_vs_baseline",
                                                                "params": params}]}})


def test_the_seed_checks_pass_as_configuration():
    from churnguard_ops.drill.checks import DEFAULT_CHECKS

    seed = [spec.model_dump(exclude_none=True) for spec in DEFAULT_CHECKS]
    ctx = ChurnGuardContext.model_validate({"drill": {"checks": seed}})
    assert json.loads(ctx.drill.lambda_environment(ctx.backup)["DRILL_CHECKS"]) == seed


def test_drill_checks_are_the_runtime_spec_model():
    from churnguard_ops.drill.checks import CheckSpec

    ctx = ChurnGuardContext.model_validate({"drill": {"checks": [{"check": "amcheck"}]}})
    assert ctx.drill.checks is not None and all(isinstance(c, CheckSpec) for c in ctx.drill.checks)


# --- security detectors and remediation are validated against the runtime's models at synth ------

def test_a_misspelt_detector_fails_naming_the_known_ones():
    with pytest.raises(ValidationError, match=r"unknown detector 'brute_force'; known detectors: .*brute_force_login"):
        ChurnGuardContext.model_validate({"security": {"detectors": [{"detector": "brute_force"}]}})


def test_bad_detector_params_fail_naming_the_field():
    with pytest.raises(ValidationError, match=r"snapshot_share_allowlist"):
        ChurnGuardContext.model_validate({"security": {"detectors": [
            {"detector": "snapshot_shared_externally", "params": {"snapshot_share_allowlist": ["not-an-account"]}}]}})


def test_a_bad_remediation_policy_fails_naming_the_field():
    with pytest.raises(ValidationError, match=r"ttl_minutes"):
        ChurnGuardContext.model_validate({"security": {"remediation": {"ttl_minutes": 1}}})


def test_configured_backup_tampering_keeps_our_roles_unless_it_names_its_own():
    own = ChurnGuardContext.model_validate({"security": {"detectors": [
        {"detector": "backup_tampering", "params": {"protected_buckets": ["churnguard-prod-data"]}}]}})
    (spec,) = own.security.detector_specs()
    assert spec.params["protected_buckets"] == ["churnguard-prod-data"]
    assert spec.params["backup_role_arn_patterns"] == ["arn:aws:iam::*:role/churnguard-ops-backup-*",
                                                       "arn:aws:iam::*:role/churnguard-ops-drill-*"]
    custom = ChurnGuardContext.model_validate({"security": {"detectors": [
        {"detector": "backup_tampering", "params": {"backup_role_arn_patterns": ["arn:aws:iam::*:role/ours"]}}]}})
    assert custom.security.detector_specs()[0].params["backup_role_arn_patterns"] == ["arn:aws:iam::*:role/ours"]
