"""Amazon Inspector (Lambda standard and code scanning): a finding as ``ListFindings`` returns it (and as the
"Inspector2 Finding" event's ``detail`` carries it) -> normalized findings.

A package in a layer (``vulnerablePackages[].sourceLambdaLayerArn``) is a finding on the layer (one key),
however many functions Inspector reports it on: the layer is what gets fixed. ``layer_resources`` maps deployed
layer names (``churnguard-ops-shared``) to our resource names (``layer:ops``); others are ``layer:<name>``.
Inspector's statuses travel as ``Finding.status``: ACTIVE -> active, CLOSED -> closed, SUPPRESSED -> suppressed.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from churnguard_ops.vulns.keys import dedup, new_finding
from churnguard_ops.vulns.model import Cvss, Epss, Finding, Location, Severity, SourceStatus
from churnguard_ops.vulns.normalize.common import (
    ReportFormatError,
    parse_time,
    require,
    severity_from_cvss,
)

SOURCE = "inspector"
_SEVERITIES: dict[str, Severity] = {"CRITICAL": "critical", "HIGH": "high", "MEDIUM": "medium", "LOW": "low",
                                    "INFORMATIONAL": "informational"}
_STATUSES: dict[str, SourceStatus] = {"ACTIVE": "active", "CLOSED": "closed", "SUPPRESSED": "suppressed"}
_NOT_A_VERSION = {"", "NotAvailable"}


def layer_name(arn: str) -> str:
    """``arn:aws:lambda:<region>:<account>:layer:<name>[:<version>]`` -> ``<name>``."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[5] != "layer":
        raise ReportFormatError(f"inspector: not a Lambda layer ARN: {arn!r}")
    return parts[6]


def function_name(resource: Mapping[str, Any]) -> str:
    details = ((resource.get("details") or {}).get("awsLambdaFunction") or {})
    if details.get("functionName"):
        return str(details["functionName"])
    arn = str(resource.get("id", ""))  # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
    parts = arn.split(":")
    if len(parts) >= 7 and parts[5] == "function":
        return parts[6]
    raise ReportFormatError(f"inspector: resource is not a Lambda function: {arn or resource!r}")


def _cvss(raw: Mapping[str, Any]) -> Cvss | None:
    adjusted = (raw.get("inspectorScoreDetails") or {}).get("adjustedCvss")
    if adjusted and adjusted.get("score") is not None:
        return Cvss(score=adjusted["score"], vector=adjusted.get("scoringVector"),
                    source=adjusted.get("scoreSource") or SOURCE, version=adjusted.get("version"))
    scores = (raw.get("packageVulnerabilityDetails") or {}).get("cvss") or []
    if not scores:
        return None
    best = max(scores, key=lambda c: (str(c.get("version", "")), c.get("baseScore", 0.0)))  # newest CVSS version
    return Cvss(score=best["baseScore"], vector=best.get("scoringVector"), source=best.get("source") or SOURCE,
                version=best.get("version"))


def _severity(raw: Mapping[str, Any], cvss: Cvss | None) -> tuple[Severity, str | None]:
    given = _SEVERITIES.get(str(raw.get("severity", "")).upper())
    if given:
        return given, None
    if cvss is not None:  # UNTRIAGED
        return severity_from_cvss(cvss.score), f"Inspector: untriaged; from CVSS {cvss.score} ({cvss.source})"
    return "unknown", "Inspector: untriaged and no CVSS: treated as high for the SLA"


def _function_resources(raw: Mapping[str, Any]) -> list[str]:
    resources = raw.get("resources") or []
    lambdas = [r for r in resources if r.get("type") == "AWS_LAMBDA_FUNCTION"]
    if not lambdas:
        raise ReportFormatError(f"inspector: finding {raw.get('findingArn')} has no AWS_LAMBDA_FUNCTION resource")
    return [f"function:{function_name(r)}" for r in lambdas]


def _layer_resource(arn: str, layer_resources: Mapping[str, str]) -> str:
    name = layer_name(arn)
    return layer_resources.get(name, f"layer:{name}")


def normalize_finding(raw: Mapping[str, Any], *, layer_resources: Mapping[str, str] | None = None) -> list[Finding]:
    """One Inspector finding -> one Finding per (package or rule, resource) it names."""
    arn = str(require(raw, "findingArn", "inspector finding"))
    what = f"inspector finding {arn}"
    status = _STATUSES.get(str(require(raw, "status", what)))
    if status is None:
        raise ReportFormatError(f"{what}: unknown status {raw['status']!r}")
    kind = require(raw, "type", what)
    layers = layer_resources or {}
    cvss = _cvss(raw)
    severity, note = _severity(raw, cvss)
    epss = Epss(score=raw["epss"]["score"]) if (raw.get("epss") or {}).get("score") is not None else None
    common: dict[str, Any] = {
        "sources": (SOURCE,), "severity": severity, "severity_note": note, "cvss": cvss, "epss": epss,
        "title": str(raw.get("title") or ""), "description": str(raw.get("description") or ""),
        "observed_at": parse_time(require(raw, "lastObservedAt", what), f"{what} lastObservedAt"),
        "first_observed_at": (parse_time(raw["firstObservedAt"], f"{what} firstObservedAt")
                              if raw.get("firstObservedAt") else None),
        "status": status, "source_ids": {SOURCE: arn},
    }
    if kind == "PACKAGE_VULNERABILITY":
        details = require(raw, "packageVulnerabilityDetails", what)
        ids = [str(require(details, "vulnerabilityId", what)), *map(str, details.get("relatedVulnerabilities") or [])]
        url = details.get("sourceUrl") or next(iter(details.get("referenceUrls") or []), None)
        found = []
        for package in require(details, "vulnerablePackages", what):
            name = str(require(package, "name", f"{what} vulnerablePackages"))
            layer_arn = package.get("sourceLambdaLayerArn")
            resources = [_layer_resource(layer_arn, layers)] if layer_arn else _function_resources(raw)
            fixed = str(package.get("fixedInVersion") or "")
            for resource in resources:
                found.append(new_finding(
                    ids=ids, resource=resource, package=name, version=package.get("version"),
                    fixed_versions=() if fixed in _NOT_A_VERSION else (fixed,), url=url,
                    **{**common, "title": common["title"] or f"{ids[0]} in {name}"}))
        return dedup(found)
    if kind == "CODE_VULNERABILITY":
        details = require(raw, "codeVulnerabilityDetails", what)
        rule = str(details.get("ruleId") or require(details, "detectorId", what))
        layer_arn = details.get("sourceLambdaLayerArn")
        resources = [_layer_resource(layer_arn, layers)] if layer_arn else _function_resources(raw)
        path = details.get("filePath") or {}
        location = (Location(path=str(path.get("filePath") or path["fileName"]), line=path.get("startLine") or None)
                    if path.get("filePath") or path.get("fileName") else None)
        url = next(iter(details.get("referenceUrls") or []), None)
        return dedup([new_finding(ids=[rule], rule=rule, resource=resource, location=location, url=url,
                                  **{**common, "title": common["title"] or details.get("detectorName") or rule})
                      for resource in resources])
    raise ReportFormatError(f"{what}: type {kind!r} is not a Lambda finding (PACKAGE_VULNERABILITY or "
                            "CODE_VULNERABILITY)")


def normalize(findings: Iterable[Mapping[str, Any]], *, layer_resources: Mapping[str, str] | None = None
              ) -> list[Finding]:
    """Many Inspector findings (a ``ListFindings`` page, or every page) -> one observation per finding ARN and
    resource. The same layer CVE reported on several functions gives observations with the same ``key`` (one
    ledger entry, on the layer) but their own ARN and status: when one function's finding closes, the others
    keep the entry open. ``keys.dedup`` merges them for display."""
    out: list[Finding] = []
    for raw in findings:
        out.extend(normalize_finding(raw, layer_resources=layer_resources))
    return out
