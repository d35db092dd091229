"""Demo steps of alarm-driven automation and incident response.

Alarms change state with SetAlarmState (as AWS itself says to test alarm actions); the embedded AWS emits the
"CloudWatch Alarm State Change" event and delivers it through the synthesized rule to the real router, which
acts through the real incidents and backup functions.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import boto3

from churnguard_ops.core.contracts import (
    ALARM_GROUP_TAG,
    ALARM_RUNBOOK_TAG,
    ALARM_SEVERITY_TAG,
    ALARM_TEAM_TAG,
    APP_ALARM_NAME_PREFIX,
    INCIDENT_POSTMORTEMS_PREFIX,
)
from opsctl.commands.demo_steps import Step
from opsctl.console import write_json

T = TypeVar("T")

#: Two of the seed's rules in one incident group (the monitoring stack creates them; created here with the same
#: tags only where it is not deployed).
FIRST = (f"{APP_ALARM_NAME_PREFIX}HighErrorRate", "critical", "ErrorRate")
SECOND = (f"{APP_ALARM_NAME_PREFIX}HighResponseTime", "warning", "Latency")
GROUP = "api"
DB = "churnguard-prod"


class _Demo:
    """What the three steps share: the queue on the critical topic, the incident they follow."""

    queue_url: str | None = None
    incident_id: str | None = None


_state = _Demo()


def _until(probe: Callable[[], T], seconds: float = 30.0) -> T:
    """``probe()`` once it is truthy, or its last value after ``seconds`` (the router runs asynchronously)."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.3)


def _ensure_alarm(region: str, name: str, severity: str, metric: str) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=region)
    if cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]:
        return
    rule = name.removeprefix(APP_ALARM_NAME_PREFIX)
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="ChurnGuard/Api", MetricName=metric, Statistic="Average", Period=60,
        EvaluationPeriods=5, Threshold=5.0, ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
        Dimensions=[{"Name": "Service", "Value": "churnguard-api"}],
        Tags=[{"Key": ALARM_SEVERITY_TAG, "Value": severity}, {"Key": ALARM_TEAM_TAG, "Value": "platform"},
              {"Key": ALARM_RUNBOOK_TAG, "Value": f"https://runbooks.churnguard.example/alerts/{rule}"},
              {"Key": ALARM_GROUP_TAG, "Value": GROUP}])


def _tags(region: str, name: str) -> dict[str, str]:
    cloudwatch = boto3.client("cloudwatch", region_name=region)
    arn = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
    return {t["Key"]: t["Value"] for t in cloudwatch.list_tags_for_resource(ResourceARN=arn).get("Tags", [])}


def _set(env: Any, name: str, state: str, reason: str) -> None:
    """Change the alarm's state, then wait for the router (and what it started asynchronously) to finish:
    a line printed while a local function runs would land in that function's log."""
    boto3.client("cloudwatch", region_name=env.region).set_alarm_state(AlarmName=name, StateValue=state,
                                                                       StateReason=reason)
    env.aws.lambda_dispatch.drain(45.0)


def _topic_queue(env: Any, severity: str) -> str:
    sns, sqs = boto3.client("sns", region_name=env.region), boto3.client("sqs", region_name=env.region)
    wanted = f":{env.context.prefix}-alerts-{severity}"
    topic = next(t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]
                 if t["TopicArn"].endswith(wanted))
    url = sqs.create_queue(QueueName=f"demo-alerts-{severity}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "false"})
    return url


def _messages(region: str, url: str) -> list[dict[str, Any]]:
    got = boto3.client("sqs", region_name=region).receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                                  WaitTimeSeconds=0).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


def _incidents(env: Any, status: str = "all") -> list[dict[str, Any]]:
    from opsctl.commands.incident import call

    return list(call(env.function_name("incidents"), {"command": "list", "status": status}).get("incidents", []))


def _holding(env: Any, alarm: str) -> dict[str, Any] | None:
    return next((i for i in _incidents(env, "active") if alarm in {a["name"] for a in i.get("alarms", [])}), None)


def _save(out: str | None, name: str, document: Any) -> None:
    if out:
        write_json(str(Path(out) / "alarms"), f"{name}.json", document)


def application_alarm(env: Any, out: str | None) -> Step:
    step = Step("Alarms: an application alarm fires: notified on the critical topic, an incident opens; "
                "a second alarm of its group attaches to it")
    region = env.region
    for name, severity, metric in (FIRST, SECOND):
        _ensure_alarm(region, name, severity, metric)
    _state.queue_url = _topic_queue(env, "critical")
    _set(env, FIRST[0], "ALARM", "Threshold Crossed: 5 datapoints [7.2, 6.9, 8.1, 7.7, 9.0] were greater than "
                                    "the threshold (5.0) (opsctl demo)")
    messages = _until(lambda: _messages(region, str(_state.queue_url)))
    subjects = [m.get("Subject", "") for m in messages]
    step.expect("notification on the critical topic", f"[CRITICAL] {FIRST[0]} is ALARM" in subjects,
                "; ".join(subjects) or "no message")
    body = messages[0].get("Message", "") if messages else ""
    runbook = _tags(region, FIRST[0]).get(ALARM_RUNBOOK_TAG, "")
    step.expect("it carries the alarm's runbook URL and reason",
                bool(runbook) and runbook in body and "Threshold Crossed" in body, runbook)
    opened = _until(lambda: _holding(env, FIRST[0]))
    _state.incident_id = opened["incident_id"] if opened else None
    step.expect("an incident is open for it", opened is not None and opened["status"] == "open",
                f"{_state.incident_id} ({opened['severity']}, group {opened.get('group')})" if opened else "none")

    _set(env, SECOND[0], "ALARM", "Threshold Crossed: p95 latency 2400 ms > 2000 ms (opsctl demo)")
    attached = _until(lambda: _holding(env, SECOND[0]))
    step.expect("the second alarm of the group attaches to the same incident",
                attached is not None and attached["incident_id"] == _state.incident_id,
                f"{attached['incident_id']}: {[a['name'] for a in attached['alarms']]}" if attached else "none")
    active = [i for i in _incidents(env, "active") if i.get("group") == GROUP]
    step.expect("one active incident for the group", len(active) == 1, f"{len(active)} active")
    timeline = _until(lambda: _recorded_notify(env))
    step.expect("its timeline records the router's notification", bool(timeline), timeline or "nothing recorded")
    _save(out, "incident-opened", {"incident": attached, "notifications": messages})
    return step


def _recorded_notify(env: Any) -> str:
    from opsctl.commands.incident import call

    if not _state.incident_id:
        return ""
    shown = call(env.function_name("incidents"), {"command": "show", "incident_id": _state.incident_id})
    return next((str(e.get("detail")) for e in shown.get("timeline", []) if "notify" in str(e.get("detail"))), "")


def restorable_lag_backup(env: Any, out: str | None) -> Step:
    step = Step("Alarms: the backup restorable-lag alarm takes an on-demand snapshot of churnguard-prod now")
    region, prefix = env.region, env.context.prefix
    rds = boto3.client("rds", region_name=region)

    def snapshots() -> set[str]:
        pages = rds.get_paginator("describe_db_snapshots").paginate(DBInstanceIdentifier=DB, SnapshotType="manual")
        return {s["DBSnapshotIdentifier"] for page in pages for s in page["DBSnapshots"]}

    # Start from OK: the embedded alarms are evaluated while a canary release runs, and with no probe on a
    # schedule locally the lag alarm's missing data is breaching, so it may already be in ALARM (no change then).
    _set(env, f"{prefix}-backup-restorable-lag-{DB}", "OK", "lag under the RPO (opsctl demo)")
    before = snapshots()
    _set(env, f"{prefix}-backup-restorable-lag-{DB}", "ALARM",
         "Threshold Crossed: 2 out of the last 3 datapoints [1260.0, 960.0] were greater than the threshold (900.0) "
         "(opsctl demo)")
    new = _until(lambda: snapshots() - before, seconds=45)
    step.expect("a new manual snapshot of churnguard-prod appears", bool(new), ", ".join(sorted(new)) or "none")
    tags = {t["Key"]: t["Value"] for s in new for t in rds.describe_db_snapshots(
        DBSnapshotIdentifier=s)["DBSnapshots"][0].get("TagList", [])}
    step.expect("tagged as on demand (not a scheduled slot)", tags.get("OnDemand") == "true", str(tags)[:160])
    _set(env, f"{prefix}-backup-restorable-lag-{DB}", "OK", "lag back under the RPO (opsctl demo)")
    _save(out, "on-demand-backup", {"snapshots": sorted(new), "tags": tags})
    return step


def alarms_clear(env: Any, out: str | None) -> Step:
    from opsctl.commands.incident import call, list_lines

    step = Step("Alarms: the alarms clear, the incident resolves itself and its postmortem draft is written")
    region, incidents = env.region, env.function_name("incidents")
    for name, _, _ in (FIRST, SECOND):
        _set(env, name, "OK", "Threshold Crossed: back under the threshold (opsctl demo)")

    def all_ok() -> bool:
        shown = call(incidents, {"command": "show", "incident_id": _state.incident_id})
        return all(a["state"] == "OK" for a in shown["incident"].get("alarms", []))

    step.expect("the incident sees both alarms OK", bool(_state.incident_id) and _until(all_ok))
    call(incidents, {"command": "sweep"})  # what its schedule sends; locally auto_resolve_minutes is 0
    shown = call(incidents, {"command": "show", "incident_id": _state.incident_id})
    step.expect("resolved by itself", shown["incident"]["status"] == "resolved",
                f"{_state.incident_id}: {shown['incident']['status']}")
    bucket = env.output("BackupBucketName")
    key = f"{INCIDENT_POSTMORTEMS_PREFIX}{_state.incident_id}.md"
    try:
        draft = boto3.client("s3", region_name=region).get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except Exception as exc:  # noqa: BLE001 - reported as the failed expectation
        draft = f"missing: {exc}"
    step.expect("postmortem draft in S3", draft.lstrip().startswith("#") and FIRST[0] in draft, f"s3://{bucket}/{key}")
    lines = list_lines(incidents, "resolved")
    print("\n".join(f"    {line}" for line in lines))
    step.expect("opsctl incident list --status resolved shows it", any(str(_state.incident_id) in ln for ln in lines))
    _save(out, "incident-resolved", {"incident": shown, "postmortem_key": key})
    return step


ALARMS_SCENARIOS: list[Callable[..., Step]] = [application_alarm, restorable_lag_backup, alarms_clear]
