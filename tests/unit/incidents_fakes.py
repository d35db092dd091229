"""In-memory incident store with the DynamoDB adapter's conditional semantics, and a postmortem sink."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from churnguard_ops.core.errors import AlreadyExists, Conflict
from churnguard_ops.incidents.model import Incident, TimelineEntry


class MemoryIncidentStore:
    def __init__(self) -> None:
        self.incidents: dict[str, Incident] = {}
        self.timelines: dict[str, list[TimelineEntry]] = {}
        self.pointers: dict[str, str] = {}
        self.expiry: dict[str, datetime] = {}

    def get(self, incident_id: str) -> Incident | None:
        stored = self.incidents.get(incident_id)
        return stored.model_copy(deep=True) if stored else None  # a copy: callers change theirs, not ours

    def create(self, incident: Incident) -> None:
        if incident.incident_id in self.incidents:
            raise AlreadyExists(incident.incident_id)
        incident.version = 0
        self.incidents[incident.incident_id] = incident.model_copy(deep=True)

    def discard(self, incident_id: str) -> None:
        self.incidents.pop(incident_id, None)

    def save(self, incident: Incident) -> None:
        stored = self.incidents.get(incident.incident_id)
        if stored is None or stored.version != incident.version:
            raise Conflict(f"incident {incident.incident_id} changed since it was read")
        incident.version += 1
        self.incidents[incident.incident_id] = incident.model_copy(deep=True)

    def append(self, incident_id: str, entries: list[TimelineEntry]) -> None:
        self.timelines.setdefault(incident_id, []).extend(entries)

    def timeline(self, incident_id: str) -> list[TimelineEntry]:
        return sorted(self.timelines.get(incident_id, []), key=lambda e: e.at)

    def by_status(self, status: str) -> list[Incident]:
        return [i.model_copy(deep=True) for i in self.incidents.values() if i.status == status]

    def pointer(self, key: str) -> str | None:
        return self.pointers.get(key)

    def claim(self, key: str, incident_id: str, replacing: str | None) -> bool:
        held = self.pointers.get(key)
        if held is not None and held != replacing:
            return False
        self.pointers[key] = incident_id
        return True

    def release(self, key: str, incident_id: str) -> None:
        if self.pointers.get(key) == incident_id:
            del self.pointers[key]

    def expire(self, incident_id: str, at: datetime) -> None:
        self.expiry[incident_id] = at


class MemoryPostmortems:
    def __init__(self, bucket: str = "ops-bucket") -> None:
        self.bucket = bucket
        self.drafts: dict[str, str] = {}

    def write(self, incident_id: str, markdown: str) -> str:
        key = f"incidents/postmortems/{incident_id}.md"
        self.drafts[key] = markdown
        return f"s3://{self.bucket}/{key}"


if TYPE_CHECKING:  # mypy proves every fake satisfies its port
    from churnguard_ops.incidents import ports

    _store: ports.IncidentStore = MemoryIncidentStore()
    _postmortems: ports.Postmortems = MemoryPostmortems()
