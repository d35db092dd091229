"""AWS adapters of the vulnerability ports: reports and the exceptions file in the ops bucket.

The sources and the ledger have modules of their own: :mod:`.adapters_inspector` (Inspector2 findings and
coverage), :mod:`.adapters_ledger` (the DynamoDB ledger and its watermarks), :mod:`.adapters_build` (build
reports in S3).
"""
from __future__ import annotations

from datetime import date

from churnguard_ops.core import aws, contracts
from churnguard_ops.core.errors import NotFound, guarded
from churnguard_ops.core.stores import S3ReportStore
from churnguard_ops.vulns.exceptions import ExceptionSet, parse_exceptions


class S3ReportSink:
    """The ``ReportSink`` port: rendered reports under ``VULNS_REPORTS_PREFIX`` (SSE-KMS with our key)."""

    def __init__(self, bucket: str, kms_key_arn: str | None = None, region: str | None = None) -> None:
        self.store = S3ReportStore(bucket, kms_key_arn, region)
        self.prefix = contracts.VULNS_REPORTS_PREFIX

    def write(self, name: str, body: str, content_type: str) -> str:
        return self.store.put(f"{self.prefix}{name}", body, content_type)


class S3ExceptionsFile:
    """``vulnerability-exceptions.toml`` as the deployment copied it to the ops bucket. No object: no exceptions
    (``found`` says so, and the report shows it), as with no file in the repository."""

    def __init__(self, bucket: str, key: str = contracts.VULNS_EXCEPTIONS_KEY, region: str | None = None) -> None:
        self.bucket = bucket
        self.key = key
        self.region = region
        self.found: bool | None = None  # after load(): whether the object was there

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def load(self, today: date) -> ExceptionSet:
        try:
            raw = guarded(f"read {self.location}", aws.client("s3", self.region).get_object, Bucket=self.bucket,
                          Key=self.key)
        except NotFound:
            self.found = False
            return ExceptionSet()
        self.found = True
        return parse_exceptions(raw["Body"].read().decode("utf-8"), today)
