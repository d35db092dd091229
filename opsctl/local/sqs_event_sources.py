"""SQS event source mappings in the embedded AWS: queues drive their Lambdas in batches, as Lambda's poller does.

What moto 5.2 does with a mapping whose source is an SQS queue: CreateEventSourceMapping stores it (Get, List,
Update and Delete answer) and attaches it to the queue object; from then on every message added to that queue
(SendMessage, SendMessageBatch, EventBridge's SQS targets, a redrive into it) is received *inside SendMessage* by
moto itself and handed to moto's own Lambda backend, which without Docker answers a canned success, so moto
deletes the messages: the in-process handler never sees them and they are gone. Its delivery is also one message
per "invocation", with made-up attributes, no BatchSize, no MaximumBatchingWindowInSeconds, no
ReportBatchItemFailures and no redrive.

``SqsEventSources`` replaces that delivery, once, for every capability:

- a middleware on CreateEventSourceMapping / UpdateEventSourceMapping lets moto store the mapping (so the whole
  public control plane keeps answering from moto) and then detaches it from moto's queue object, so moto never
  consumes a message itself; it also notes the region, which starts the poller (nothing runs while no mapping
  was ever created, so the embedded AWS pays nothing for this when unused);
- the poller (``opsctl.local.background.Repeating``: a pass every ``interval_seconds`` = 0.2 s while there is
  work; passes that find nothing space out up to 2 s, and a SendMessage / ChangeMessageVisibility seen by the
  middleware, or a caller's ``drain``, brings the next one forward) reads the mappings through the public API
  (ListEventSourceMappings: enabled ones whose source is an SQS queue), and for each one receives up to
  ``BatchSize`` messages (several ReceiveMessage calls of at most 10, WaitTimeSeconds 0), waiting up to
  ``MaximumBatchingWindowInSeconds`` for a full batch (approximately: it checks the queue's visible count at each
  tick), builds the event Lambda sends (``{"Records": [{"messageId", "receiptHandle", "body", "attributes",
  "messageAttributes", "md5OfBody", "eventSource": "aws:sqs", "eventSourceARN", "awsRegion"}]}``, FIFO attributes
  included) and invokes the function synchronously through the public Invoke API (RequestResponse), so the
  in-process handler runs through ``LambdaInvokeMiddleware`` (environment, alias routing, AWS/Lambda metrics);
- then, as Lambda does: the function failed (or could not be invoked: throttled, not found) -> every message stays
  on the queue and comes back when its visibility timeout expires; success with ``ReportBatchItemFailures`` ->
  every message is deleted except the ``batchItemFailures[].itemIdentifier`` ones (an invalid response, an empty or
  unknown identifier fails the whole batch, as on AWS); success without it -> every message is deleted;
- ``FilterCriteria`` patterns are matched with moto's EventBridge matcher against the record (a JSON body as an
  object); messages that match no filter are deleted without an invocation, as Lambda does for SQS;
- redrive: moto moves a message to the queue's dead-letter queue when it would be received more than the
  RedrivePolicy's ``maxReceiveCount`` times (on the next ReceiveMessage, as AWS does), so a message that keeps
  failing reaches the DLQ after ``maxReceiveCount`` deliveries.

Batches of one mapping are delivered one at a time (and every in-process invocation is serialized anyway), which
stays within any ``ScalingConfig.MaximumConcurrency``; the 6 MB invocation payload limit is not enforced.

Local knobs (attributes; ``None`` honours what the mapping or queue says):

- ``retry_visibility_timeout_seconds``: messages left for a retry get this visibility timeout (ChangeMessageVisibility)
  instead of the queue's, so a retry comes within seconds rather than after the queue's minutes;
- ``max_batching_window_seconds``: a cap on every mapping's batching window.

Waiting and reading what happened: ``drain(timeout)`` waits until every mapped queue is empty (visible, in flight
and delayed) and no batch is being processed; ``wait_idle(timeout)`` until no visible message waits and no batch is
being processed; ``stats()`` / ``stats(uuid)`` count batches, messages, deletions and failures; ``outcomes()`` lists
the recent batches one by one.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from .awsapi import StartResponse, WsgiApp, call_app, credential_scope, read_body
from .background import Repeating
from .lambda_runtime import DEFAULT_ACCOUNT_ID

__all__ = ["BatchOutcome", "EventSourceStats", "SqsEventSources", "SqsMapping", "sqs_record"]

_log = logging.getLogger(__name__)

_MAPPINGS_PATH = re.compile(r"^/\d{4}-\d{2}-\d{2}/event-source-mappings/?(?P<uuid>[\w-]+)?/?$")
_MAX_RECEIVE = 10  # SQS: at most 10 messages per ReceiveMessage
_BATCHES_PER_PASS = 10  # full batches of one mapping in one pass before the next mapping's turn
_MAX_IDLE_SECONDS = 2.0  # after passes that found nothing, the passes space out up to this
# Requests that may make a message visible on a mapped queue: they bring the next pass forward.
_SQS_WRITES = ("SendMessage", "SendMessageBatch", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch",
               "StartMessageMoveTask")
_RECORD_ATTRIBUTES = ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
                      "SequenceNumber", "MessageGroupId", "MessageDeduplicationId", "AWSTraceHeader",
                      "DeadLetterQueueSourceArn")


# --------------------------------------------------------------------------------------
# What the poller reads and records
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SqsMapping:
    """An enabled event source mapping whose source is an SQS queue, as ListEventSourceMappings answers it."""

    uuid: str
    region: str
    queue_arn: str
    function: str  # what Invoke is called with: the FunctionArn, or the qualified name the mapping was created with
    batch_size: int = 10
    batching_window_seconds: float = 0.0
    report_batch_item_failures: bool = False
    filters: tuple[str, ...] = ()  # FilterCriteria patterns (JSON text)

    @property
    def queue_name(self) -> str:
        return self.queue_arn.rsplit(":", 1)[-1]

    @property
    def queue_account(self) -> str:
        return self.queue_arn.split(":")[4]


@dataclass(frozen=True)
class BatchOutcome:
    """One batch taken from a queue: what was delivered, and what was left on the queue for a retry."""

    mapping_uuid: str
    queue_arn: str
    function: str
    message_ids: tuple[str, ...]  # delivered in the event, in order
    result: str  # "success" | "partial" | "function_error" | "invoke_error" | "invalid_response" | "filtered"
    retried: tuple[str, ...] = ()  # message ids left on the queue (they come back after their visibility timeout)
    filtered: tuple[str, ...] = ()  # deleted without an invocation: they matched no FilterCriteria pattern
    error: str | None = None
    finished_at: float = field(default_factory=time.time)

    @property
    def deleted(self) -> tuple[str, ...]:
        retried = set(self.retried)
        return tuple(m for m in self.message_ids if m not in retried) + self.filtered


@dataclass(frozen=True)
class EventSourceStats:
    batches: int = 0  # invocations with a batch (filtered-out batches are not invocations)
    messages: int = 0  # messages delivered in those invocations (a redelivered message counts again)
    deleted: int = 0  # messages deleted after a successful invocation (filtered ones included)
    failures: int = 0  # batches that failed as a whole: function error, invoke error, invalid response
    item_failures: int = 0  # messages a successful invocation reported in batchItemFailures
    retried: int = 0  # messages left on the queue for a retry (whole failed batches + item failures)
    filtered: int = 0  # messages deleted unseen, matching no FilterCriteria pattern

    def __add__(self, other: EventSourceStats) -> EventSourceStats:
        return EventSourceStats(*(a + b for a, b in zip(self._values(), other._values(), strict=True)))

    def _values(self) -> tuple[int, ...]:
        return (self.batches, self.messages, self.deleted, self.failures, self.item_failures, self.retried,
                self.filtered)


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """The Lambda event record for one ReceiveMessage message (with all system and message attributes)."""
    system = message.get("Attributes") or {}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {key: str(system[key]) for key in _RECORD_ATTRIBUTES if key in system},
        "messageAttributes": {name: _message_attribute(value)
                              for name, value in (message.get("MessageAttributes") or {}).items()},
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"md5OfBody": message.get("MD5OfBody", ""), "eventSource": "aws:sqs",
                   "eventSourceARN": queue_arn, "awsRegion": region})
    return record


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """ReceiveMessage's {StringValue, BinaryValue, DataType} as Lambda's event has it (binary as base64)."""
    def b64(data: Any) -> str:
        return base64.b64encode(data if isinstance(data, bytes) else str(data).encode()).decode()

    shaped: dict[str, Any] = {}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shaped["binaryValue"] = b64(value["BinaryValue"])
    shaped["stringListValues"] = list(value.get("StringListValues") or [])
    shaped["binaryListValues"] = [b64(v) for v in value.get("BinaryListValues") or []]
    shaped["dataType"] = value.get("DataType", "String")
    return shaped


# --------------------------------------------------------------------------------------
# The poller
# --------------------------------------------------------------------------------------
class SqsEventSources:
    """Delivers SQS messages to the functions of the event source mappings (see the module docstring)."""

    def __init__(self, endpoint_url: Callable[[], str], *, account_id: str = DEFAULT_ACCOUNT_ID,
                 interval_seconds: float = 0.2) -> None:
        self.account_id = account_id
        self.interval_seconds = interval_seconds
        # Local knobs: None honours the queue's visibility timeout / the mapping's batching window.
        self.retry_visibility_timeout_seconds: int | None = None
        self.max_batching_window_seconds: float | None = None
        self._endpoint_url = endpoint_url
        self._session: Any = None  # one boto3 session for every client here: a client then builds in ~50 ms
        self._client_cache: dict[tuple[str, str], Any] = {}
        self._regions: set[str] = set()  # where mappings were created: the only regions polled
        self._targets: dict[str, str] = {}  # uuid -> qualified function the mapping was created with (an alias)
        self._queue_urls: dict[str, str] = {}  # queue ARN -> URL
        self._pending_since: dict[str, float] = {}  # uuid -> when a partial batch was first seen (batching window)
        self._stats: dict[str, EventSourceStats] = {}
        self._outcomes: deque[BatchOutcome] = deque(maxlen=10_000)
        self._lock = threading.Lock()  # the fields above
        self._pass_lock = threading.Lock()  # one pass at a time (the loop, or a caller's drain without the loop)
        self._enabled = False
        self._stopping = threading.Event()
        self._idle_seconds = interval_seconds  # grows while passes find nothing; a send resets it
        self._next_pass = 0.0  # time.monotonic() before which the loop's ticks skip their pass
        self._nudges = 0  # counts nudges: one that came during a pass is not lost when the pass ends
        self._loop = Repeating("sqs-event-sources", self._tick)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> SqsEventSources:
        """Allow the background loop; it starts with the first mapping created (a quiet embedded AWS runs nothing)."""
        self._enabled = True
        self._stopping.clear()
        if self._regions:
            self._loop.start(self.interval_seconds)
        return self

    def stop(self) -> None:
        """Stop the loop (a batch being delivered finishes first) and forget the clients of this server."""
        self._enabled = False
        self._stopping.set()
        self._loop.stop()
        with self._lock:
            self._client_cache.clear()  # they point at this server's port
            self._queue_urls.clear()

    def clear(self) -> None:
        """Forget mappings' regions, statistics and outcomes (the embedded AWS was reset)."""
        with self._pass_lock, self._lock:
            self._regions.clear()
            self._targets.clear()
            self._queue_urls.clear()
            self._pending_since.clear()
            self._stats.clear()
            self._outcomes.clear()

    @property
    def running(self) -> bool:
        """Whether the background loop runs (it starts with the first mapping created)."""
        return self._loop.running

    def watch(self, region: str) -> None:
        """Poll ``region``'s mappings (done by itself when a mapping is created through the API)."""
        with self._lock:
            self._regions.add(region)
        if self._enabled:
            self._loop.start(self.interval_seconds)

    def nudge(self) -> None:
        """Poll at the next tick (a message was sent): idle passes space out, a send brings them back."""
        self._idle_seconds = self.interval_seconds
        self._next_pass = 0.0
        self._nudges += 1

    def _tick(self) -> None:
        """The loop's work: a pass every tick while there is work, spaced out up to 2 s while there is none."""
        if time.monotonic() < self._next_pass:
            return
        nudges = self._nudges
        delivered = self.poll()
        with self._lock:
            waiting = bool(self._pending_since)  # a partial batch waits for its batching window
        if delivered or waiting or self._nudges != nudges:
            self._idle_seconds = self.interval_seconds
        else:
            self._idle_seconds = min(self._idle_seconds * 2, _MAX_IDLE_SECONDS)
        self._next_pass = time.monotonic() + self._idle_seconds - self.interval_seconds

    # -- the control plane: let moto store the mapping, never deliver ------------------------
    def wrap(self, app: WsgiApp) -> WsgiApp:
        def middleware(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            if self._regions and _is_sqs_write(environ):
                self.nudge()
            match = _MAPPINGS_PATH.match(environ.get("PATH_INFO", ""))
            method = environ.get("REQUEST_METHOD")
            if match is None or method not in ("POST", "PUT", "DELETE"):
                return app(environ, start_response)
            region = credential_scope(environ).region or "us-east-1"
            try:
                requested = json.loads(read_body(environ) or b"{}")
            except ValueError:
                requested = {}
            response = call_app(app, environ)
            if response.code < 300:
                self._control_plane(region, method, match["uuid"], requested, response.body)
            return response.replay(start_response)

        return middleware

    def _control_plane(self, region: str, method: str | None, uuid: str | None, requested: Any, body: bytes) -> None:
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            answer = {}
        uuid = uuid or (answer.get("UUID") if isinstance(answer, dict) else None)
        if not uuid:
            return
        if method == "DELETE":
            with self._lock:
                self._targets.pop(uuid, None)
                self._pending_since.pop(uuid, None)
            return
        function = requested.get("FunctionName") if isinstance(requested, dict) else None
        if isinstance(function, str):
            with self._lock:
                # moto resolves an alias to the version it points at; Lambda keeps invoking the alias.
                if _qualifier(function) not in (None, "$LATEST"):
                    self._targets[uuid] = function
                else:
                    self._targets.pop(uuid, None)
        self.detach_moto_delivery(region)
        self.watch(region)
        self.nudge()

    def detach_moto_delivery(self, region: str) -> None:
        """Take the SQS mappings off moto's queue objects, so moto never receives (and deletes) messages itself.

        No public API does this; the mapping stays in moto's Lambda backend, where the control plane reads it.
        The dict is replaced, not emptied: a SendMessage iterating the old one meanwhile is not disturbed.
        """
        from moto.sqs.models import sqs_backends

        for queue in list(sqs_backends[self.account_id][region].queues.values()):
            if getattr(queue, "lambda_event_source_mappings", None):
                queue.lambda_event_source_mappings = {}

    # -- reading the mappings --------------------------------------------------------------
    def mappings(self, region: str | None = None) -> list[SqsMapping]:
        """The enabled SQS mappings of the watched regions (or of ``region``), through ListEventSourceMappings."""
        with self._lock:
            regions = [region] if region else sorted(self._regions)
            targets = dict(self._targets)
        found = []
        for name in regions:
            paginator = self._client("lambda", name).get_paginator("list_event_source_mappings")
            for page in paginator.paginate():
                for esm in page.get("EventSourceMappings", []):
                    source = esm.get("EventSourceArn", "")
                    if esm.get("State") != "Enabled" or source.split(":")[2:3] != ["sqs"]:
                        continue
                    found.append(SqsMapping(
                        uuid=esm["UUID"], region=name, queue_arn=source,
                        function=targets.get(esm["UUID"], esm["FunctionArn"]),
                        batch_size=int(esm.get("BatchSize") or 10),
                        batching_window_seconds=float(esm.get("MaximumBatchingWindowInSeconds") or 0),
                        report_batch_item_failures="ReportBatchItemFailures" in (esm.get("FunctionResponseTypes")
                                                                                 or []),
                        filters=tuple(str(f.get("Pattern", "")) for f in
                                      (esm.get("FilterCriteria") or {}).get("Filters") or []),
                    ))
        return found

    # -- one pass ----------------------------------------------------------------------------
    def poll(self) -> list[BatchOutcome]:
        """One pass over every mapping: deliver what is ready (up to a few full batches each); return the batches."""
        with self._pass_lock:
            with self._lock:
                regions = sorted(self._regions)
            if not regions:
                return []
            done: list[BatchOutcome] = []
            for region in regions:
                self.detach_moto_delivery(region)  # mappings created without the middleware (moto internals)
            mappings = self.mappings()
            with self._lock:  # a mapping disabled or deleted meanwhile waits for no batching window
                live = {m.uuid for m in mappings}
                self._pending_since = {k: v for k, v in self._pending_since.items() if k in live}
            for mapping in mappings:
                for _ in range(_BATCHES_PER_PASS):
                    if self._stopping.is_set():
                        return done
                    try:
                        outcome, full = self._take_batch(mapping)
                    except Exception as exc:  # noqa: BLE001 - a queue deleted under its mapping, a server stopping
                        _log.debug("mapping %s: %s", mapping.uuid, exc, exc_info=True)
                        break
                    if outcome is not None:
                        done.append(outcome)
                    if not full:
                        break
            return done

    def _take_batch(self, mapping: SqsMapping) -> tuple[BatchOutcome | None, bool]:
        """Deliver one batch of ``mapping`` if one is ready; (outcome, whether the batch was full)."""
        sqs = self._client("sqs", mapping.region)
        url = self._queue_url(sqs, mapping)
        window = mapping.batching_window_seconds
        if self.max_batching_window_seconds is not None:
            window = min(window, self.max_batching_window_seconds)
        if window > 0:
            visible = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                          ["Attributes"].get("ApproximateNumberOfMessages", 0))
            with self._lock:
                if visible == 0:
                    self._pending_since.pop(mapping.uuid, None)
                    return None, False
                since = self._pending_since.setdefault(mapping.uuid, time.monotonic())
            if visible < mapping.batch_size and time.monotonic() - since < window:
                return None, False  # wait for more messages, up to the window
        messages = self._receive(sqs, url, mapping.batch_size)
        with self._lock:
            self._pending_since.pop(mapping.uuid, None)
        if not messages:
            return None, False
        full = len(messages) >= mapping.batch_size
        records = [sqs_record(m, mapping.queue_arn, mapping.region) for m in messages]
        filtered: list[dict[str, Any]] = []
        if mapping.filters:
            kept = [r for r in records if _matches(mapping.filters, r)]
            filtered = [r for r in records if r not in kept]
            self._delete(sqs, url, filtered)
            records = kept
        if not records:
            return self._record(mapping, BatchOutcome(
                mapping.uuid, mapping.queue_arn, mapping.function, (), "filtered",
                filtered=tuple(r["messageId"] for r in filtered))), full
        result, failed_ids, error = self._invoke(mapping, records)
        retry = [r for r in records if r["messageId"] in failed_ids]
        self._delete(sqs, url, [r for r in records if r["messageId"] not in failed_ids])
        if retry and self.retry_visibility_timeout_seconds is not None:
            self._change_visibility(sqs, url, retry, int(self.retry_visibility_timeout_seconds))
        return self._record(mapping, BatchOutcome(
            mapping.uuid, mapping.queue_arn, mapping.function, tuple(r["messageId"] for r in records), result,
            retried=tuple(r["messageId"] for r in retry), filtered=tuple(r["messageId"] for r in filtered),
            error=error)), full

    def _receive(self, sqs: Any, url: str, batch_size: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        seen: set[str] = set()
        while len(messages) < batch_size:
            received = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=min(_MAX_RECEIVE, batch_size - len(messages)), WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
            fresh = [m for m in received if m["MessageId"] not in seen]  # a queue with VisibilityTimeout 0
            if not fresh:
                break
            seen.update(m["MessageId"] for m in fresh)
            messages.extend(fresh)
        return messages

    def _invoke(self, mapping: SqsMapping, records: Sequence[Mapping[str, Any]]) -> tuple[str, set[str], str | None]:
        """Invoke the function with the batch; (result, ids to retry, error)."""
        from botocore.exceptions import BotoCoreError, ClientError

        ids = [str(r["messageId"]) for r in records]
        try:
            response = self._client("lambda", mapping.region).invoke(
                FunctionName=mapping.function, InvocationType="RequestResponse",
                Payload=json.dumps({"Records": list(records)}).encode())
            raw = response["Payload"].read()
        except (ClientError, BotoCoreError) as exc:  # throttled, not found, an injected fault, a timeout
            return "invoke_error", set(ids), str(exc)
        if response.get("FunctionError"):
            return "function_error", set(ids), raw.decode(errors="replace")[:2000]
        if not mapping.report_batch_item_failures:
            return "success", set(), None
        failed, problem = _batch_item_failures(raw, ids)
        if problem is not None:
            return "invalid_response", set(ids), problem
        return ("partial" if failed else "success"), failed, None

    def _record(self, mapping: SqsMapping, outcome: BatchOutcome) -> BatchOutcome:
        invoked = outcome.result != "filtered"
        whole_failure = outcome.result in ("function_error", "invoke_error", "invalid_response")
        delta = EventSourceStats(
            batches=int(invoked), messages=len(outcome.message_ids),
            deleted=len(outcome.message_ids) - len(outcome.retried) + len(outcome.filtered),
            failures=int(whole_failure), item_failures=len(outcome.retried) if outcome.result == "partial" else 0,
            retried=len(outcome.retried), filtered=len(outcome.filtered))
        with self._lock:
            self._stats[mapping.uuid] = self._stats.get(mapping.uuid, EventSourceStats()) + delta
            self._outcomes.append(outcome)
        return outcome

    # -- SQS helpers -----------------------------------------------------------------------
    def _queue_url(self, sqs: Any, mapping: SqsMapping) -> str:
        with self._lock:
            url = self._queue_urls.get(mapping.queue_arn)
        if url is None:
            url = sqs.get_queue_url(QueueName=mapping.queue_name,
                                    QueueOwnerAWSAccountId=mapping.queue_account)["QueueUrl"]
            with self._lock:
                self._queue_urls[mapping.queue_arn] = url
        return str(url)

    @staticmethod
    def _delete(sqs: Any, url: str, records: Sequence[Mapping[str, Any]]) -> None:
        for start in range(0, len(records), _MAX_RECEIVE):
            chunk = records[start:start + _MAX_RECEIVE]
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)])

    @staticmethod
    def _change_visibility(sqs: Any, url: str, records: Sequence[Mapping[str, Any]], seconds: int) -> None:
        for start in range(0, len(records), _MAX_RECEIVE):
            chunk = records[start:start + _MAX_RECEIVE]
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": seconds}
                for i, r in enumerate(chunk)])

    def _client(self, service: str, region: str) -> Any:
        """A client of this embedded AWS with explicit dummy credentials (handlers overlay os.environ meanwhile).

        Lambda's makes one attempt and waits as long as a function may run: a retried Invoke would deliver the
        batch twice.
        """
        with self._lock:
            client = self._client_cache.get((service, region))
            if client is None:
                import boto3
                from botocore.config import Config

                if self._session is None:
                    self._session = boto3.session.Session()
                config = (Config(read_timeout=960, connect_timeout=10, retries={"total_max_attempts": 1})
                          if service == "lambda" else Config(retries={"max_attempts": 2, "mode": "standard"}))
                client = self._session.client(service, region_name=region, endpoint_url=self._endpoint_url(),
                                              aws_access_key_id="testing", aws_secret_access_key="testing",
                                              config=config)
                self._client_cache[(service, region)] = client
        return client

    # -- waiting and reading -----------------------------------------------------------------
    def drain(self, timeout_seconds: float = 30.0) -> EventSourceStats:
        """Wait until every mapped queue is empty (no visible, in-flight or delayed message) and no batch is being
        delivered; return the statistics. Raises ``TimeoutError`` naming the queues still holding messages.

        Without the background loop (the embedded AWS not started with it), the caller's thread polls.
        """
        return self._wait(timeout_seconds, ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                            "ApproximateNumberOfMessagesDelayed"))

    def wait_idle(self, timeout_seconds: float = 30.0) -> bool:
        """Wait until no mapped queue has a visible message and no batch is being delivered (messages waiting out
        their visibility timeout for a retry may remain). False when ``timeout_seconds`` passed first."""
        try:
            self._wait(timeout_seconds, ("ApproximateNumberOfMessages",))
        except TimeoutError:
            return False
        return True

    def _wait(self, timeout_seconds: float, counted: tuple[str, ...]) -> EventSourceStats:
        deadline = time.monotonic() + timeout_seconds
        holding: dict[str, str] = {}
        while True:
            self.nudge()  # a caller waiting: poll at every tick, not at the idle spacing
            if not self._loop.running:
                self.poll()
            if not self._pass_lock.locked():
                holding = self._holding(counted)
                # idle only when no pass ran across the count either (it may have taken visible messages)
                if not holding and not self._pass_lock.locked():
                    return self.stats()
            if time.monotonic() >= deadline:
                shown = ", ".join(f"{name} ({counts})" for name, counts in sorted(holding.items()))
                raise TimeoutError(f"SQS event sources not drained after {timeout_seconds} s: "
                                   f"{shown or 'a batch is still being delivered'}")
            time.sleep(min(0.05, self.interval_seconds))

    def _holding(self, counted: tuple[str, ...]) -> dict[str, str]:
        """Queue name -> message counts, for every mapped queue that still holds messages."""
        holding = {}
        for mapping in self.mappings():
            sqs = self._client("sqs", mapping.region)
            attributes = sqs.get_queue_attributes(QueueUrl=self._queue_url(sqs, mapping),
                                                  AttributeNames=list(counted))["Attributes"]
            counts = {name: int(attributes.get(name, 0)) for name in counted}
            if any(counts.values()):
                holding[mapping.queue_name] = ", ".join(
                    f"{name.removeprefix('ApproximateNumberOfMessages') or 'Visible'} {n}"
                    for name, n in counts.items())
        return holding

    def stats(self, uuid: str | None = None) -> EventSourceStats:
        """Counts for one mapping (its UUID), or summed over all of them."""
        with self._lock:
            if uuid is not None:
                return self._stats.get(uuid, EventSourceStats())
            return sum(self._stats.values(), EventSourceStats())

    def outcomes(self, uuid: str | None = None) -> list[BatchOutcome]:
        """The recent batches (the last 10,000), oldest first; of one mapping when ``uuid`` is given."""
        with self._lock:
            return [o for o in self._outcomes if uuid is None or o.mapping_uuid == uuid]


def _is_sqs_write(environ: dict[str, Any]) -> bool:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.startswith("AmazonSQS.") and target[len("AmazonSQS."):] in _SQS_WRITES
    if environ.get("REQUEST_METHOD") == "POST" and environ.get("CONTENT_TYPE", "").startswith(
            "application/x-www-form-urlencoded"):  # the query protocol (older clients)
        action = parse_qs(read_body(environ).decode(errors="replace")).get("Action", [""])[0]
        return action in _SQS_WRITES
    return False


def _qualifier(function: str) -> str | None:
    """``name:q`` or ``arn:aws:lambda:region:account:function:name:q`` -> q (None when unqualified)."""
    parts = function.split(":")
    if function.startswith("arn:"):
        return parts[7] if len(parts) > 7 else None
    if len(parts) >= 3 and parts[1] == "function":  # 123456789012:function:name[:q]
        return parts[3] if len(parts) > 3 else None
    return parts[1] if len(parts) == 2 else None


def _batch_item_failures(raw: bytes, ids: Sequence[str]) -> tuple[set[str], str | None]:
    """The message ids a ReportBatchItemFailures response names, or a reason the whole batch failed.

    As Lambda reads it: null, ``{}``, no or an empty ``batchItemFailures`` -> complete success; anything but a JSON
    object, or an identifier that is missing, empty or not in the batch -> complete failure.
    """
    try:
        response = json.loads(raw) if raw.strip() else None
    except ValueError:
        return set(), "the function's response is not JSON"
    if response is None:
        return set(), None
    if not isinstance(response, dict):
        return set(), "the function's response is not a JSON object with batchItemFailures"
    failures = response.get("batchItemFailures")
    if not failures:
        return set(), None
    if not isinstance(failures, list):
        return set(), "batchItemFailures is not a list"
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or not identifier or identifier not in ids:
            return set(), f"batchItemFailures names an unknown itemIdentifier: {identifier!r}"
        failed.add(identifier)
    return failed, None


def _matches(patterns: Sequence[str], record: Mapping[str, Any]) -> bool:
    """FilterCriteria: a record passes when any pattern matches it (a JSON body is matched as an object)."""
    from moto.events.models import EventPattern  # moto's EventBridge matcher, used as a library

    subject = dict(record)
    try:
        subject["body"] = json.loads(record["body"])
    except (ValueError, TypeError):
        pass
    for pattern in patterns:
        try:
            if EventPattern.load(pattern).matches_event(subject):  # type: ignore[arg-type]
                return True
        except Exception:  # noqa: BLE001 - a pattern moto cannot read matches nothing
            _log.warning("unreadable FilterCriteria pattern %r", pattern)
    return False
