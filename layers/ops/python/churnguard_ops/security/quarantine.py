"""The dead-letter queue as a quarantine: a malformed record goes there with its reason."""
from __future__ import annotations

from churnguard_ops.core import aws, contracts
from churnguard_ops.core.errors import guarded

#: SQS message bodies are at most 256 KiB; a record larger than what fits is cut (and says so).
MAX_BODY_BYTES = 250_000


class SqsQuarantine:
    def __init__(self, queue_url: str, region: str | None = None) -> None:
        self.queue_url = queue_url
        self.region = region

    def send(self, body: str, reason: str, source_message_id: str) -> None:
        truncated = len(body.encode()) > MAX_BODY_BYTES
        if truncated:
            body = body.encode()[:MAX_BODY_BYTES].decode(errors="ignore")
        attributes = {
            contracts.QUARANTINE_REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason or "unknown"},
            "source_message_id": {"DataType": "String", "StringValue": source_message_id or "-"},
        }
        if truncated:
            attributes["truncated"] = {"DataType": "String", "StringValue": "true"}
        guarded(f"quarantine record {source_message_id}", aws.client("sqs", self.region).send_message,
                QueueUrl=self.queue_url, MessageBody=body or "(empty)", MessageAttributes=attributes)
