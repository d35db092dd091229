"""AWS adapters of the shared document, credential, notification, event and record ports."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from churnguard_ops.core import aws
from churnguard_ops.core.errors import NotFound, Unavailable, guarded, translate


class S3Documents:
    """JSON documents in one bucket (baselines, reports, exports)."""

    def __init__(self, bucket: str, region: str | None = None) -> None:
        self.bucket = bucket
        self.region = region

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def load(self, key: str) -> dict[str, Any] | None:
        try:
            raw = guarded(f"read {self.location(key)}", aws.client("s3", self.region).get_object,
                          Bucket=self.bucket, Key=key)
        except NotFound:
            return None
        return json.loads(raw["Body"].read())

    def save(self, key: str, document: dict[str, Any]) -> str:
        body = json.dumps(document, indent=1, sort_keys=True, default=str).encode()
        guarded(f"write {self.location(key)}", aws.client("s3", self.region).put_object,
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        return self.location(key)


class S3ObjectWriter:
    """Bytes into any of our buckets; SSE-KMS with our key in the home region."""

    def __init__(self, kms_key_arn: str | None, default_region: str | None = None) -> None:
        self.kms_key_arn = kms_key_arn
        self.default_region = default_region

    def put_json(self, bucket: str, key: str, body: bytes, region: str | None = None) -> str:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body, "ContentType": "application/json"}
        if region is None and self.kms_key_arn:
            kwargs.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=self.kms_key_arn)
        # Elsewhere (the DR bucket) no header: the bucket's default CMK applies, not aws/s3.
        result = guarded(f"put s3://{bucket}/{key}", aws.client("s3", region or self.default_region).put_object,
                         **kwargs)
        return result.get("VersionId", "")


class S3ReportStore:
    """Reports in the ops bucket: text objects, SSE-KMS with the ops key when one is given."""

    def __init__(self, bucket: str, kms_key_arn: str | None, region: str | None = None) -> None:
        self.bucket = bucket
        self.kms_key_arn = kms_key_arn
        self.region = region

    def put(self, key: str, body: str, content_type: str) -> str:
        """Store ``body`` (UTF-8) under ``key``; returns its location (``s3://bucket/key``)."""
        location = f"s3://{self.bucket}/{key}"
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_arn} if self.kms_key_arn else {}
        guarded(f"write {location}", aws.client("s3", self.region).put_object, Bucket=self.bucket, Key=key,
                Body=body.encode(), ContentType=content_type, **extra)
        return location

    def link(self, key: str, expires_seconds: int) -> str:
        """Presigned with the function's own credentials: on Lambda those are temporary, so the link stops
        working when they expire (hours), whatever ``expires_seconds`` says; the S3 location stays valid."""
        return str(aws.client("s3", self.region).generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_seconds))


class SecretsManagerCredentials:
    """Database credentials from Secrets Manager. The values are returned, never logged."""

    def __init__(self, region: str | None = None) -> None:
        self.region = region

    def get(self, secret_id: str) -> dict[str, Any]:
        raw = guarded(f"read secret {secret_id}", aws.client("secretsmanager", self.region).get_secret_value,
                      SecretId=secret_id)
        return json.loads(raw["SecretString"])


class SnsNotifier:
    def __init__(self, topic_arn: str, region: str | None = None) -> None:
        self.topic_arn = topic_arn
        self.region = region

    def publish(self, subject: str, message: str) -> None:
        # SNS subjects are limited to 100 characters.
        guarded(f"publish to {self.topic_arn}", aws.client("sns", self.region).publish,
                TopicArn=self.topic_arn, Subject=subject[:100], Message=message)


class EventBridgePublisher:
    """Domain events on a bus, as ``source`` (e.g. ``churnguard.ops.backup``)."""

    def __init__(self, source: str, bus_name: str = "default", region: str | None = None) -> None:
        self.source = source
        self.bus_name = bus_name
        self.region = region

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        entry = {"Source": self.source, "DetailType": detail_type, "EventBusName": self.bus_name,
                 "Detail": json.dumps(detail, default=str, sort_keys=True)}
        what = f"put {detail_type} event"
        result = guarded(what, aws.client("events", self.region).put_events, Entries=[entry])
        if result.get("FailedEntryCount"):  # PutEvents reports per-entry failures with HTTP 200
            failure = result["Entries"][0]
            code, message = failure.get("ErrorCode", ""), failure.get("ErrorMessage", "")
            if code in _ENTRY_INTERNAL_ERRORS:  # EventBridge's own failure: worth a retry, like a 5xx
                raise Unavailable(f"{what}: {code}: {message}")
            # The same codes as a failed call, so a throttled entry is retried like a throttled request.
            raise translate(_EntryFailure(code, message), what)


_ENTRY_INTERNAL_ERRORS = {"InternalFailure", "InternalException"}


class _EntryFailure(Exception):
    """A PutEvents entry failure, shaped like a botocore ClientError so :func:`translate` maps its code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.response = {"Error": {"Code": code, "Message": message}}


class DynamoRecords:
    def __init__(self, table: str, region: str | None = None) -> None:
        self.table = table
        self.region = region

    def record(self, item: dict[str, Any]) -> None:
        from boto3.dynamodb.types import TypeSerializer

        serializer = TypeSerializer()
        clean = json.loads(json.dumps(item, default=str), parse_float=Decimal)  # DynamoDB wants Decimal
        guarded(f"record item in {self.table}", aws.client("dynamodb", self.region).put_item,
                TableName=self.table, Item={k: serializer.serialize(v) for k, v in clean.items() if v is not None})
