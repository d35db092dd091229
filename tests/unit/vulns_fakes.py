"""Test doubles of the vulns ports (see churnguard_ops.vulns.ports), a settable clock, finding builders and the
real-shaped scanner samples in ``vuln_samples/``."""
from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from churnguard_ops.core.errors import Conflict
from churnguard_ops.vulns.keys import new_finding
from churnguard_ops.vulns.model import Finding, LedgerEntry, State
from churnguard_ops.vulns.normalize import inspector
from churnguard_ops.vulns.normalize.common import parse_time
from churnguard_ops.vulns.ports import Poll

SAMPLES = Path(__file__).parent / "vuln_samples"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
LAYERS = {"churnguard-ops-shared": "layer:ops"}


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def sample_json(name: str) -> Any:
    return json.loads(sample(name))


class Clock:
    """A settable UTC clock: ``clock()`` is now; ``advance(days=...)`` moves it."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class FakeLedgerStore:
    """LedgerStore in a dict, with DynamoDB's conditional-write semantics on ``version``. ``conflicts`` makes the
    next N puts fail with Conflict (another writer won); ``puts`` counts successful writes."""

    def __init__(self) -> None:
        self.items: dict[str, LedgerEntry] = {}
        self.conflicts = 0
        self.puts = 0

    def get(self, key: str) -> LedgerEntry | None:
        return self.items.get(key)

    def put(self, entry: LedgerEntry) -> LedgerEntry:
        stored = self.items.get(entry.key)
        if self.conflicts:
            self.conflicts -= 1
            raise Conflict(f"ledger item {entry.key} changed (injected)")
        if (stored.version if stored else 0) != entry.version:
            raise Conflict(f"ledger item {entry.key} is at version {stored.version if stored else 0}, "
                           f"not {entry.version}")
        saved = entry.model_copy(update={"version": entry.version + 1})
        self.items[entry.key] = saved
        self.puts += 1
        return saved

    def query(self, *, states: Collection[State] | None = None, resource: str | None = None) -> list[LedgerEntry]:
        return [e for e in self.items.values()
                if (states is None or e.state in states) and (resource is None or e.finding.resource == resource)]

    def only(self) -> LedgerEntry:
        assert len(self.items) == 1, f"expected one ledger entry, found {len(self.items)}"
        return next(iter(self.items.values()))


class FakeFindingSource:
    """FindingSource over raw Inspector findings (ListFindings shape), filtered by ``updatedAt`` >= since like
    the adapter's filter; ``update(arn, **fields)`` changes one as Inspector would (its ``updatedAt`` too)."""

    def __init__(self, findings: list[dict[str, Any]] | None = None) -> None:
        self.findings: dict[str, dict[str, Any]] = {f["findingArn"]: dict(f) for f in findings or []}

    def update(self, arn: str, at: datetime, **fields: Any) -> None:
        self.findings[arn] = {**self.findings[arn], **fields, "updatedAt": at.isoformat()}

    def poll(self, since: datetime | None) -> Poll:
        changed = [f for f in self.findings.values()
                   if since is None or parse_time(f["updatedAt"], "updatedAt") >= since]
        newest = max((parse_time(f["updatedAt"], "updatedAt") for f in changed), default=since or T0)
        return Poll(findings=tuple(inspector.normalize(changed, layer_resources=LAYERS)), watermark=newest)


class FakeReportSink:
    def __init__(self) -> None:
        self.written: dict[str, tuple[str, str]] = {}

    def write(self, name: str, body: str, content_type: str) -> str:
        self.written[name] = (body, content_type)
        return f"s3://ops-bucket/vulns/reports/{name}"


def package_finding(source: str, vuln_id: str, *, aliases: tuple[str, ...] = (), package: str = "urllib3",
                    version: str = "1.26.16", fixed: tuple[str, ...] = ("1.26.18",), resource: str = "layer:ops",
                    severity: str = "high", at: datetime = T0, status: str = "active",
                    ref: str | None = None, **fields: Any) -> Finding:
    return new_finding(ids=[vuln_id, *aliases], package=package, version=version, fixed_versions=fixed,
                       resource=resource, sources=(source,), severity=severity, title=f"{vuln_id} in {package}",
                       observed_at=at, status=status, source_ids={source: ref} if ref else {}, **fields)


def rule_finding(source: str, rule: str, resource: str, *, severity: str = "medium", at: datetime = T0,
                 **fields: Any) -> Finding:
    return new_finding(ids=[rule], rule=rule, resource=resource, sources=(source,), severity=severity,
                       title=rule, observed_at=at, **fields)


def inspector_raw(arn: str, function: str, *, status: str = "ACTIVE", updated: datetime = T0,
                  layer: bool = True, cve: str = "CVE-2023-43804") -> dict[str, Any]:
    """One Inspector finding shaped like the first of the sample, on ``function``."""
    base: Mapping[str, Any] = sample_json("inspector-findings.json")["findings"][0]
    raw = json.loads(json.dumps(base))
    raw["findingArn"] = arn
    raw["status"] = status
    raw["updatedAt"] = raw["lastObservedAt"] = updated.isoformat()
    raw["firstObservedAt"] = (updated - timedelta(hours=1)).isoformat()
    raw["packageVulnerabilityDetails"]["vulnerabilityId"] = cve
    raw["resources"][0]["details"]["awsLambdaFunction"]["functionName"] = function
    if not layer:
        raw["packageVulnerabilityDetails"]["vulnerablePackages"][0].pop("sourceLambdaLayerArn")
    return raw


if TYPE_CHECKING:  # mypy proves every fake satisfies its port
    from churnguard_ops.vulns import ports

    _store: ports.LedgerStore = FakeLedgerStore()
    _source: ports.FindingSource = FakeFindingSource()
    _sink: ports.ReportSink = FakeReportSink()
