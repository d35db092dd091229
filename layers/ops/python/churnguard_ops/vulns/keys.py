"""Finding identity: canonical vulnerability ids, stable keys, and merging what several sources say.

The key is the sha1 of (canonical id, package or rule, resource), so the same CVE in the same package on the
same resource is one finding whichever source saw it. The canonical id prefers a CVE, then a GHSA, then a
PYSEC (or other) id: pip-audit's ``PYSEC-2023-192`` with alias ``CVE-2023-43804`` and Inspector's
``CVE-2023-43804`` get the same key. Where the sources share no CVE but share an alias (one knows only the
GHSA), :func:`dedup` still merges them by alias overlap.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from churnguard_ops.vulns.model import SEVERITY_ORDER, Finding, Severity

_PREFERENCE = ("CVE-", "GHSA-", "PYSEC-")
_PEP503 = re.compile(r"[-_.]+")


def normalize_package(name: str) -> str:
    """PEP 503: ``PyYAML``, ``pyyaml`` and ``py_yaml`` name one package, whatever each tool prints."""
    return _PEP503.sub("-", name).lower().strip()


def canonical_id(ids: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    """(canonical id, the other ids sorted): the first CVE (sorted), else GHSA, else PYSEC, else the first id."""
    unique = sorted({i.strip() for i in ids if i and i.strip()})
    if not unique:
        raise ValueError("a finding needs at least one vulnerability or rule id")
    for prefix in _PREFERENCE:
        preferred = [i for i in unique if i.upper().startswith(prefix)]
        if preferred:
            chosen = preferred[0]
            break
    else:
        chosen = unique[0]
    return chosen, tuple(i for i in unique if i != chosen)


def finding_key(vuln_id: str, package_or_rule: str, resource: str) -> str:
    return hashlib.sha1(f"{vuln_id}\x1f{package_or_rule}\x1f{resource}".encode(), usedforsecurity=False).hexdigest()


def new_finding(*, ids: Iterable[str], resource: str, package: str | None = None, rule: str | None = None,
                **fields: Any) -> Finding:
    """A Finding with its canonical id, aliases and key worked out (``fields``: the rest of the model)."""
    vuln_id, aliases = canonical_id(ids)
    pkg = normalize_package(package) if package else None
    subject = pkg or rule or vuln_id
    return Finding(key=finding_key(vuln_id, subject, resource), vuln_id=vuln_id, aliases=aliases, package=pkg,
                   rule=rule, resource=resource, **fields)


def severity_rank(severity: Severity) -> int:
    """0 for critical ... 5 for unknown: sort ascending for "worst first"."""
    return SEVERITY_ORDER.index(severity)


def _subject(finding: Finding) -> tuple[str | None, str | None, str]:
    return (finding.package, finding.rule if finding.package is None else None, finding.resource)


def same_vulnerability(a: Finding, b: Finding) -> bool:
    """One vulnerability on one subject: same package (or rule) and resource, and a shared id or alias."""
    return _subject(a) == _subject(b) and bool(a.all_ids & b.all_ids)


def merge(a: Finding, b: Finding) -> Finding:
    """What two sources say about one finding, combined: ids, sources, fixes united; the worst known severity
    and the higher CVSS; text from whichever has it; version and status from the newer observation. The key
    follows the combined canonical id (:func:`merge_into` keeps a stored one)."""
    vuln_id, aliases = canonical_id(a.all_ids | b.all_ids)
    known = [f for f in (a, b) if f.severity != "unknown"]
    by_severity = min(known, key=lambda f: severity_rank(f.severity)) if known else a
    cvss = max((f.cvss for f in (a, b) if f.cvss), key=lambda c: c.score, default=None)
    richer = max((a, b), key=lambda f: (len(f.description), f.title != f.vuln_id))
    firsts = [t for t in (a.first_observed_at, b.first_observed_at) if t is not None]
    return a.model_copy(update={
        "key": finding_key(vuln_id, a.package or a.rule or vuln_id, a.resource),
        "vuln_id": vuln_id,
        "aliases": aliases,
        "version": b.version or a.version if b.observed_at >= a.observed_at else a.version or b.version,
        "fixed_versions": tuple(sorted(set(a.fixed_versions) | set(b.fixed_versions))),
        "sources": tuple(sorted(set(a.sources) | set(b.sources))),
        "severity": by_severity.severity,
        "severity_note": by_severity.severity_note,
        "cvss": cvss,
        "epss": a.epss or b.epss,
        "title": richer.title,
        "description": richer.description,
        "url": a.url or b.url,
        "location": a.location or b.location,
        "observed_at": max(a.observed_at, b.observed_at),
        "first_observed_at": min(firsts) if firsts else None,
        "status": b.status if b.observed_at >= a.observed_at else a.status,
        "source_ids": {**a.source_ids, **b.source_ids},
    })


def merge_into(existing: Finding, seen: Finding) -> Finding:
    """``seen`` folded into a stored finding; the stored key never changes (the ledger's identity)."""
    return merge(existing, seen).model_copy(update={"key": existing.key})


def dedup(findings: Sequence[Finding]) -> list[Finding]:
    """One Finding per vulnerability per subject: findings sharing package (or rule), resource and any id
    are merged (transitively), in input order of their first member."""
    merged: list[Finding] = []
    for finding in findings:
        hits = [i for i, m in enumerate(merged) if same_vulnerability(m, finding)]
        if not hits:
            merged.append(finding)
            continue
        combined = finding
        for i in reversed(hits):  # a finding can bridge two groups (one shares the GHSA, the other the CVE)
            combined = merge(merged.pop(i), combined)
        merged.insert(hits[0], combined)
    return merged
