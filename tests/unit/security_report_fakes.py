"""Test doubles of the remediation ports (churnguard_ops.security.remediation) and of the ports the weekly
report reads and writes (security.ports.AlertStore, EventTally; report.HtmlPages)."""
from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from churnguard_ops.core.errors import OpsError
from churnguard_ops.security.model import Alert, Event
from churnguard_ops.security.remediation import ActiveBlock, BlockAction


def _net(cidr: str) -> Any:
    return ipaddress.ip_network(cidr, strict=False)


class MemoryIpBlocklist:
    """An IP set; ``fail`` makes every change raise (an unreachable WAF)."""

    def __init__(self, addresses: set[str] | None = None) -> None:
        self.cidrs: set[str] = set(addresses or ())
        self.changes: list[tuple[str, str]] = []
        self.fail: OpsError | None = None

    def addresses(self) -> set[str]:
        return set(self.cidrs)

    def add(self, cidr: str) -> bool:
        if self.fail is not None:
            raise self.fail
        if any(_net(c) == _net(cidr) for c in self.cidrs):
            return False
        self.cidrs.add(cidr)
        self.changes.append(("add", cidr))
        return True

    def remove(self, cidr: str) -> bool:
        if self.fail is not None:
            raise self.fail
        present = {c for c in self.cidrs if _net(c) == _net(cidr)}
        self.cidrs -= present
        if present:
            self.changes.append(("remove", cidr))
        return bool(present)


class MemoryBlockRecords:
    """Current blocks, decisions and the audit in dicts, with the adapter's conditional writes.

    ``before_delete(ip)`` runs before each conditional delete: a test lands a concurrent extend there.
    ``fail_decisions`` makes ``record_decision`` raise (a crash after acting, before recording)."""

    def __init__(self) -> None:
        self.blocks: dict[str, ActiveBlock] = {}
        self.decisions: dict[str, BlockAction] = {}
        self.audit: list[BlockAction] = []
        self.before_delete: Callable[[str], None] | None = None
        self.fail_decisions: OpsError | None = None

    def active(self, ip: str) -> ActiveBlock | None:
        return self.blocks.get(ip)

    def actives(self) -> list[ActiveBlock]:
        return list(self.blocks.values())

    def put_active(self, block: ActiveBlock) -> None:
        self.blocks[block.ip] = block

    def delete_active(self, ip: str, expires_at: datetime) -> bool:
        if self.before_delete is not None:
            hook, self.before_delete = self.before_delete, None
            hook(ip)
        block = self.blocks.get(ip)
        if block is None or block.expires_at != expires_at:
            return False
        del self.blocks[ip]
        return True

    def decision(self, alert_id: str) -> BlockAction | None:
        return self.decisions.get(alert_id)

    def record_decision(self, action: BlockAction) -> bool:
        if self.fail_decisions is not None:
            raise self.fail_decisions
        assert action.alert_id
        if action.alert_id in self.decisions:
            return False
        self.decisions[action.alert_id] = action
        self.audit.append(action)
        return True

    def record(self, action: BlockAction) -> None:
        self.audit.append(action)

    def actions(self, start: datetime, end: datetime) -> list[BlockAction]:
        return sorted((a for a in self.audit if start <= a.at < end), key=lambda a: a.at)


class MemoryAlertStore:
    """AlertStore over a dict; ``put`` is conditional on alert_id like the DynamoDB adapter."""

    def __init__(self, alerts: list[Alert] | None = None) -> None:
        self.stored: dict[str, Alert] = {}
        self.published: set[str] = set()
        self.queries: list[tuple[str | None, datetime, datetime]] = []
        for alert in alerts or []:
            self.put(alert)

    def put(self, alert: Alert) -> bool:
        self.stored.setdefault(alert.alert_id, alert)
        return alert.alert_id not in self.published

    def mark_published(self, alert: Alert) -> None:
        self.published.add(alert.alert_id)

    def alerts(self, organization_id: str | None, start: datetime, end: datetime) -> list[Alert]:
        self.queries.append((organization_id, start, end))
        return sorted((a for a in self.stored.values()
                       if a.organization_id == organization_id and start <= a.timestamp < end),
                      key=lambda a: (a.timestamp, a.alert_id))


class MemoryEventTally:
    """EventTally over per-(org, day) counters, idempotent on event id."""

    def __init__(self) -> None:
        self.days: dict[tuple[str, date], Counter[str]] = {}
        self.seen: set[str] = set()

    def add(self, organization_id: str, day: date, event_type: str, count: int = 1) -> None:
        """Seed counts directly (what many recorded events would have produced)."""
        self.days.setdefault((organization_id, day), Counter())[event_type] += count

    def record(self, event: Event) -> bool:
        if not event.organization_id or event.event_id in self.seen:
            return False
        self.seen.add(event.event_id)
        self.add(event.organization_id, event.time.date(), event.type)
        return True

    def counts(self, organization_id: str, start: date, end: date) -> dict[str, int]:
        total: Counter[str] = Counter()
        for (org, day), counter in self.days.items():
            if org == organization_id and start <= day < end:
                total.update(counter)
        return dict(total)

    def organizations(self, start: date, end: date) -> set[str]:
        return {org for (org, day), counter in self.days.items() if start <= day < end and counter.total() > 0}


class MemoryHtmlPages:
    def __init__(self, bucket: str = "ops-bucket") -> None:
        self.bucket = bucket
        self.pages: dict[str, str] = {}
        self.fail_for: set[str] = set()

    def put_html(self, key: str, html: str) -> str:
        if any(part in key for part in self.fail_for):
            raise OpsError(f"write s3://{self.bucket}/{key}: InternalError")
        self.pages[key] = html
        return f"s3://{self.bucket}/{key}"


if TYPE_CHECKING:  # mypy proves every fake satisfies its port
    from churnguard_ops.security import ports, remediation, report

    _blocklist: remediation.IpBlocklist = MemoryIpBlocklist()
    _records: remediation.BlockRecords = MemoryBlockRecords()
    _alerts: ports.AlertStore = MemoryAlertStore()
    _tally: ports.EventTally = MemoryEventTally()
    _pages: report.HtmlPages = MemoryHtmlPages()
