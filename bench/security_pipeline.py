"""Security analysis end to end on the embedded AWS: SQS batches -> the ``analyze`` handler, in one process.

The deployed path (our CDK stacks in moto): the analyzer's queue, its SQS event source mapping (the local poller
``opsctl.local.sqs_event_sources``: ReceiveMessage, Invoke with the batch, DeleteMessageBatch, ReportBatchItemFailures),
the ``analyze`` handler (Powertools batch processing -> Analyzer: per-organization tally, the engine with its
detector state in DynamoDB, every alert stored, published to EventBridge and announced on the ops topic).

The stream: ``--events`` application security events (default 600) over the last hour, as a live feed: mostly
login_success / login_failed across many IPs, users and organizations, some exports (a few large), a few role
changes (some to admin), a few brute-force bursts from single public IPs. Each is wrapped as EventBridge delivers it
to an SQS target (the envelope of events/security/eventbridge-app-event.json, compact JSON) and sent, in event-time
order, straight to the analyzer's queue with SendMessageBatch (10 per call).

Sending is not timed, and nothing is processed meanwhile: the mapping is disabled (UpdateEventSourceMapping)
while sending and enabled again once the queue holds every event. Timed: from enabling it until
``sqs_event_sources.drain()`` returns (the queue empty, no batch in flight), with the batching window capped at 0
(``--batching-window 1`` for 1 s; the deployed 5 s would only add waiting). That includes the analyzer's cold start
and the asynchronous remediation invocations the brute-force alerts start (they share the process). The API calls
made meanwhile are timed on the client side, to show where the time goes (Invoke includes the handler's own calls).

Baseline, measured in the same process: the same events (parsed beforehand, as the handler parses them) through
the pure engine with in-memory state, configured exactly as the deployed function (its detectors, dedup, lateness,
suppressions, read from its environment). Printed: events/s of both and their ratio (the cost of SQS + DynamoDB +
Lambda dispatch + delivery over pure detection); then the pipeline's stored alerts against the engine's, per
detector. They should be identical (same engine and dedup, state in DynamoDB instead of memory).

The embedded AWS costs more per event the more the queue and tables hold (moto's ReceiveMessage scans every message
of the queue; its TransactWriteItems, one per event for the organization tally, copies the whole table first), so the
rate falls as ``--events`` grows: compare rates at one size only. The default keeps a run within ~3 minutes on 2 cores.
No timing goal is asserted; exit 1 only if the alert sets differ or the queue did not drain.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

import botocore.client

from churnguard_ops.security.engine import Engine, build_detectors
from churnguard_ops.security.model import Event
from churnguard_ops.security.settings import SecuritySettings
from churnguard_ops.security.sources import to_events
from churnguard_ops.security.state import MemoryDetectorState
from opsctl.environment import LocalEnvironment
from opsctl.security_local import stored_alerts

DEFAULT_EVENTS = 600
SPAN_SECONDS = 3600  # the stream covers the hour before now
SEND_BATCH = 10  # SendMessageBatch takes at most 10 entries
DRAIN_TIMEOUT_SECONDS = 150.0
API_SHOWN = 8  # API operations shown, by time
ENGINE_RUNS = 5  # the engine is timed several times (fresh state each), median taken
ATTACKER_NETS = ["185.220.101", "45.155.205", "193.142.146", "89.248.165"]  # public: remediation judges them
COUNTRIES = ["DE", "DE", "DE", "FR", "FR", "NL", "AT", "US", "GB", "ES"]
AlertKey = tuple[str, str, str]  # (detector, entity, triggering event id)


# --------------------------------------------------------------------------------------
# The stream
# --------------------------------------------------------------------------------------
def app_events(count: int, end: datetime, seed: int = 42) -> list[dict[str, Any]]:
    """``count`` application security events (the app's ``SecurityEvent`` shape) over the hour before ``end``."""
    rng = random.Random(seed)
    start = end - timedelta(seconds=SPAN_SECONDS)
    orgs = [f"org-{n:02d}" for n in range(40)]
    users = [(f"u-{n:04d}", orgs[n % len(orgs)], rng.choice(COUNTRIES)) for n in range(800)]
    by_org = {org: [u for u in users if u[1] == org] for org in orgs}
    weights = [1 / (1 + n) ** 0.7 for n in range(len(users))]  # Zipf-ish: a few users are busy, most are not
    office_ip = {org: f"198.51.{n}.{rng.randrange(1, 255)}" for n, org in enumerate(orgs)}
    drafts: list[tuple[float, dict[str, Any]]] = []

    def add(t: float, event_type: str, ip: str, user: str, org: str, severity: str, **details: Any) -> None:
        drafts.append((min(t, SPAN_SECONDS - 1), {"event_type": event_type, "source_ip": ip, "user_id": user,
                                                  "organization_id": org, "severity": severity, "details": details}))

    def user_ip(org: str) -> str:  # the office, or somewhere on a mobile carrier's range
        return office_ip[org] if rng.random() < 0.6 else f"100.{rng.randrange(64, 128)}.{rng.randrange(256)}." \
                                                          f"{rng.randrange(1, 255)}"

    while len(drafts) < count:
        user, org, home = rng.choices(users, weights)[0]
        t = rng.uniform(0, SPAN_SECONDS)
        roll = rng.random()
        if roll < 0.62:
            country = home if rng.random() < 0.97 else rng.choice(COUNTRIES + ["BR", "VN"])
            add(t, "login_success", user_ip(org), user, org, "info", country=country, mfa=rng.random() < 0.8)
        elif roll < 0.86:
            add(t, "login_failed", user_ip(org), user, org, "low",
                reason=rng.choice(["bad_password", "bad_password", "mfa_timeout", "locked"]), country=home)
        elif roll < 0.87:  # a brute-force burst: 5-14 failures from one IP against one org within minutes
            attacker = f"{rng.choice(ATTACKER_NETS)}.{rng.randrange(1, 255)}"
            for i in range(rng.randrange(5, 15)):
                victim = rng.choice(by_org[org])[0]
                add(t + i * rng.uniform(3, 40), "login_failed", attacker, victim, org, "medium",
                    reason="bad_password", country=rng.choice(["RU", "CN", "BR", "VN"]))
        elif roll < 0.95:
            size = rng.choices([0.4, 1.5, 3.0, 8.0, 25.0, 140.0], [20, 30, 20, 15, 10, 1])[0]
            add(t, rng.choice(["data_export", "data_export", "report_exported", "bulk_export"]), user_ip(org), user,
                org, "medium", export_size_mb=size, table=rng.choice(["customers", "churn_predictions", "invoices"]))
        elif roll < 0.96:
            new_role = rng.choice(["viewer", "analyst", "analyst", "editor", "admin", "super_admin"])
            add(t, "role_changed", user_ip(org), user, org, "high" if "admin" in new_role else "info",
                old_role="analyst", new_role=new_role, target_user_id=rng.choice(by_org[org])[0])
        else:
            add(t, rng.choice(["password_changed", "mfa_enabled", "api_key_created", "logout"]), user_ip(org), user,
                org, "info")
    drafts = sorted(drafts[:count], key=lambda d: d[0])  # in event-time order, as they happened
    events = []
    for n, (t, draft) in enumerate(drafts):
        at = start + timedelta(seconds=round(t, 3))
        events.append({"event_id": f"bench-{at:%Y%m%d}-{n:06d}", "timestamp": at.isoformat(), **draft})
    return events


def envelope(detail: dict[str, Any], *, source: str, detail_type: str, account: str, region: str,
             rng: random.Random) -> str:
    """The SQS message body EventBridge delivers for a PutEvents entry carrying ``detail`` (compact JSON)."""
    published = datetime.fromisoformat(detail["timestamp"]) + timedelta(seconds=rng.uniform(0.05, 2.0))
    return json.dumps({"version": "0", "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                       "detail-type": detail_type, "source": source, "account": account,
                       "time": published.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region, "resources": [],
                       "detail": detail}, separators=(",", ":"))


# --------------------------------------------------------------------------------------
# The deployed path
# --------------------------------------------------------------------------------------
def deployed_settings(env: LocalEnvironment, function: str) -> SecuritySettings:
    """The analyzer's settings exactly as its handler reads them (its environment, through SecuritySettings)."""
    variables = env.aws.client("lambda").get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    with mock.patch.dict(os.environ, variables):
        return SecuritySettings()


def analyzer_mapping(env: LocalEnvironment, function: str) -> dict[str, Any]:
    mappings = env.aws.client("lambda").list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    sqs_mappings = [m for m in mappings if m["EventSourceArn"].split(":")[2] == "sqs"]
    if len(sqs_mappings) != 1:
        raise RuntimeError(f"expected one SQS event source mapping on {function}, found {len(sqs_mappings)}")
    return sqs_mappings[0]


def send(sqs: Any, url: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), SEND_BATCH):
        chunk = bodies[start:start + SEND_BATCH]
        result = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": body}
                                                               for i, body in enumerate(chunk)])
        if result.get("Failed"):
            raise RuntimeError(f"SendMessageBatch refused {len(result['Failed'])} message(s): {result['Failed'][0]}")


def queue_counts(sqs: Any, url: str) -> dict[str, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return {name: int(attributes.get(name, 0)) for name in names}


class ApiCalls:
    """Client-side time of every AWS API call made in this process while ``recording`` (any client: the poller's,
    the handlers', the remediation's). Calls overlap: Invoke includes the calls of the handler it runs."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def recording(self) -> Iterator[ApiCalls]:
        original = botocore.client.BaseClient._make_api_call

        def timed(client: Any, operation: str, params: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(client, operation, params)
            finally:
                seconds = time.perf_counter() - started
                with self._lock:
                    entry = self.calls[(client.meta.service_model.service_name, operation)]
                    entry[0] += 1
                    entry[1] += seconds

        botocore.client.BaseClient._make_api_call = timed
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original

    def top(self, count: int) -> list[tuple[str, int, float]]:
        with self._lock:
            ranked = sorted(self.calls.items(), key=lambda item: -item[1][1])[:count]
        return [(f"{service} {operation}", int(n), seconds) for (service, operation), (n, seconds) in ranked]


def alert_key(alert: dict[str, Any]) -> AlertKey:
    return (str(alert["detector"]), str(alert["entity"]), str(alert["event_id"]))


# --------------------------------------------------------------------------------------
# The baseline
# --------------------------------------------------------------------------------------
def run_engine(config: SecuritySettings, events: list[Event]) -> tuple[float, list[AlertKey]]:
    engine = Engine(build_detectors(config.detectors), MemoryDetectorState(), dedup_seconds=config.dedup_seconds,
                    suppressions=config.suppressions, lateness_seconds=config.lateness_seconds)
    started = time.perf_counter()
    alerts = [(a.detector, a.entity, a.event_id) for e in events for a in engine.process(e)]
    return time.perf_counter() - started, alerts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help=f"events sent (default {DEFAULT_EVENTS:,})")
    parser.add_argument("--batching-window", type=float, default=0.0, choices=[0.0, 1.0],
                        help="cap on the mapping's batching window, seconds (default 0)")
    args = parser.parse_args()
    if args.events < 1:
        parser.error("--events must be at least 1")
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    end = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=5)
    details = app_events(args.events, end)
    types = Counter(d["event_type"] for d in details)
    shown = ", ".join(f"{name} {n:,}" for name, n in types.most_common())
    print(f"stream: {len(details):,} app events over the last hour ({len({d['source_ip'] for d in details}):,} IPs, "
          f"{len({d['user_id'] for d in details}):,} users, {len({d['organization_id'] for d in details})} orgs): "
          f"{shown}")

    with LocalEnvironment(with_postgres=False, seed=False) as env:
        prefix = env.context.prefix
        function = f"{prefix}-security-analyze"
        config = deployed_settings(env, function)
        mapping = analyzer_mapping(env, function)
        sqs, lambda_client = env.aws.client("sqs"), env.aws.client("lambda")
        url = env.output("SecurityEventsQueueUrl")
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        security = env.context.security
        rng = random.Random(7)
        bodies = [envelope(d, source=security.app_event_source, detail_type=security.app_detail_types[0],
                           account=arn.split(":")[4], region=env.region, rng=rng) for d in details]
        sources = env.aws.sqs_event_sources
        sources.max_batching_window_seconds = args.batching_window
        api = ApiCalls()

        # Not timed: the mapping is off while the queue fills, so no batch is processed during the sending.
        lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        sources.wait_idle(30)  # a pass that listed the mapping before it was disabled has finished
        send(sqs, url, bodies)
        counts = queue_counts(sqs, url)
        if counts["ApproximateNumberOfMessages"] != len(bodies):
            raise RuntimeError(f"the queue holds {counts} after sending {len(bodies)} messages")
        before = sources.stats(mapping["UUID"])

        drained = True
        with api.recording():
            started, enabled_at = time.perf_counter(), time.time()
            lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
            try:
                sources.drain(DRAIN_TIMEOUT_SECONDS)
            except TimeoutError as exc:
                drained = False
                print(f"DRAIN TIMED OUT: {exc}")
            pipeline_seconds = time.perf_counter() - started

        after = sources.stats(mapping["UUID"])
        finished = [o.finished_at for o in sources.outcomes(mapping["UUID"]) if o.finished_at >= enabled_at]
        batch_seconds = [b - a for a, b in zip([enabled_at, *finished], finished, strict=False)]
        settle_started = time.perf_counter()
        if env.aws.lambda_dispatch is not None:  # remediation invocations the alerts started (not timed)
            env.aws.lambda_dispatch.drain(60)
        settle_seconds = time.perf_counter() - settle_started
        stored = stored_alerts(env.aws.client("dynamodb"), f"{prefix}-security")
        dlq = queue_counts(sqs, env.output("SecurityDlqUrl"))

    # The baseline: the same bodies parsed as the handler parses them (not timed), then the pure engine.
    events = [event for body in bodies for event in to_events(json.loads(body))]
    runs = [run_engine(config, events) for _ in range(ENGINE_RUNS)]
    engine_seconds = statistics.median(seconds for seconds, _ in runs)
    engine_alerts = runs[0][1]
    if any(sorted(alerts) != sorted(engine_alerts) for _, alerts in runs):
        print("note: the engine's runs disagree with each other")

    batches = after.batches - before.batches
    messages = after.messages - before.messages
    pipeline_rate = len(bodies) / pipeline_seconds
    engine_rate = len(events) / engine_seconds
    print(f"mapping: batch size {mapping['BatchSize']}, batching window {mapping['MaximumBatchingWindowInSeconds']} s "
          f"deployed, capped at {args.batching_window:g} s here; dedup {config.dedup_seconds:g} s, "
          f"lateness {config.lateness_seconds:g} s, {len(build_detectors(config.detectors))} detectors")
    print(f"pipeline: {pipeline_rate:>9,.0f} events/s end to end ({len(bodies):,} events in {pipeline_seconds:.2f} s, "
          f"mapping enabled -> drained{'' if drained else ', NOT DRAINED'})")
    print(f"          {batches} batches, mean batch {messages / batches if batches else 0:.1f} messages, "
          f"{after.item_failures - before.item_failures} item failures, "
          f"{after.failures - before.failures} whole-batch failures, "
          f"{messages - len(bodies)} redeliveries, {dlq['ApproximateNumberOfMessages']} in the DLQ; "
          f"{len(stored):,} alerts stored")
    if batch_seconds:
        print(f"          batch wall times: first {batch_seconds[0]:.2f} s (cold start), median "
              f"{statistics.median(batch_seconds):.2f} s, last {batch_seconds[-1]:.2f} s")
    print(f"          then {settle_seconds:.2f} s (not timed) for the remediation invocations still running")
    print(f"          API calls while timed (client side; Invoke includes the handler's calls), top {API_SHOWN}:")
    for name, n, seconds in api.top(API_SHOWN):
        print(f"            {name:<34} {n:>6,} calls ({n / len(bodies):5.2f}/event) {seconds:7.2f} s "
              f"({seconds / n * 1000:6.1f} ms/call)")
    print(f"engine:   {engine_rate:>9,.0f} events/s in memory ({len(events):,} events in "
          f"{engine_seconds * 1000:.1f} ms, median of {ENGINE_RUNS}; {len(engine_alerts):,} alerts)")
    print(f"ratio:    {pipeline_rate / engine_rate:>9.3g}x pipeline / engine (1 / {engine_rate / pipeline_rate:,.0f}: "
          f"~{1000 / pipeline_rate - 1000 / engine_rate:.2f} ms per event for SQS + DynamoDB + Lambda dispatch "
          f"+ delivery)")

    pipeline_set = {alert_key(a) for a in stored}
    engine_set = set(engine_alerts)
    duplicates = len(engine_alerts) - len(engine_set)
    differences = len(pipeline_set ^ engine_set)
    print("alerts, pipeline (stored in DynamoDB) vs engine (in memory):")
    for detector in sorted({k[0] for k in pipeline_set | engine_set}):
        mine = {k for k in pipeline_set if k[0] == detector}
        base = {k for k in engine_set if k[0] == detector}
        print(f"  {detector:<21} pipeline {len(mine):>5,}  engine {len(base):>5,}  differences {len(mine ^ base)}")
    for key in sorted(pipeline_set - engine_set)[:5]:
        print(f"  only in the pipeline: {key}")
    for key in sorted(engine_set - pipeline_set)[:5]:
        print(f"  only in the engine:   {key}")
    if duplicates:
        print(f"  note: the engine raised {duplicates} alert(s) twice")
    print(f"alert sets {'match' if differences == 0 else 'DIFFER'}: {differences} differences "
          f"({len(pipeline_set):,} pipeline, {len(engine_set):,} engine)")
    return 0 if differences == 0 and drained else 1


if __name__ == "__main__":
    sys.exit(main())
