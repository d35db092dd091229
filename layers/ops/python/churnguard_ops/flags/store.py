"""The flag document as of now: polled from the configuration store, cached, last good copy kept.

- A poll happens when the cache period is over (the poll interval the store returned, else ``cache_seconds``),
  so a change, a kill switch included, takes effect within one cache period.
- Empty content means unchanged: the cached document stays and counts as confirmed.
- A failing poll, or a document that fails validation, is a store error (``FlagStoreErrors``): the last good
  document is served, marked stale (``FlagStaleServes`` per serve), while it was confirmed less than
  ``max_stale_seconds`` ago; after that there is no document and callers get their own default.
- After a failure the next poll waits one cache period too, so a broken store is not hammered per request.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from churnguard_ops.core.clock import Clock
from churnguard_ops.core.contracts import (
    FLAG_APPLICATION_DIMENSION,
    FLAG_ENVIRONMENT_DIMENSION,
    FLAG_STALE_METRIC,
    FLAG_STORE_ERRORS_METRIC,
)
from churnguard_ops.core.flag_document import FlagDocument
from churnguard_ops.core.ports import MetricsSink
from churnguard_ops.flags.ports import ConfigurationSource


@dataclass(frozen=True)
class Snapshot:
    """The document to evaluate (None: none usable), its version, and whether it is a stale copy."""

    document: FlagDocument | None
    version: str | None = None
    stale: bool = False
    #: why there is no fresh document (the last store error), None when the last poll succeeded
    error: str | None = None


class FlagStore:
    def __init__(self, source: ConfigurationSource, clock: Clock, metrics: MetricsSink, *, cache_seconds: int,
                 max_stale_seconds: int, application: str, environment: str) -> None:
        self.source, self.clock, self.metrics = source, clock, metrics
        self.cache = timedelta(seconds=cache_seconds)
        self.max_stale = timedelta(seconds=max_stale_seconds)
        self.dimensions = {FLAG_APPLICATION_DIMENSION: application, FLAG_ENVIRONMENT_DIMENSION: environment}
        self._document: FlagDocument | None = None
        self._version: str | None = None
        self._confirmed_at: datetime | None = None  # when a poll last returned or confirmed the document
        self._next_poll: datetime | None = None
        self._error: str | None = None
        # The deployed document failed validation: "unchanged" answers still mean that invalid document.
        self._deployed_invalid: str | None = None

    def current(self) -> Snapshot:
        now = self.clock()
        if self._next_poll is None or now >= self._next_poll:
            self._poll(now)
        if self._error is None:
            return Snapshot(self._document, self._version)
        if self._document is None or self._confirmed_at is None or now - self._confirmed_at > self.max_stale:
            return Snapshot(None, None, error=self._error)
        self.metrics.put(FLAG_STALE_METRIC, 1, "Count", self.dimensions)
        return Snapshot(self._document, self._version, stale=True, error=self._error)

    def _poll(self, now: datetime) -> None:
        interval = self.cache
        try:
            fetched = self.source.fetch()
            if fetched.poll_interval_seconds:
                interval = timedelta(seconds=fetched.poll_interval_seconds)
            if fetched.content:
                self._deployed_invalid = None
                try:
                    document = FlagDocument.parse_json(fetched.content)
                except ValueError as invalid:
                    self._deployed_invalid = f"version {fetched.version or '?'}: {invalid}"
                    raise
                self._document, self._version = document, fetched.version
            elif self._deployed_invalid is not None:
                raise ValueError(f"the deployed flag document is invalid ({self._deployed_invalid})")
            elif self._document is None:
                raise ValueError("flag document: the store returned no content and nothing is cached")
        except Exception as error:  # noqa: BLE001 -- any store failure degrades to stale or default, counted
            self._error = f"{type(error).__name__}: {error}"
            self.metrics.put(FLAG_STORE_ERRORS_METRIC, 1, "Count", self.dimensions)
        else:
            self._confirmed_at, self._error = now, None
        # set only once the poll ended: an interrupted poll (a Lambda timeout) is retried on the next call
        self._next_poll = now + interval
