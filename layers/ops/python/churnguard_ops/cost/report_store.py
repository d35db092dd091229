"""Where reports go: objects in the ops bucket (SSE-KMS with the ops key), and a presigned link to one."""
from __future__ import annotations

from typing import Protocol

from churnguard_ops.core import aws
from churnguard_ops.core.errors import guarded


class ReportStore(Protocol):
    def put(self, key: str, body: str, content_type: str) -> str:
        """Store ``body`` (UTF-8) under ``key``; returns its location (``s3://bucket/key``)."""
        ...

    def link(self, key: str, expires_seconds: int) -> str:
        """A URL that opens the object for ``expires_seconds`` at most (see ``S3ReportStore.link``)."""
        ...


class S3ReportStore:
    def __init__(self, bucket: str, kms_key_arn: str | None, region: str | None = None) -> None:
        self.bucket = bucket
        self.kms_key_arn = kms_key_arn
        self.region = region

    def put(self, key: str, body: str, content_type: str) -> str:
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
