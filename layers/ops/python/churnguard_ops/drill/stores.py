"""Adapters for what validation and reporting read and write: secrets, baselines, reports, history, alerts."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from churnguard_ops import aws
from churnguard_ops.errors import NotFound
from churnguard_ops.errors import guarded as _guarded


class SecretsManagerCredentials:
    """Database credentials from Secrets Manager. The values are returned, never logged."""

    def __init__(self, region: str | None = None) -> None:
        self.region = region

    def get(self, secret_id: str) -> dict[str, Any]:
        raw = _guarded(f"read secret {secret_id}", aws.client("secretsmanager", self.region).get_secret_value,
                       SecretId=secret_id)
        return json.loads(raw["SecretString"])


class S3Documents:
    """JSON documents in the backup bucket: baselines/ (written by backups) and drills/ (reports)."""

    def __init__(self, bucket: str, region: str | None = None) -> None:
        self.bucket = bucket
        self.region = region

    def baseline_key(self, instance_id: str, snapshot_id: str) -> str:
        return f"baselines/{instance_id}/{snapshot_id}.json"

    def load(self, key: str) -> dict[str, Any] | None:
        try:
            raw = _guarded(f"read s3://{self.bucket}/{key}", aws.client("s3", self.region).get_object,
                           Bucket=self.bucket, Key=key)
        except NotFound:
            return None
        return json.loads(raw["Body"].read())

    def save(self, key: str, document: dict[str, Any]) -> str:
        body = json.dumps(document, indent=1, sort_keys=True, default=str).encode()
        _guarded(f"write s3://{self.bucket}/{key}", aws.client("s3", self.region).put_object,
                 Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        return f"s3://{self.bucket}/{key}"


class DynamoHistory:
    def __init__(self, table: str, region: str | None = None) -> None:
        self.table = table
        self.region = region

    def record(self, item: dict[str, Any]) -> None:
        from boto3.dynamodb.types import TypeSerializer

        serializer = TypeSerializer()
        clean = json.loads(json.dumps(item, default=str), parse_float=Decimal)  # DynamoDB wants Decimal
        _guarded(f"record drill in {self.table}", aws.client("dynamodb", self.region).put_item,
                 TableName=self.table, Item={k: serializer.serialize(v) for k, v in clean.items() if v is not None})


class SnsAlerts:
    def __init__(self, topic_arn: str, region: str | None = None) -> None:
        self.topic_arn = topic_arn
        self.region = region

    def publish(self, subject: str, message: str) -> None:
        _guarded("publish drill summary", aws.client("sns", self.region).publish,
                 TopicArn=self.topic_arn, Subject=subject[:100], Message=message)
