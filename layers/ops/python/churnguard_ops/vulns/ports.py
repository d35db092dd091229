"""What the vulnerability domain needs from the outside; AWS adapters in :mod:`.adapters`, fakes in the tests."""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from churnguard_ops.core.clock import IsoTime
from churnguard_ops.vulns.model import Finding, LedgerEntry, NotChecked, State


class LedgerStore(Protocol):
    """The ledger's items by finding key, written conditionally on their version.

    ``put`` stores ``entry`` only if the stored version still equals ``entry.version`` (0: the key must not
    exist yet), and returns the entry with its new version (``entry.version + 1``); otherwise it raises
    ``core.errors.Conflict`` (someone else wrote it: re-read and re-apply)."""

    def get(self, key: str) -> LedgerEntry | None: ...

    def put(self, entry: LedgerEntry) -> LedgerEntry: ...

    def query(self, *, states: Collection[State] | None = None, resource: str | None = None) -> list[LedgerEntry]:
        """Every entry in one of ``states`` (None: any) on ``resource`` (None: any), every page."""
        ...


class Poll(BaseModel):
    """One poll of an incremental source: the findings changed since the watermark (each with its ``status``,
    closed and suppressed ones included) and the watermark to pass next time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    findings: tuple[Finding, ...]
    watermark: IsoTime
    not_checked: tuple[NotChecked, ...] = ()


class FindingSource(Protocol):
    """An incremental source (Inspector2 ``ListFindings`` by ``updatedAt``): every page of the findings updated
    at or after ``since`` (None: all), whatever their status. The new watermark is the newest ``updatedAt`` seen
    (or ``since`` when nothing changed), so a finding closed between polls is seen as closed."""

    def poll(self, since: datetime | None) -> Poll: ...


class ReportSink(Protocol):
    """Where a rendered report goes (S3 under ``VULNS_REPORTS_PREFIX``); returns its location (an s3:// URL)."""

    def write(self, name: str, body: str, content_type: str) -> str: ...
