"""Demo steps for scheduled backups: a full tick of every policy, a duplicate tick, a throttled instance."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import boto3

from churnguard_ops.backup import naming
from opsctl.commands.backup import POLICIES, RETRY_NOTE, run_policy
from opsctl.commands.demo_steps import Step
from opsctl.console import progress


def _manual_snapshots(region: str) -> dict[str, dict[str, Any]]:
    pages = boto3.client("rds", region_name=region).get_paginator("describe_db_snapshots").paginate(
        SnapshotType="manual")
    return {s["DBSnapshotIdentifier"]: s for page in pages for s in page["DBSnapshots"]}


def _scheduled_backups(env: Any, out: str | None) -> Step:
    step = Step("Scheduled backups: snapshot, DR copy, prune, config export, app-data protection")
    name = env.function_name("backup")
    now = datetime.now(timezone.utc)
    results = {policy: run_policy(name, policy, when=now) for policy in POLICIES}
    for policy, result in results.items():
        step.expect(f"{policy} tick succeeded", result.ok, "" if result.ok else str(result.payload))
    backup, world = env.context.backup, env.world
    primary, dr = _manual_snapshots(env.region), _manual_snapshots(backup.dr_region)
    slot = now.replace(minute=0, second=0, microsecond=0)
    for instance in backup.db_instance_ids:
        snapshot_id = naming.snapshot_id(instance, "database", slot)
        step.expect(f"snapshot of {instance} for this hour", snapshot_id in primary, snapshot_id)
        copy = dr.get(snapshot_id)
        step.expect(f"encrypted copy in {backup.dr_region}", bool(copy and copy.get("Encrypted")), snapshot_id)
    step.expect("expired snapshot of ours pruned", world.expired_snapshot not in primary, world.expired_snapshot)
    step.expect("foreign snapshot left alone", world.foreign_snapshot in primary, world.foreign_snapshot)
    config = results["configuration"]
    exports = [o for o in (config.payload or {}).get("outcomes", []) if o["action"] == "export"]
    for export in exports:
        region = backup.dr_region if export["data"]["bucket"] != exports[0]["data"]["bucket"] else env.region
        body = boto3.client("s3", region_name=region).get_object(
            Bucket=export["data"]["bucket"], Key=export["data"]["key"])["Body"].read()
        leaked = [v for v in world.secure_values if v.encode() in body]
        step.expect(f"config export in s3://{export['data']['bucket']} holds no plaintext secret",
                    not leaked and export["data"]["parameters"] > 0,
                    f"{export['data']['parameters']} parameters, key {export['data']['key']}")
    step.expect("config exported to primary and DR buckets", len(exports) == 2)
    s3 = boto3.client("s3", region_name=env.region)
    for bucket in backup.app_data_buckets:
        step.expect(f"s3://{bucket} versioned", s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled")
    return step


def _duplicate_tick(env: Any, out: str | None) -> Step:
    step = Step("Idempotency: the same scheduled event delivered twice")
    name = env.function_name("backup")
    # The previous hour's slot: a late delivery EventBridge may still make (a future one would be refused).
    when = datetime.now(timezone.utc) - timedelta(hours=1)
    before = len(_manual_snapshots(env.region))
    first, second = run_policy(name, "database", when=when), run_policy(name, "database", when=when)
    created = len(_manual_snapshots(env.region)) - before
    instances = env.context.backup.db_instance_ids
    step.expect("both deliveries succeed", first.ok and second.ok)
    step.expect("one new snapshot per instance, not two", created == len(instances), f"{created} created")
    statuses = {o["status"] for o in (second.payload or {}).get("outcomes", []) if o["action"] == "snapshot"}
    step.expect("second delivery reports 'exists'", statuses == {"exists"}, str(statuses))
    return step


def _throttled_instance(env: Any, out: str | None) -> Step:
    from opsctl.local.faults import Fault

    step = Step("Fault isolation: RDS throttles one instance; the others succeed; the retry completes")
    name = env.function_name("backup")
    instances = env.context.backup.db_instance_ids
    victim = instances[0]
    when = datetime.now(timezone.utc) - timedelta(hours=2)  # a slot of its own, still inside the retry window
    env.aws.faults.add(Fault(operation="rds:CreateDBSnapshot", parameter=f"DBInstanceIdentifier={victim}"))
    progress(f"injecting Throttling on rds:CreateDBSnapshot for {victim}; {RETRY_NOTE}")
    injected = env.aws.faults.injected
    before = len(injected)
    try:
        failed = run_policy(name, "database", when=when,
                            waiting=lambda: f"{len(injected) - before} throttled attempt(s) so far")
    finally:
        env.aws.faults.clear()
    progress(f"{len(injected) - before} throttled attempt(s) answered (the client's retries, then the tick failed)")
    slot = when.replace(minute=0, second=0, microsecond=0)
    made = _manual_snapshots(env.region)
    ids = {i: naming.snapshot_id(i, "database", slot) for i in instances}
    message = (failed.payload or {}).get("errorMessage", "")
    step.expect("invocation fails so Lambda retries and the DLQ apply", not failed.ok)
    step.expect("failure names the throttled instance", f"{victim} (snapshot)" in message and "Throttling" in message)
    step.expect("other instances were still snapshotted", all(ids[i] in made for i in instances[1:]),
                ", ".join(instances[1:]) or "(only one instance configured)")
    retry = run_policy(name, "database", when=when)  # Lambda's async retry redelivers the same event
    step.expect("redelivered event completes the throttled instance",
                retry.ok and ids[victim] in _manual_snapshots(env.region))
    return step


BACKUP_SCENARIOS = [_scheduled_backups, _duplicate_tick, _throttled_instance]
