"""The vulnerability domain: normalized findings, scan results, ledger entries, exceptions and SLA policy.

A :class:`Finding` is one vulnerability (or rule violation) on one resource, whatever tool reported it;
its ``key`` is stable across sources and scans (see :mod:`.keys`). A :class:`ScanResult` is what one source
said in one run; the ledger (:mod:`.ledger`) folds scan results into :class:`LedgerEntry` items.
Resources are named as ``core.contracts`` says: ``function:<name>``, ``layer:<name>``, ``code:<path>``,
``template:<template file>/<logical id>``.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from churnguard_ops.core.clock import IsoTime
from churnguard_ops.core.contracts import VULN_RESOURCE_KINDS, VULN_SOURCES

Source = Literal["inspector", "pip-audit", "bandit", "cdk-nag", "cfn-lint"]
#: ``unknown``: the source gave none and no CVSS was available; the SLA treats it as ``high`` (with a note).
Severity = Literal["critical", "high", "medium", "low", "informational", "unknown"]
SEVERITY_ORDER: tuple[Severity, ...] = ("critical", "high", "medium", "low", "informational", "unknown")
#: What a source says about a finding in this observation. Inspector has all three; the other sources report
#: only what they see now (``active``); their absence from a complete scan is what fixes a finding.
SourceStatus = Literal["active", "closed", "suppressed"]
State = Literal["open", "fixed", "reopened", "excepted"]
#: States in which a finding still needs work (its SLA clock runs).
ACTIONABLE_STATES: tuple[State, ...] = ("open", "reopened")

if set(VULN_SOURCES) != set(get_args(Source)):  # the contracts and the model must agree
    raise RuntimeError(f"VULN_SOURCES {VULN_SOURCES} differ from the model's sources {get_args(Source)}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_resource(value: str) -> str:
    kind, sep, name = value.partition(":")
    if not sep or kind not in VULN_RESOURCE_KINDS or not name:
        raise ValueError(f"resource must be <kind>:<name> with kind one of {', '.join(VULN_RESOURCE_KINDS)}: "
                         f"{value!r}")
    return value


class Cvss(_Frozen):
    score: float = Field(ge=0.0, le=10.0)
    vector: str | None = None
    #: Who scored it (``NVD``, ``GHSA``, ``inspector`` ...).
    source: str
    version: str | None = None


class Epss(_Frozen):
    score: float = Field(ge=0.0, le=1.0)
    percentile: float | None = Field(default=None, ge=0.0, le=1.0)


class Location(_Frozen):
    """Where in the repository (bandit: a line of code; cfn-lint: a template line) -- SARIF's location."""

    path: str
    line: int | None = Field(default=None, ge=1)


class Finding(_Frozen):
    """One vulnerability or rule violation on one resource, merged across the sources that report it."""

    key: str
    #: Canonical id: a CVE alias when any, else GHSA, else PYSEC/other, else the rule id (B608, E3012 ...).
    vuln_id: str
    #: Every other id the sources gave (sorted, without ``vuln_id``).
    aliases: tuple[str, ...] = ()
    #: PEP 503-normalized package name (None for rule findings).
    package: str | None = None
    version: str | None = None
    fixed_versions: tuple[str, ...] = ()
    #: The rule for bandit / cdk-nag / cfn-lint findings (None for package vulnerabilities).
    rule: str | None = None
    resource: str
    #: Every source that reported it (sorted, unique: a set serialized deterministically).
    sources: tuple[Source, ...]
    severity: Severity
    #: Why the severity is what it is when no source gave one (``from CVSS 9.8 (NVD)``, ``unknown: treated as
    #: high for the SLA``); None when a source gave it.
    severity_note: str | None = None
    cvss: Cvss | None = None
    epss: Epss | None = None
    title: str
    description: str = ""
    url: str | None = None
    location: Location | None = None
    observed_at: IsoTime
    #: When the source first saw it (Inspector's ``firstObservedAt``); None: ``observed_at`` is the first sighting.
    first_observed_at: IsoTime | None = None
    #: The source's own view in this observation (Inspector ACTIVE / CLOSED / SUPPRESSED).
    status: SourceStatus = "active"
    #: The sources' own ids of the finding (Inspector: its findingArn); the ledger tracks what each source still
    #: reports by these.
    source_ids: dict[str, str] = Field(default_factory=dict)

    @field_validator("resource")
    @classmethod
    def _resource(cls, value: str) -> str:
        return _check_resource(value)

    @field_validator("aliases", "fixed_versions")
    @classmethod
    def _sorted_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(value)))

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: tuple[Source, ...]) -> tuple[Source, ...]:
        if not value:
            raise ValueError("a finding has at least one source")
        return tuple(sorted(set(value)))

    @property
    def all_ids(self) -> frozenset[str]:
        """The canonical id and every alias (what an exception's ``id`` may name)."""
        return frozenset((self.vuln_id, *self.aliases))


class NotChecked(_Frozen):
    """Something a source did not check, and why: the report says "not checked" rather than "clean".
    ``resource`` None: the whole source (e.g. the advisory database could not be reached)."""

    resource: str | None = None
    reason: str


class ScanResult(_Frozen):
    """What one source reported in one run.

    ``complete``: the run looked at every resource in ``covered`` (glob patterns such as ``code:layers/*`` or
    exact names), so a previously reported finding of this source on a covered resource that is absent now is
    fixed. An incremental poll (Inspector by ``updatedAt``) is not complete: it says what changed, with each
    finding's ``status``.
    """

    source: Source
    scanned_at: IsoTime
    complete: bool
    covered: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    not_checked: tuple[NotChecked, ...] = ()

    @model_validator(mode="after")
    def _findings_from_this_source(self) -> ScanResult:
        strangers = [f.key for f in self.findings if f.sources != (self.source,)]
        if strangers:
            raise ValueError(f"a {self.source} scan holds findings of other sources: {strangers[:3]}")
        return self


class ScanSummary(_Frozen):
    """What the report needs to know of a source's latest scan (keep one per source with the ledger)."""

    source: Source
    scanned_at: IsoTime
    complete: bool
    findings: int = Field(ge=0)
    not_checked: tuple[NotChecked, ...] = ()

    @classmethod
    def of(cls, scan: ScanResult) -> ScanSummary:
        return cls(source=scan.source, scanned_at=scan.scanned_at, complete=scan.complete,
                   findings=len({f.key for f in scan.findings}), not_checked=scan.not_checked)


class HistoryEvent(_Frozen):
    at: IsoTime
    state: State
    why: str


class ExceptionRef(_Frozen):
    """The exception an excepted entry rests on: one of the exceptions file (``origin`` ``file``) or an
    Inspector suppression rule (``origin`` ``inspector``, no expiry: Inspector's rules never expire)."""

    id: str
    approver: str
    expires: date | None = None
    reason: str = ""
    origin: Literal["file", "inspector"] = "file"


class LedgerEntry(_Frozen):
    """One finding's life in the ledger. ``version`` is the stored version (0: never stored) for conditional
    writes. ``reporting`` maps each source that currently reports the finding to its own ids of it (Inspector:
    the finding ARNs, one per function it reports a layer package on; other sources: the finding key); a finding
    is fixed when no source reports it. ``first_seen`` never moves, so a reopened finding's SLA clock keeps
    running from the first sighting."""

    finding: Finding
    state: State
    first_seen: IsoTime
    last_seen: IsoTime
    fixed_at: IsoTime | None = None
    reporting: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    history: tuple[HistoryEvent, ...] = ()
    exception: ExceptionRef | None = None
    sla_due: IsoTime | None = None
    sla_breached: bool = False
    version: int = Field(default=0, ge=0)

    @property
    def key(self) -> str:
        return self.finding.key


class RiskException(_Frozen):
    """One entry of ``vulnerability-exceptions.toml``: an accepted risk, scoped and with an expiry.

    ``expires`` is the last day it applies: it has expired when today is after it."""

    index: int = Field(ge=0)
    id: str = Field(min_length=1)
    package: str = Field(min_length=1)
    resource: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    approver: str = Field(min_length=1)
    expires: date

    def expired(self, today: date) -> bool:
        return today > self.expires

    def expiring_within(self, today: date, days: int) -> bool:
        return not self.expired(today) and self.expires - today <= timedelta(days=days)


#: The SLA defaults: CISA BOD 19-02 for critical and high, DefectDojo's for medium and low.
DEFAULT_SLA_DAYS: dict[str, int] = {"critical": 15, "high": 30, "medium": 90, "low": 120}


class SlaPolicy(_Frozen):
    """Days to fix per severity. A severity without an entry (``informational``) has no deadline; ``unknown``
    uses ``unknown_as`` (high)."""

    days: dict[Severity, int] = Field(default_factory=lambda: dict(DEFAULT_SLA_DAYS))  # type: ignore[arg-type]
    unknown_as: Severity = "high"

    @field_validator("days")
    @classmethod
    def _positive(cls, value: dict[Severity, int]) -> dict[Severity, int]:
        bad = {k: v for k, v in value.items() if v < 1}
        if bad:
            raise ValueError(f"SLA days must be at least 1: {bad}")
        if "unknown" in value:
            raise ValueError("'unknown' has no SLA of its own: it uses unknown_as")
        return value
