"""Inspector2 in the embedded AWS: ``ListFindings`` and ``ListCoverage`` over seeded records.

moto 5.2's Inspector2 answers ListFindings with canned queue results (no filters, no pagination) and has no
ListCoverage. Here, in front of it, both are served from findings and coverage records seeded through Python
(``aws.inspector2.seed_findings([...])``, ``seed_coverage([...])``, ``update_finding(arn, status=...)``), in
the API's own shapes (a finding as ListFindings returns it; a ``CoveredResource``):

- ListFindings: ``filterCriteria`` string filters (EQUALS / PREFIX ORed within a field, NOT_EQUALS ANDed) on
  the fields in ``_FINDING_STRINGS``, date ranges on ``updatedAt``, ``firstObservedAt``, ``lastObservedAt``;
  ``sortCriteria`` (ties, and no criteria, by ``updatedAt`` then ``findingArn``); ``maxResults`` (1-100,
  default 50) and ``nextToken``. A filter field not served here is a ValidationException naming it, never
  silently ignored;
- ListCoverage: the same over coverage records (EQUALS / NOT_EQUALS, as the API allows; ``lastScannedAt``);
- seeding or updating a finding emits the "Inspector2 Finding" event on the default bus, when the embedded
  AWS routes events (``emit``), with the event's own time format (``Wed Sep 04 16:50:37.627 UTC 2024``).

Records belong to the region their ARN names (a finding's ``findingArn``, a coverage record's ``resourceId``).
Everything else (Enable, BatchGetAccountStatus, filters ...) goes to moto.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from .awsapi import StartResponse, WsgiApp, credential_scope, read_body, respond
from .lambda_runtime import DEFAULT_ACCOUNT_ID

__all__ = ["EmbeddedInspector2", "event_time", "finding_event"]

_PATHS = {"/findings/list": "findings", "/coverage/list": "coverage"}
STATUSES = ("ACTIVE", "SUPPRESSED", "CLOSED")
_SEVERITY_RANK = {"INFORMATIONAL": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4, "UNTRIAGED": -1}


def _lambda(finding: Mapping[str, Any], member: str) -> list[str]:
    values = []
    for resource in finding.get("resources") or []:
        details = (resource.get("details") or {}).get("awsLambdaFunction") or {}
        if details.get(member) is not None:
            values.append(str(details[member]))
    return values


def _package(finding: Mapping[str, Any], member: str) -> list[str]:
    value = (finding.get("packageVulnerabilityDetails") or {}).get(member)
    return [str(value)] if value is not None else []


#: FilterCriteria string fields served, and how a finding's values for each are read.
_FINDING_STRINGS: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "findingArn": lambda f: [f["findingArn"]],
    "awsAccountId": lambda f: [f["awsAccountId"]],
    "findingType": lambda f: [f["type"]],
    "severity": lambda f: [f["severity"]],
    "findingStatus": lambda f: [f["status"]],
    "title": lambda f: [f.get("title", "")],
    "resourceType": lambda f: [r["type"] for r in f["resources"]],
    "resourceId": lambda f: [r["id"] for r in f["resources"]],
    "fixAvailable": lambda f: [f["fixAvailable"]] if f.get("fixAvailable") else [],
    "lambdaFunctionName": lambda f: _lambda(f, "functionName"),
    "lambdaFunctionRuntime": lambda f: _lambda(f, "runtime"),
    "vulnerabilityId": lambda f: _package(f, "vulnerabilityId"),
    "vulnerabilitySource": lambda f: _package(f, "source"),
}
_FINDING_DATES = ("updatedAt", "firstObservedAt", "lastObservedAt")
#: SortCriteria fields served (the API's enum, less the EC2/ECR/network ones no Lambda finding has).
_FINDING_SORT: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "AWS_ACCOUNT_ID": lambda f: f["awsAccountId"],
    "FINDING_TYPE": lambda f: f["type"],
    "SEVERITY": lambda f: _SEVERITY_RANK.get(f["severity"], -1),
    "FIRST_OBSERVED_AT": lambda f: f["firstObservedAt"],
    "LAST_OBSERVED_AT": lambda f: f["lastObservedAt"],
    "FINDING_STATUS": lambda f: f["status"],
    "RESOURCE_TYPE": lambda f: f["resources"][0]["type"],
    "VULNERABILITY_ID": lambda f: (_package(f, "vulnerabilityId") or [""])[0],
    "VULNERABILITY_SOURCE": lambda f: (_package(f, "source") or [""])[0],
    "INSPECTOR_SCORE": lambda f: float(f.get("inspectorScore") or 0.0),
    "VENDOR_SEVERITY": lambda f: (_package(f, "vendorSeverity") or [""])[0],
    "EPSS_SCORE": lambda f: float((f.get("epss") or {}).get("score") or 0.0),
}

_COVERAGE_STRINGS: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "accountId": lambda c: [c["accountId"]],
    "resourceId": lambda c: [c["resourceId"]],
    "resourceType": lambda c: [c["resourceType"]],
    "scanType": lambda c: [c["scanType"]],
    "scanStatusCode": lambda c: [c["scanStatus"]["statusCode"]],
    "scanStatusReason": lambda c: [c["scanStatus"]["reason"]],
    "scanMode": lambda c: [c["scanMode"]] if c.get("scanMode") else [],
    "lambdaFunctionName": lambda c: _coverage_lambda(c, "functionName"),
    "lambdaFunctionRuntime": lambda c: _coverage_lambda(c, "runtime"),
}
_COVERAGE_DATES = ("lastScannedAt",)


def _coverage_lambda(record: Mapping[str, Any], member: str) -> list[str]:
    value = ((record.get("resourceMetadata") or {}).get("lambdaFunction") or {}).get(member)
    return [str(value)] if value is not None else []


class ApiError(Exception):
    def __init__(self, message: str, code: str = "ValidationException", status: str = "400 Bad Request") -> None:
        super().__init__(message)
        self.code, self.status = code, status


def _time(value: Any, what: str) -> datetime:
    """A seeded time: a datetime, ISO 8601 text or epoch seconds; naive means UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(value, timezone.utc)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{what}: not an ISO 8601 time: {value!r}") from None
    else:
        raise ValueError(f"{what}: a datetime or ISO 8601 time is required, not {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def event_time(value: datetime) -> str:
    """A time as Inspector writes it in its EventBridge events: ``Wed Sep 04 16:50:37.627 UTC 2024``."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%a %b %d %H:%M:%S.") + f"{value.microsecond // 1000:03d}" + value.strftime(" UTC %Y")


_ARN_REGION = re.compile(r"^arn:[^:]+:[^:]+:(?P<region>[a-z0-9-]+):")


def _region_of(arn: str, what: str) -> str:
    match = _ARN_REGION.match(arn)
    if not match:
        raise ValueError(f"{what}: not an ARN with a region: {arn!r}")
    return match["region"]


def _require(record: Mapping[str, Any], fields: Iterable[str], what: str) -> None:
    missing = [name for name in fields if record.get(name) in (None, "", [])]
    if missing:
        raise ValueError(f"{what}: missing {', '.join(missing)}")


def _wire(value: Any) -> Any:
    """A stored record as JSON on the wire: times as epoch seconds (rest-json's timestamp format)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


def _event_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return event_time(value)
    if isinstance(value, dict):
        return {k: _event_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_event_json(v) for v in value]
    return value


def finding_event(finding: Mapping[str, Any]) -> dict[str, Any]:
    """The "Inspector2 Finding" EventBridge event of a finding (as stored: times as datetimes)."""
    region = _region_of(finding["findingArn"], "findingArn")
    updated: datetime = finding["updatedAt"]
    return {
        "version": "0", "id": hashlib.sha1(f"{finding['findingArn']}{updated}".encode()).hexdigest(),
        "detail-type": "Inspector2 Finding", "source": "aws.inspector2", "account": finding["awsAccountId"],
        "time": updated.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
        "resources": [r["id"] for r in finding["resources"]], "detail": _event_json(copy.deepcopy(dict(finding))),
    }


class EmbeddedInspector2:
    """The Inspector2 extension of the embedded AWS (``aws.inspector2``)."""

    def __init__(self, account_id: str = DEFAULT_ACCOUNT_ID,
                 emit: Callable[[str, Mapping[str, Any]], None] | None = None) -> None:
        self.account_id = account_id
        #: (region, event) -> None: where "Inspector2 Finding" events go (the embedded EventBridge router).
        self.emit = emit
        self._lock = threading.Lock()
        self._findings: dict[str, dict[str, dict[str, Any]]] = {}  # region -> findingArn -> finding
        self._coverage: dict[str, dict[str, dict[str, Any]]] = {}  # region -> resourceId -> covered resource
        self.requests: dict[str, int] = {"findings": 0, "coverage": 0}  # pages served, for tests and the demo

    # -- seeding (the Python API) -----------------------------------------------------------------------------
    def seed_findings(self, findings: Iterable[Mapping[str, Any]]) -> list[str]:
        """Add (or replace, by ``findingArn``) findings in ListFindings' shape; returns their ARNs.

        Times may be datetimes or ISO text; ``awsAccountId`` defaults to the embedded account, ``description``
        to "" and ``remediation`` to none provided."""
        stored = [self._finding(dict(f)) for f in findings]
        with self._lock:
            for finding in stored:
                region = _region_of(finding["findingArn"], "findingArn")
                self._findings.setdefault(region, {})[finding["findingArn"]] = finding
        for finding in stored:
            self._announce(finding)
        return [f["findingArn"] for f in stored]

    def update_finding(self, arn: str, *, status: str | None = None, updated_at: datetime | str | None = None,
                       last_observed_at: datetime | str | None = None) -> dict[str, Any]:
        """Change a seeded finding as Inspector does (a fix closes it, a suppression rule suppresses it);
        ``updatedAt`` becomes ``updated_at`` (default: now). Returns the finding as stored."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status: one of {', '.join(STATUSES)}, not {status!r}")
        region = _region_of(arn, "findingArn")
        with self._lock:
            finding = self._findings.get(region, {}).get(arn)
            if finding is None:
                raise KeyError(f"no seeded finding {arn}")
            if status is not None:
                finding["status"] = status
            if last_observed_at is not None:
                finding["lastObservedAt"] = _time(last_observed_at, "last_observed_at")
            finding["updatedAt"] = _time(updated_at, "updated_at") if updated_at is not None else datetime.now(
                timezone.utc)
            snapshot = copy.deepcopy(finding)
        self._announce(snapshot)
        return snapshot

    def seed_coverage(self, resources: Iterable[Mapping[str, Any]]) -> None:
        """Add (or replace, by ``resourceId``) ``CoveredResource`` records; ``accountId`` defaults to ours."""
        stored = []
        for raw in resources:
            record = copy.deepcopy(dict(raw))
            _require(record, ("resourceId", "resourceType", "scanType", "scanStatus"), "coverage record")
            _require(record["scanStatus"], ("statusCode", "reason"), "coverage record scanStatus")
            record.setdefault("accountId", self.account_id)
            if record.get("lastScannedAt") is not None:
                record["lastScannedAt"] = _time(record["lastScannedAt"], "lastScannedAt")
            stored.append(record)
        with self._lock:
            for record in stored:
                self._coverage.setdefault(_region_of(record["resourceId"], "resourceId"), {})[
                    record["resourceId"]] = record

    def findings(self, region: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._findings.get(region, {}).values()))

    def clear(self) -> None:
        with self._lock:
            self._findings.clear()
            self._coverage.clear()
            self.requests = {"findings": 0, "coverage": 0}

    def _finding(self, raw: dict[str, Any]) -> dict[str, Any]:
        finding = copy.deepcopy(raw)
        arn = finding.get("findingArn") or "?"
        what = f"finding {arn}"
        _require(finding, ("findingArn", "type", "severity", "status", "resources", "firstObservedAt",
                           "lastObservedAt", "updatedAt"), what)
        if finding["status"] not in STATUSES:
            raise ValueError(f"{what}: status must be one of {', '.join(STATUSES)}, not {finding['status']!r}")
        for resource in finding["resources"]:
            _require(resource, ("type", "id"), f"{what} resource")
        for name in _FINDING_DATES:
            finding[name] = _time(finding[name], f"{what} {name}")
        finding.setdefault("awsAccountId", self.account_id)
        finding.setdefault("description", "")
        finding.setdefault("remediation", {"recommendation": {"text": "None Provided"}})
        return finding

    def _announce(self, finding: Mapping[str, Any]) -> None:
        if self.emit is not None:
            self.emit(_region_of(finding["findingArn"], "findingArn"), finding_event(finding))

    # -- the API ----------------------------------------------------------------------------------------------
    def wrap(self, app: WsgiApp) -> WsgiApp:
        def middleware(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            scope = credential_scope(environ)
            kind = _PATHS.get(environ.get("PATH_INFO", "").rstrip("/"))
            if scope.service != "inspector2" or kind is None or environ.get("REQUEST_METHOD") != "POST":
                return app(environ, start_response)
            try:
                try:
                    body = json.loads(read_body(environ) or b"{}")
                except ValueError as exc:
                    raise ApiError(f"the request body is not JSON: {exc}") from None
                if not isinstance(body, dict):
                    raise ApiError("the request body must be a JSON object")
                answer = self.answer(kind, scope.region or "us-east-1", body)
            except ApiError as exc:
                return _error(start_response, exc)
            return respond(start_response, "200 OK", answer)

        return middleware

    def answer(self, kind: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer of ListFindings (``kind`` findings) or ListCoverage (coverage) to ``body``; a request
        the API would refuse raises ApiError (ValidationException)."""
        records: dict[str, dict[str, dict[str, Any]]]
        dates: tuple[str, ...]
        comparisons: tuple[str, ...]
        if kind == "findings":
            records, strings, dates, limit = self._findings, _FINDING_STRINGS, _FINDING_DATES, 100
            comparisons, member = ("EQUALS", "PREFIX", "NOT_EQUALS"), "findings"
        else:
            records, strings, dates, limit = self._coverage, _COVERAGE_STRINGS, _COVERAGE_DATES, 200
            comparisons, member = ("EQUALS", "NOT_EQUALS"), "coveredResources"
        criteria = body.get("filterCriteria") or {}
        if not isinstance(criteria, dict):
            raise ApiError("filterCriteria must be an object")
        unknown = sorted(set(criteria) - set(strings) - set(dates))
        if unknown:
            raise ApiError(f"filterCriteria.{unknown[0]} is not served by the embedded Inspector2 "
                           f"(served: {', '.join(sorted((*strings, *dates)))})")
        size = body.get("maxResults", 50)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= limit:
            raise ApiError(f"maxResults must be between 1 and {limit}")
        _check(criteria, strings, comparisons)
        order = _sort_key(kind, body.get("sortCriteria"))
        start = _offset(body.get("nextToken"), criteria, body.get("sortCriteria"))
        with self._lock:
            self.requests[kind] += 1
            selected = [copy.deepcopy(r) for r in records.get(region, {}).values() if _matches(r, criteria, strings)]
        selected.sort(key=order[0], reverse=order[1])
        answer: dict[str, Any] = {member: _wire(selected[start:start + size])}
        if start + size < len(selected):
            answer["nextToken"] = _token(start + size, criteria, body.get("sortCriteria"))
        return answer


def _check(criteria: Mapping[str, Any], strings: Mapping[str, Any], comparisons: tuple[str, ...]) -> None:
    """Refuse a malformed filter whatever the records (an empty account answers a bad request with an error too)."""
    for name, filters in criteria.items():
        if not isinstance(filters, list) or not filters:
            raise ApiError(f"filterCriteria.{name} must be a non-empty list of filters")
        for item in filters:
            if not isinstance(item, dict):
                raise ApiError(f"filterCriteria.{name}: each filter must be an object")
            if name in strings:
                if item.get("comparison") not in comparisons or not isinstance(item.get("value"), str):
                    raise ApiError(f"filterCriteria.{name}: each filter needs a value and a comparison "
                                   f"({', '.join(comparisons)})")
            else:
                if not ({"startInclusive", "endInclusive"} & set(item)):
                    raise ApiError(f"filterCriteria.{name}: each filter needs startInclusive or endInclusive")
                for bound in ("startInclusive", "endInclusive"):
                    if item.get(bound) is not None:
                        _wire_time(item[bound], name)


def _matches(record: Mapping[str, Any], criteria: Mapping[str, Any],
             strings: Mapping[str, Callable[[Mapping[str, Any]], list[str]]]) -> bool:
    """String filters: EQUALS / PREFIX ORed within a field, NOT_EQUALS ANDed; fields ANDed; date ranges inclusive."""
    for name, filters in criteria.items():
        if name in strings:
            values = strings[name](record)
            positive = [any(v == f["value"] if f["comparison"] == "EQUALS" else v.startswith(f["value"])
                            for v in values) for f in filters if f["comparison"] != "NOT_EQUALS"]
            negative = [f["value"] not in values for f in filters if f["comparison"] == "NOT_EQUALS"]
            if (positive and not any(positive)) or not all(negative):
                return False
            continue
        stamp = record.get(name)
        for item in filters:
            start, end = item.get("startInclusive"), item.get("endInclusive")
            if stamp is None or (start is not None and stamp < _wire_time(start, name)) or (
                    end is not None and stamp > _wire_time(end, name)):
                return False
    return True


def _wire_time(value: Any, name: str) -> datetime:
    try:
        return _time(value, f"filterCriteria.{name}")
    except ValueError as exc:
        raise ApiError(str(exc)) from None


def _sort_key(kind: str, criteria: Any) -> tuple[Callable[[Mapping[str, Any]], Any], bool]:
    if kind == "coverage":  # ListCoverage has no sortCriteria
        return (lambda c: c["resourceId"]), False
    if criteria is None:
        return (lambda f: (f["updatedAt"], f["findingArn"])), False
    field, order = (criteria or {}).get("field"), (criteria or {}).get("sortOrder", "ASC")
    if field not in _FINDING_SORT or order not in ("ASC", "DESC"):
        raise ApiError(f"sortCriteria: field one of {', '.join(_FINDING_SORT)} and sortOrder ASC or DESC")
    key = _FINDING_SORT[field]
    return (lambda f: (key(f), f["updatedAt"], f["findingArn"])), order == "DESC"


def _fingerprint(criteria: Any, sort: Any) -> str:
    return hashlib.sha1(json.dumps([criteria, sort], sort_keys=True, default=str).encode()).hexdigest()[:12]


def _token(offset: int, criteria: Any, sort: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "q": _fingerprint(criteria, sort)}).encode()).decode()


def _offset(token: Any, criteria: Any, sort: Any) -> int:
    """A page token is an offset into the same query; one from another query is refused, as AWS does."""
    if token in (None, ""):
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset, query = int(decoded["o"]), decoded["q"]
    except (ValueError, KeyError, TypeError):
        raise ApiError("nextToken is not a token this API gave") from None
    if query != _fingerprint(criteria, sort):
        raise ApiError("nextToken belongs to another query (the filter or sort changed)")
    return offset


def _error(start_response: StartResponse, error: ApiError) -> list[bytes]:
    return respond(start_response, error.status, {"message": str(error)}, {"X-Amzn-ErrorType": error.code})
