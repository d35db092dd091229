"""Names shared by the runtime, the CDK app and opsctl: one definition each.

IAM conditions, name-prefix scoping and the Step Functions retry rules in the CDK app match these
strings exactly, so they live here and both sides import them. Pure constants: importing this
module loads nothing else (the CDK app imports it at synth).
"""
from __future__ import annotations

#: Every resource this system creates is named ``<NAME_PREFIX>-...`` and tagged ``CreatedBy=<NAME_PREFIX>``.
NAME_PREFIX = "churnguard-ops"

# --- tags --------------------------------------------------------------------------------------
MARKER_TAG = "CreatedBy"
MARKER_VALUE = NAME_PREFIX
PURPOSE_TAG = "Purpose"
SOURCE_INSTANCE_TAG = "SourceDBInstance"
POLICY_TAG = "Policy"
SLOT_TAG = "Slot"
RETENTION_DATE_TAG = "RetentionDate"
COPIED_FROM_TAG = "CopiedFrom"
DRILL_ID_TAG = "DrillId"
EXPIRY_TAG = "Expiry"
#: ``true`` on a snapshot an operator asked for (``opsctl backup run``), not a schedule.
ON_DEMAND_TAG = "OnDemand"

#: ``Purpose`` of a scheduled backup snapshot (and its DR copy).
PURPOSE_BACKUP = "DisasterRecovery"
#: ``Purpose`` of a restore drill's temporary instance and drill snapshot.
PURPOSE_DRILL = "RestoreDrill"

#: The tags that prove a resource is ours; guarded deletes re-read them from AWS first.
OWNED_TAGS: dict[str, str] = {MARKER_TAG: MARKER_VALUE}
DRILL_TAGS: dict[str, str] = {PURPOSE_TAG: PURPOSE_DRILL, MARKER_TAG: MARKER_VALUE}

# --- names -------------------------------------------------------------------------------------
#: Backup snapshots: ``churnguard-ops-<instance>-<policy>-<slot>`` (IAM scopes RDS rights to ``<prefix>-*``).
SNAPSHOT_PREFIX = f"{NAME_PREFIX}-"
DRILL_INSTANCE_PREFIX = f"{NAME_PREFIX}-drill-"
DRILL_SNAPSHOT_PREFIX = f"{NAME_PREFIX}-dr-test-"
#: The lifecycle rule backups add to application-data buckets (replaced, never duplicated).
APP_DATA_RETENTION_RULE_ID = f"{NAME_PREFIX}-noncurrent-retention"

# --- documents in the ops bucket ---------------------------------------------------------------
CONFIGURATION_PREFIX = "configuration/"
BASELINES_PREFIX = "baselines/"
DRILL_REPORTS_PREFIX = "drills/"


def baseline_key(instance_id: str, snapshot_id: str) -> str:
    """Where backups store the row counts of ``instance_id`` taken with ``snapshot_id`` (drills read it)."""
    return f"{BASELINES_PREFIX}{instance_id}/{snapshot_id}.json"


# --- metrics and errors ------------------------------------------------------------------------
METRICS_NAMESPACE = "ChurnGuardOps"

#: Class names of :mod:`churnguard_ops.core.errors` that mean "try again later". Lambda reports an
#: exception's class name as the error, and Step Functions retries on exactly these names.
TRANSIENT_ERROR_NAMES: tuple[str, ...] = ("Throttled", "Unavailable")

# --- canary gates ------------------------------------------------------------------------------
#: Decision records of canary releases: ``canary/decisions/<function>/<alias>/<release_id>/...json``.
CANARY_DECISIONS_PREFIX = "canary/decisions/"
#: EventBridge ``source`` of canary decisions and release lifecycle events.
CANARY_EVENT_SOURCE = f"{NAME_PREFIX.replace('-', '.')}.canary"
CANARY_DECISION_DETAIL_TYPE = "Canary Decision"
#: ``detail-type`` of a release's lifecycle events, by outcome.
CANARY_RELEASE_DETAIL_TYPES: dict[str, str] = {
    "started": "Canary Release Started", "promoted": "Canary Release Promoted",
    "rolled_back": "Canary Release Rolled Back", "aborted": "Canary Release Aborted",
}
CANARY_DECISION_REQUESTED_DETAIL_TYPE = "Canary Decision Requested"
#: Errors the release state machine raises itself (Fail states) besides the tasks' own: an approval
#: arrived (it ends the approval branch that keeps judging metrics), a breach while waiting for one.
CANARY_APPROVED_ERROR = "Approved"
CANARY_REJECTED_ERROR = "Rejected"
CANARY_BREACH_WHILE_WAITING_ERROR = "BreachWhileAwaitingApproval"
#: The dimension a business metric carries the Lambda version in (overridable per release).
CANARY_VERSION_DIMENSION = "Version"
#: What the sample API publishes: one ``PredictionsServed`` per successful request, dimensions
#: ``FunctionName`` and ``Version``.
CANARY_SAMPLE_NAMESPACE = "ChurnGuard/Api"
CANARY_SAMPLE_METRIC = "PredictionsServed"
#: ``$.action`` after each canary task; the state machine's Choice states branch on exactly these.
CANARY_ACTIONS: tuple[str, ...] = ("smoke", "advance", "bake", "approve", "promote", "rollback", "hold",
                                   "aborted", "done")
#: Class names of ``churnguard_ops.canary.errors`` a state machine Catches (Lambda reports the class name).
CANARY_ERROR_NAMES: tuple[str, ...] = ("ValidationFailed", "AlarmAlreadyFiring", "ReleaseInProgress",
                                       "SmokeTestFailed", "AliasChanged", "MetricsUnavailable")

# --- security analysis ---------------------------------------------------------------------------
#: EventBridge ``source`` of security alerts (and of remediation actions); alerts carry ``Alert.line()``.
SECURITY_EVENT_SOURCE = f"{NAME_PREFIX.replace('-', '.')}.security"
SECURITY_ALERT_DETAIL_TYPE = "Security Alert"
SECURITY_REMEDIATION_DETAIL_TYPE = "Security Remediation"
#: Where ChurnGuard publishes its application security events (configurable in the CDK context).
SECURITY_APP_EVENT_SOURCE = "churnguard.app"
SECURITY_APP_DETAIL_TYPE = "Security Event"
#: Weekly per-organization reports: ``security/reports/<org>/<week>.json`` and ``.html``.
SECURITY_REPORTS_PREFIX = "security/reports/"
#: The message attribute a quarantined (malformed) record carries into the dead-letter queue.
QUARANTINE_REASON_ATTRIBUTE = "reason"

# --- cost reports ----------------------------------------------------------------------------------
#: Reports: ``cost/reports/<period start>_<run time>/report.{json,md,html}``; Cost Explorer results are
#: cached per period under ``cost/cache/`` (a second run in a period makes no Cost Explorer calls).
COST_REPORTS_PREFIX = "cost/reports/"
COST_CACHE_PREFIX = "cost/cache/"
#: The tag that marks ChurnGuard Ops' own resources (its footprint in the cost report).
OWN_COST_TAG = ("Project", NAME_PREFIX)

# --- performance ------------------------------------------------------------------------------------
PERFORMANCE_EVENT_SOURCE = f"{NAME_PREFIX.replace('-', '.')}.performance"
PERFORMANCE_ALERT_DETAIL_TYPE = "Performance Alert"
#: Reports: ``performance/reports/<window end>_<hours>h/report.{json,md}``.
PERFORMANCE_REPORTS_PREFIX = "performance/reports/"

# --- PostgreSQL advisor -----------------------------------------------------------------------------
DBADVISOR_EVENT_SOURCE = f"{NAME_PREFIX.replace('-', '.')}.dbadvisor"
#: Full advice per run: ``dbadvisor/reports/<db instance id>/<run time>/advice.{json,md}``.
DBADVISOR_REPORTS_PREFIX = "dbadvisor/reports/"
#: The latest index proposals per instance, ``dbadvisor/proposals/<db instance id>.json``: the advisor
#: writes it, the restore drill's proof stage reads it (document shape: ``INDEX_PROPOSALS_SCHEMA_VERSION``).
DBADVISOR_PROPOSALS_PREFIX = "dbadvisor/proposals/"
INDEX_PROPOSALS_SCHEMA_VERSION = 1
#: Indexes the drill creates on its copy to prove a proposal carry this name prefix (the copy is deleted anyway).
PROOF_INDEX_PREFIX = "churnguard_ops_proof_"

# --- alarms and incidents ----------------------------------------------------------------------------
#: Tags an alarm carries for routing and incidents (the seed's alert labels): severity (critical, warning, info),
#: owning team, runbook URL, and the incident group (alarms of one group within a window share an incident).
ALARM_SEVERITY_TAG = "Severity"
ALARM_TEAM_TAG = "Team"
ALARM_RUNBOOK_TAG = "Runbook"
ALARM_GROUP_TAG = "IncidentGroup"
#: ``CanaryGate=true`` on an alarm that gates canary releases: the router's default route aborts the release.
ALARM_CANARY_GATE_TAG = "CanaryGate"
ALARM_SEVERITIES = ("critical", "warning", "info")
ALARMS_EVENT_SOURCE = f"{NAME_PREFIX.replace('-', '.')}.alarms"
#: The incidents function (``<NAME_PREFIX>-incidents``) takes commands: the router's ``alarm_state_change``
#: and the operators' ``list``, ``show``, ``ack``, ``note``, ``resolve``; its schedule sends ``sweep``.
INCIDENTS_FUNCTION_SUFFIX = "incidents"
INCIDENTS_EVENT_SOURCE = f"{NAME_PREFIX.replace('-', '.')}.incidents"
#: Postmortem drafts: ``incidents/postmortems/<incident id>.md``.
INCIDENT_POSTMORTEMS_PREFIX = "incidents/postmortems/"
#: The incidents table: its index listing incidents by status, and the TTL attribute (epoch seconds) that
#: removes a resolved incident and its timeline after ``incidents.retention_days``.
INCIDENTS_STATUS_INDEX = "by-status"
INCIDENTS_TTL_ATTRIBUTE = "expires_at"
#: The application namespace the seed's alerting rules and the application dashboard read (configurable).
APP_METRICS_NAMESPACE = "ChurnGuard/Api"
#: ChurnGuard's own alarms (the seed's rules, monitoring stack) are named ``<NAME_PREFIX>-app-<Rule>[-<resource>]``,
#: e.g. ``churnguard-ops-app-HighErrorRate``, ``churnguard-ops-app-ComplianceScoreLow-org-0001``.
APP_ALARM_NAME_PREFIX = f"{NAME_PREFIX}-app-"

# --- feature flags (the flags library, the canary flag shifter, the CDK app and the embedded AWS agree) ---
#: The AppConfig application that holds every flag profile; one environment per deployment stage.
FLAGS_APPLICATION = f"{NAME_PREFIX}-flags"
#: The feature-flag configuration profile (freeform JSON in the Powertools rule schema plus our ``rollout``).
FLAGS_PROFILE = "feature-flags"
#: The deployment strategy the canary flag shifter uses: all at once, no bake (the release workflow bakes).
FLAGS_IMMEDIATE_STRATEGY = f"{NAME_PREFIX}-flags-immediate"
#: Exposure and per-cohort metrics: namespace, dimensions and metric names.
FLAGS_METRICS_NAMESPACE = "ChurnGuard/Flags"
FLAG_DIMENSION = "Flag"
FLAG_VARIANT_DIMENSION = "FlagVariant"
FLAG_EXPOSURE_METRIC = "FlagExposure"
FLAG_REQUESTS_METRIC = "FlagRequests"
FLAG_ERRORS_METRIC = "FlagErrors"
FLAG_LATENCY_METRIC = "FlagLatency"
FLAG_STORE_ERRORS_METRIC = "FlagStoreErrors"
FLAG_STALE_METRIC = "FlagStaleServes"
#: The two cohorts a rollout judges: users the rollout let in, users it kept out.
FLAG_VARIANT_ON = "on"
FLAG_VARIANT_OFF = "off"
#: A rollout bucket is in [0, FLAG_BUCKETS): 100,000 buckets, so 0.125 % is 125 of them.
FLAG_BUCKETS = 100_000
#: The canary flag shifter's "environment busy, try again" error (a Step Functions Retry matches this class name).
FLAGS_DEPLOYMENT_BUSY_ERROR = "FlagDeploymentBusy"
#: Dimensions of the store metrics (FlagStoreErrors, FlagStaleServes): the AppConfig application and environment
#: names (the flags stack alarms on FlagStoreErrors per environment with exactly these).
FLAG_APPLICATION_DIMENSION = "Application"
FLAG_ENVIRONMENT_DIMENSION = "Environment"

# --- vulnerability management (the vulns library, the CDK app, make audit and the embedded AWS agree) ---
#: Where build-time scanner reports are uploaded for the ledger (`<prefix><run id>/<source>.json`).
VULNS_BUILD_REPORTS_PREFIX = "vulns/build/"
VULNS_REPORTS_PREFIX = "vulns/reports/"
#: The sources a finding can come from (the ledger's `sources` values).
VULN_SOURCES: tuple[str, ...] = ("inspector", "pip-audit", "bandit", "cdk-nag", "cfn-lint")
#: How a finding's resource is named, whatever the source: `function:<name>`, `layer:<name>`,
#: `code:<repository path>`, `template:<stack template file>/<logical id>`.
VULN_RESOURCE_KINDS: tuple[str, ...] = ("function", "layer", "code", "template")
#: The layer every function shares, as a vulnerability resource (pip-audit audits its locked requirements).
VULN_LAYER_RESOURCE = "layer:ops"
VULNS_EVENT_SOURCE = f"{NAME_PREFIX.replace('-', '.')}.vulns"
INSPECTOR_EVENT_SOURCE = "aws.inspector2"
INSPECTOR_FINDING_DETAIL_TYPE = "Inspector2 Finding"
VULNS_METRIC_SLA_BREACHES = "VulnSlaBreaches"
VULNS_METRIC_OPEN = "VulnOpenFindings"
#: The ledger table (DynamoDB): partition key ``pk`` (``finding#<key>``, ``watermark#<source>``), and a sparse
#: index by ``state`` (hash) and ``resource`` (range) holding the findings only (watermark items have no state).
VULNS_LEDGER_KEY = "pk"
VULNS_LEDGER_STATE_INDEX = "state-resource"
VULNS_LEDGER_STATE_ATTRIBUTE = "state"
VULNS_LEDGER_RESOURCE_ATTRIBUTE = "resource"
#: Our functions, as Inspector's coverage is checked for them (Lambda ListFunctions, by name prefix).
VULNS_FUNCTION_PREFIX = f"{NAME_PREFIX}-"
#: The exceptions file (``vulnerability-exceptions.toml`` at the repository root) as the functions read it: copied
#: to this key of the ops bucket by the deployment (or ``make audit``'s upload), next to the build reports.
VULNS_EXCEPTIONS_KEY = "vulns/vulnerability-exceptions.toml"
#: Our functions Inspector does not scan (the poll's coverage gaps): an alarm on it catches the silent ones.
VULNS_METRIC_NOT_SCANNED = "VulnFunctionsNotScanned"
