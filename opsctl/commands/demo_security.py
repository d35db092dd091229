"""Demo steps of security analysis: threats caught on the live path, a dry-run block, an org report."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from churnguard_ops.core import contracts
from opsctl.commands.demo_steps import Step
from opsctl.console import write_json
from opsctl.security_local import active_blocks, app_entry, cloudtrail_entry, put_events, settle, stored_alerts

ROOT = Path(__file__).resolve().parents[2]
ATTACKER = "185.220.101.34"
FOREIGN_SHARE = ROOT / "events" / "security" / "cloudtrail" / "rds-snapshot-shared-foreign.json"
EXPECTED = {"brute_force_login", "data_exfiltration", "privilege_escalation", "snapshot_shared_externally"}


class _Run:
    """What the first step sent and saw; the later steps judge what followed from it."""

    start: datetime = datetime.now(timezone.utc)
    inbox_url: str | None = None


def _app_event(n: int, at: datetime, event_type: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"demo-{at:%Y%m%dT%H%M%S}-{n:03d}", "timestamp": at.isoformat(), "event_type": event_type,
            "severity": "medium", **fields}


def _events(start: datetime) -> list[dict[str, Any]]:
    acme = {"organization_id": "org-acme"}
    entries = [app_entry(_app_event(n, start + timedelta(seconds=20 * n), "login_failed", source_ip=ATTACKER,
                                    user_id=f"u-acme-{n}", details={"reason": "bad_password"}, **acme))
               for n in range(6)]
    entries += [app_entry(_app_event(10 + n, start + timedelta(minutes=2 + 3 * n), "data_export",
                                     source_ip="198.51.100.23", user_id="u-acme-bob",
                                     details={"export_size_mb": 12, "table": "customers"}, **acme))
                for n in range(3)]
    entries.append(app_entry(_app_event(20, start + timedelta(minutes=4), "role_changed", source_ip="198.51.100.40",
                                        user_id="u-globex-eve", organization_id="org-globex",
                                        details={"old_role": "analyst", "new_role": "super_admin"})))
    entries.append(app_entry({"event_id": "demo-malformed", "event_type": "login_failed"}))  # no timestamp
    record = json.loads(FOREIGN_SHARE.read_text())
    record["eventTime"] = (start + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    record["eventID"] = f"demo-share-{start:%Y%m%dT%H%M%S}"
    entries.append(cloudtrail_entry(record))
    return entries


def _subscribe_inbox(env: Any) -> str:
    """An SQS queue on the ops topic: what an on-call engineer's subscription would receive."""
    sqs, sns = env.aws.client("sqs"), env.aws.client("sns")
    url = sqs.create_queue(QueueName="demo-ops-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":churnguard-ops-ops"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return url


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                       AttributeNames=["All"]).get("Messages", []):
        messages += batch
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                         for i, m in enumerate(batch)])
    return messages


def threats_caught(env: Any, out: str | None) -> Step:
    step = Step("Security: app and CloudTrail events go EventBridge -> SQS -> analyzer; four threats are caught")
    env.aws.sqs_event_sources.max_batching_window_seconds = 1  # local: do not wait 5 s for a fuller batch
    env.aws.sqs_event_sources.retry_visibility_timeout_seconds = 2  # ... nor 6 minutes for a retry
    _Run.start = start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=10)
    _Run.inbox_url = _subscribe_inbox(env)
    sent = put_events(env.aws.client("events"), _events(start))
    settle(env.aws)
    table = f"{env.context.prefix}-security"
    alerts = stored_alerts(env.aws.client("dynamodb"), table)
    detectors = {a["detector"] for a in alerts}
    step.expect(f"{sent} events sent; alerts stored for {', '.join(sorted(EXPECTED))}", EXPECTED <= detectors,
                f"stored: {sorted(detectors)}")
    brute = [a for a in alerts if a["detector"] == "brute_force_login"]
    step.expect("one brute-force alert (dedup), on the attacker's IP, counting 5 failures",
                len(brute) == 1 and brute[0]["entity"] == ATTACKER and brute[0]["count"] == 5,
                f"{[(a['entity'], a['count']) for a in brute]}")
    inbox = _drain(env.aws.client("sqs"), _Run.inbox_url)
    announced = {json.loads(m["Body"].split("\n\n", 1)[1])["detector"] for m in inbox if "\n\n{" in m["Body"]}
    step.expect("every alert announced on the ops topic", EXPECTED <= announced, f"{len(inbox)} message(s)")
    published = env.aws.events.deliveries_to(f"{env.context.prefix}-security-remediate")
    step.expect("the brute-force alert published on EventBridge reached the remediation rule", len(published) >= 1,
                f"{len(published)} delivery(ies)")
    dlq_url = env.output("SecurityDlqUrl")
    quarantined = _drain(env.aws.client("sqs"), dlq_url)
    reasons = [m["MessageAttributes"][contracts.QUARANTINE_REASON_ATTRIBUTE]["StringValue"] for m in quarantined]
    step.expect("the malformed event is in the dead-letter queue with its reason",
                len(reasons) == 1 and "timestamp" in reasons[0], reasons[0][:100] if reasons else "none")
    if out:
        write_json(str(Path(out) / "security"), "alerts.json", alerts)
    return step


def dry_run_block(env: Any, out: str | None) -> Step:
    step = Step("Security: the brute-force alert becomes a dry-run WAF block, recorded and left out of the IP set")
    settle(env.aws)
    table = f"{env.context.prefix}-security"
    blocks = [b for b in active_blocks(env.aws.client("dynamodb"), table) if b["ip"] == ATTACKER]
    step.expect("a dry-run block of the attacker recorded with its expiry",
                len(blocks) == 1 and blocks[0]["dry_run"] and blocks[0]["cidr"] == f"{ATTACKER}/32",
                f"until {blocks[0]['expires_at']}" if blocks else "none")
    arn = env.output("SecurityBlockedIpSetArn")
    name, ip_set_id = arn.split("/")[-2:]
    ip_set = env.aws.client("wafv2").get_ip_set(Name=name, Scope="REGIONAL", Id=ip_set_id)["IPSet"]
    step.expect("the WAF IP set is untouched (dry-run is the default)", ip_set["Addresses"] == [],
                f"{ip_set['Addresses']}")
    if out:
        write_json(str(Path(out) / "security"), "blocks.json", blocks)
    return step


def org_report(env: Any, out: str | None) -> Step:
    step = Step("Security: the weekly per-organization report, from the stored alerts and event counts")
    week_start = (_Run.start - timedelta(days=_Run.start.weekday())).date()
    response = env.aws.client("lambda").invoke(
        FunctionName=f"{env.context.prefix}-security-report",
        Payload=json.dumps({"action": "report", "week_start": week_start.isoformat()}).encode())
    summary = json.loads(response["Payload"].read())
    step.expect("the report function ran", "FunctionError" not in response, str(summary)[:160])
    bucket = env.output("BackupBucketName")
    key = f"{contracts.SECURITY_REPORTS_PREFIX}org-acme/{week_start.isoformat()}"
    s3 = env.aws.client("s3")
    report = json.loads(s3.get_object(Bucket=bucket, Key=f"{key}.json")["Body"].read())
    html = s3.get_object(Bucket=bucket, Key=f"{key}.html")["Body"].read().decode()
    risk = report.get("risk", {})
    # One critical alert (exfiltration, x 25) and one high (brute force, x 10): 35, medium.
    step.expect("org-acme: risk 35 (1 critical x 25 + 1 high x 10), medium",
                risk.get("score") == 35 and risk.get("level") == "medium", f"{risk.get('score')} {risk.get('level')}")
    step.expect("org-acme counted 6 failed logins and 3 exports",
                report.get("summary", {}).get("failed_logins") == 6 and report["summary"].get("data_exports") == 3,
                str({k: report.get("summary", {}).get(k) for k in ("failed_logins", "data_exports")}))
    step.expect("a readable HTML page beside it", "<html" in html and "org-acme" in html, f"{len(html)} bytes")
    if out:
        write_json(str(Path(out) / "security"), "org-acme-report.json", report)
    return step


SECURITY_SCENARIOS = [threats_caught, dry_run_block, org_report]
