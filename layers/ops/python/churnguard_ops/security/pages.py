"""HTML pages in the ops bucket (the weekly reports' readable form)."""
from __future__ import annotations

from churnguard_ops.core import aws
from churnguard_ops.core.errors import guarded


class S3HtmlPages:
    def __init__(self, bucket: str, region: str | None = None) -> None:
        self.bucket = bucket
        self.region = region

    def put_html(self, key: str, html: str) -> str:
        location = f"s3://{self.bucket}/{key}"
        guarded(f"write {location}", aws.client("s3", self.region).put_object, Bucket=self.bucket, Key=key,
                Body=html.encode(), ContentType="text/html; charset=utf-8")
        return location
