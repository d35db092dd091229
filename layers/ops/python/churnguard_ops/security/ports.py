"""What the detection engine needs from the outside: detector state (windows, histories, dedup slots).

One small port, so the same engine runs on the in-memory state (:mod:`churnguard_ops.security.state`:
offline replay, tests, a handler's warm container) and on DynamoDB (live processing across concurrent
Lambdas). Everything is on **event time**: a port never reads the wall clock.

How a DynamoDB adapter implements it (one item per key; nothing here needs more than one item):

- ``add_to_window``: GetItem (consistent) -> apply :func:`churnguard_ops.security.state.apply_add` to the
  item's ``entries``/``max_ts``/``floor`` -> PutItem with ``ConditionExpression`` ``version = :read``
  (or ``attribute_not_exists(pk)``), ``version`` incremented; on ``ConditionalCheckFailedException``
  read again and re-apply (the call is a pure function of the item, so a retry is safe). Two Lambdas
  adding to one key both land: neither overwrites the other's entry. An event id already among the
  entries changes nothing (idempotent redelivery). The item's TTL attribute is ``max_ts + retain +
  lateness``: TTL only deletes items whose every window has closed; it never closes a window.
- ``claim_alert``: the same read/apply/conditional-put loop on a ``dedup#<key>`` item.

Item size stays small by construction: at most ``keep`` entries of (timestamp, event id, short value).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, NamedTuple, Protocol

from churnguard_ops.security.model import Alert, Event


class Entry(NamedTuple):
    """One event recorded under a key: its event time (Unix seconds), id, and a short rule-defined value
    (the organization for windowed counts, ``"<hour>|<location>"`` for login histories)."""

    ts: float
    event_id: str
    value: str = ""


AddStatus = Literal["added", "duplicate", "late"]


@dataclass(frozen=True, slots=True)
class WindowView:
    """A key's retained entries after an add, sorted by (ts, event_id).

    ``status``: ``added``; ``duplicate`` (this event id was already recorded: nothing changed, the
    verdict is recomputed from the same entries); ``late`` (older than the key's newest event minus the
    lateness: not recorded, not judged). ``floor``: the newest timestamp the ``keep`` cap ever dropped
    (``-inf`` if none): a count over a window that reaches back to or before it is a lower bound.
    ``entries`` must not be mutated by the caller and is valid until the next call on the port.
    """

    entries: list[Entry]
    status: AddStatus
    floor: float = float("-inf")


class DetectorState(Protocol):
    """Per-key state of stateful detectors, bounded per key, idempotent on event id."""

    def add_to_window(self, key: str, entry: Entry, *, retain_seconds: float, lateness_seconds: float,
                      keep: int) -> WindowView:
        """Record ``entry`` under ``key`` unless its event id is already there or it is late.

        Late: ``entry.ts < max_ts(key) - lateness_seconds``. Retained afterwards: entries with
        ``ts > max_ts - retain_seconds - lateness_seconds`` (no admissible window can reach the others),
        at most ``keep`` of them, the newest (dropping one raises ``floor``).
        """
        ...

    def claim_alert(self, key: str, event_id: str, ts: float, *, dedup_seconds: float,
                    lateness_seconds: float) -> bool:
        """May ``event_id`` (at ``ts``) alert for ``key`` (a ``detector|entity``)? Yes when it already holds
        the claim (a redelivery re-yields its alert), or when no granted claim lies within
        ``dedup_seconds`` of ``ts`` (either side, so a late event cannot add a second alert to a window).
        Granted claims older than ``max - dedup - lateness`` are forgotten."""
        ...


class AlertStore(Protocol):
    """Every alert, kept for the reports and the audit; written conditionally on ``alert_id``.

    Delivery is exactly-once-stored, at-least-once-published: ``put`` says whether the alert still needs
    publishing (new, or stored by an attempt that crashed before ``mark_published``), so a redelivered
    event publishes an alert again only if no attempt finished publishing it.
    """

    def put(self, alert: Alert) -> bool:
        """Store ``alert`` unless already stored; True while it has not been marked published."""
        ...

    def mark_published(self, alert: Alert) -> None: ...

    def alerts(self, organization_id: str | None, start: datetime, end: datetime) -> list[Alert]:
        """The alerts of one organization (None: alerts with no organization) with start <= timestamp < end."""
        ...


class EventTally(Protocol):
    """Per-organization, per-day counts of application events by type: what the weekly report counts.

    Idempotent on event id (a redelivered event is not counted twice). Events without an organization
    are not counted.
    """

    def record(self, event: Event) -> bool:
        """Count ``event``; False when it was counted before (or has no organization)."""
        ...

    def counts(self, organization_id: str, start: date, end: date) -> dict[str, int]:
        """Event type -> count over the days start <= day < end."""
        ...

    def organizations(self, start: date, end: date) -> set[str]:
        """Organizations with at least one counted event on the days start <= day < end."""
        ...


class Quarantine(Protocol):
    """Where a record that can never be processed goes, with the reason: the dead-letter queue.

    A malformed record is quarantined and counts as handled, so the rest of the batch proceeds and SQS
    does not redeliver it; a transient failure is not quarantined but retried (and reaches the same
    queue by the source queue's redrive policy once retries run out)."""

    def send(self, body: str, reason: str, source_message_id: str) -> None: ...
