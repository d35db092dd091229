"""The restore-drill contract as the CDK app builds it: state names, task functions, retries, alarm window."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration

# Errors of the Lambda service itself (not of the handler) that are worth a retry. The handlers' own
# transient errors are churnguard_ops.core.contracts.TRANSIENT_ERROR_NAMES.
LAMBDA_TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]

# State names: the local runner, opsctl and the tests refer to them (contract).
STATE_PLAN = "Plan"
STATE_RECOVERY_POINT_READY = "RecoveryPointReady?"
STATE_WAIT_FOR_SNAPSHOT = "WaitForSnapshot"
STATE_POLL_SNAPSHOT = "PollSnapshot"
STATE_RESTORE = "Restore"
STATE_WAIT_FOR_INSTANCE = "WaitForInstance"
STATE_POLL_INSTANCE = "PollInstance"
STATE_INSTANCE_AVAILABLE = "InstanceAvailable?"
STATE_VALIDATE = "Validate"
STATE_MEASURE = "MeasurePerformance"
STATE_PROVE_INDEXES = "ProveIndexes"
STATE_CLEANUP = "Cleanup"
STATE_REPORT = "Report"
STATE_DRILL_PASSED = "DrillPassed?"
STATE_SUCCEEDED = "DrillSucceeded"
STATE_FAILED = "DrillFailed"

# The "no successful drill in N days" alarm (N: drill.no_success_alert_days) watches the age of the last
# success, which the freshness function emits every FRESHNESS_RATE: four values per one-hour alarm
# period, so one late or lost invocation cannot leave a period empty (missing data is breaching).
FRESHNESS_RATE = Duration.minutes(15)
NO_SUCCESS_PERIOD = Duration.hours(1)


@dataclass(frozen=True)
class DrillFunctionSpec:
    key: str  # plan, poll, ...: the physical name is <prefix>-drill-<key>
    construct_id: str
    handler: str
    description: str
    timeout: Duration
    memory_size: int = 256
    needs_database: bool = False  # opens SQL connections: runs in drill.vpc when configured
    scheduled: bool = False  # invoked asynchronously by EventBridge: DLQ + retries
    runs_checks: bool = False  # runs the integrity-check plugins: granted what they declare


FUNCTION_SPECS: tuple[DrillFunctionSpec, ...] = (
    DrillFunctionSpec("plan", "PlanFunction", "app.plan",
                      "Restore drill: pick (or take) the recovery point", Duration.minutes(1)),
    DrillFunctionSpec("poll", "PollFunction", "app.poll",
                      "Restore drill: poll snapshot / instance status", Duration.seconds(30)),
    DrillFunctionSpec("restore", "RestoreFunction", "app.restore",
                      "Restore drill: restore the recovery point to a temporary instance", Duration.minutes(1)),
    DrillFunctionSpec("validate", "ValidateFunction", "app.validate",
                      "Restore drill: integrity checks with SQL on the restored copy", Duration.minutes(10),
                      memory_size=512, needs_database=True, runs_checks=True),
    DrillFunctionSpec("measure", "MeasureFunction", "app.measure",
                      "Restore drill: time representative queries on the restored copy", Duration.minutes(10),
                      memory_size=512, needs_database=True),
    # Up to drill.max_index_proposals index builds on the copy: Lambda's longest timeout; the handler
    # starts no proposal in its last RESERVE_SECONDS.
    DrillFunctionSpec("prove", "ProveFunction", "app.prove_indexes",
                      "Restore drill: prove the advisor's index proposals on the restored copy",
                      Duration.minutes(15), memory_size=512, needs_database=True),
    DrillFunctionSpec("cleanup", "CleanupFunction", "app.cleanup",
                      "Restore drill: delete the temporary instance and drill snapshot", Duration.minutes(2)),
    DrillFunctionSpec("report", "ReportFunction", "app.report",
                      "Restore drill: S3 report, DynamoDB history, metrics, SNS summary", Duration.minutes(1)),
    DrillFunctionSpec("sweeper", "SweeperFunction", "app.sweep",
                      "Restore drill sweeper: delete expired drill instances and snapshots", Duration.minutes(5),
                      scheduled=True),
    DrillFunctionSpec("freshness", "FreshnessFunction", "app.freshness",
                      "Restore drill freshness: seconds since each source's last successful drill (EMF)",
                      Duration.minutes(1), scheduled=True),
)


