"""Where reports go: objects in the ops bucket (SSE-KMS with the ops key), and a presigned link to one."""
from __future__ import annotations

from typing import Protocol

from churnguard_ops.core.stores import S3ReportStore

__all__ = ["ReportStore", "S3ReportStore"]


class ReportStore(Protocol):
    def put(self, key: str, body: str, content_type: str) -> str:
        """Store ``body`` (UTF-8) under ``key``; returns its location (``s3://bucket/key``)."""
        ...

    def link(self, key: str, expires_seconds: int) -> str:
        """A URL that opens the object for ``expires_seconds`` at most (see ``S3ReportStore.link``)."""
        ...

