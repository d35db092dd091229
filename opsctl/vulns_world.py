"""The pretend account ``opsctl vuln report --local`` and the demo run vulnerability management against.

What a real account would already have, in the shapes AWS and the scanners use:

- **Inspector2 findings** (ListFindings' shape, as ``tests/unit/vuln_samples/inspector-findings.json``) on our
  deployed functions; the advisories are invented (``CVE-2026-4xxxx``) so no one mistakes them for a statement
  about the versions this repository locks:

  * ``critical``: a CVE in ``urllib3`` of the shared layer, reported on two functions (the ledger keeps ONE
    finding, on ``layer:ops``), first seen 3 days ago;
  * ``breach``: a high CVE in ``requests`` bundled in one function's own package, first seen 40 days ago
    (high's SLA is 30 days: past it);
  * ``code``: a code vulnerability (CWE-89) in one function, covered by an exception expiring within 14 days;
  * ``closed``: a low CVE in a function's package, ACTIVE at the first poll, CLOSED before the second (fixed);
  * ``expired``: a medium CVE in ``sqlglot`` of the layer, excepted 50 days ago by an exception that expired
    5 days ago: the ledger held it ``excepted`` (seeded as its earlier state) and reopens it saying why;
- **coverage**: every one of our functions scanned (the standard PACKAGE scan) except one, idle for over 90 days
  (``STALE_INVENTORY``): the report's coverage gap;
- **the exceptions file** in the ops bucket (the key the functions read): the repository's
  ``vulnerability-exceptions.toml`` plus the two entries above.

The build-time scanners run for real (:func:`run_build_scanners`: bandit on the layer and handlers, pip-audit
on the layer's lock, through ``tools/audit``) and their build reports go to ``vulns/build/<run>/``.
"""
from __future__ import annotations

import json
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from churnguard_ops.core import contracts
from churnguard_ops.vulns.exceptions import FILE_NAME
from churnguard_ops.vulns.model import ExceptionRef, HistoryEvent, LedgerEntry
from churnguard_ops.vulns.normalize.inspector import normalize_finding

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"  # the embedded AWS's (moto's default account)
#: The functions each seeded finding goes to: the first of ours whose name contains the hint.
ROLE_HINTS: dict[str, tuple[str, ...]] = {
    "critical": ("backup-run", "backup"), "critical_2": ("cost-report", "cost"), "breach": ("sample-api", "api"),
    "code": ("dbadvisor", "db"), "closed": ("drill-plan", "drill"), "expired": ("security", "incident"),
    "stale": ("restore", "canary"),
}
STALE_REASON = "STALE_INVENTORY"
CODE_RULE = "python-avoid-string-formatting-in-sql-queries"
APPROVER = "platform-security@churnguard.example"
BREACH_DAYS = 40
EXPIRING_IN_DAYS = 7
EXPIRED_DAYS_AGO = 5
EXCEPTED_DAYS_AGO = 50


@dataclass(frozen=True)
class Deployed:
    """What the deployed vulns functions are configured with (read from the poll function's environment)."""

    region: str
    bucket: str
    table: str
    exceptions_key: str = contracts.VULNS_EXCEPTIONS_KEY
    layer_name: str = f"{contracts.NAME_PREFIX}-shared"
    function_prefix: str = contracts.VULNS_FUNCTION_PREFIX

    @classmethod
    def from_environment(cls, region: str, variables: Mapping[str, str]) -> Deployed:
        missing = [v for v in ("VULNS_BUCKET", "VULNS_LEDGER_TABLE") if not variables.get(v)]
        if missing:
            raise ValueError(f"the vulns poll function has no {', '.join(missing)} in its environment")
        layers = json.loads(variables.get("VULNS_LAYER_RESOURCES") or "{}")
        layer = next((name for name, res in layers.items() if res == contracts.VULN_LAYER_RESOURCE),
                     f"{contracts.NAME_PREFIX}-shared")
        return cls(region=region, bucket=variables["VULNS_BUCKET"], table=variables["VULNS_LEDGER_TABLE"],
                   exceptions_key=variables.get("VULNS_EXCEPTIONS_KEY") or contracts.VULNS_EXCEPTIONS_KEY,
                   layer_name=layer,
                   function_prefix=variables.get("VULNS_FUNCTION_PREFIX") or contracts.VULNS_FUNCTION_PREFIX)

    @property
    def layer_resources(self) -> dict[str, str]:
        return {self.layer_name: contracts.VULN_LAYER_RESOURCE}


@dataclass
class VulnWorld:
    """What was seeded: the functions each finding is on, the findings' ARNs and the demo's exceptions."""

    now: datetime
    deployed: Deployed
    functions: dict[str, str]  # role -> function name
    findings: list[dict[str, Any]] = field(default_factory=list)
    arns: dict[str, str] = field(default_factory=dict)  # role -> findingArn
    coverage: list[dict[str, Any]] = field(default_factory=list)
    exceptions_text: str = ""
    expiring: dict[str, Any] = field(default_factory=dict)  # the exception expiring within 14 days
    expired: dict[str, Any] = field(default_factory=dict)  # the expired one, covering an earlier-excepted finding
    earlier: LedgerEntry | None = None  # the ledger entry as it was while that exception applied

    @property
    def stale_function(self) -> str:
        return self.functions["stale"]


def assign(functions: Sequence[str]) -> dict[str, str]:
    """Each role's function among ours (names sorted), distinct where there are enough functions."""
    if len(functions) < 2:
        raise ValueError(f"the pretend account needs at least 2 deployed functions, found {len(functions)}")
    chosen: dict[str, str] = {}
    for role, hints in ROLE_HINTS.items():
        unused = [f for f in sorted(functions) if f not in chosen.values()] or sorted(functions)
        chosen[role] = next((f for hint in hints for f in unused if hint in f), unused[0])
    return chosen


def _lambda_resource(deployed: Deployed, function: str, *, layer: bool) -> dict[str, Any]:
    arn = f"arn:aws:lambda:{deployed.region}:{ACCOUNT}:function:{function}"
    details: dict[str, Any] = {"functionName": function, "runtime": "PYTHON_3_13", "architectures": ["ARM64"],
                               "packageType": "ZIP", "version": "$LATEST",
                               "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{function}"}
    if layer:
        details["layers"] = [_layer_arn(deployed)]
    return {"type": "AWS_LAMBDA_FUNCTION", "id": f"{arn}:$LATEST", "partition": "aws", "region": deployed.region,
            "details": {"awsLambdaFunction": details}}


def _layer_arn(deployed: Deployed) -> str:
    return f"arn:aws:lambda:{deployed.region}:{ACCOUNT}:layer:{deployed.layer_name}:7"


def _arn(deployed: Deployed) -> str:
    return f"arn:aws:inspector2:{deployed.region}:{ACCOUNT}:finding/{uuid.uuid4().hex}"


def package_finding(deployed: Deployed, function: str, *, vuln: str, package: str, version: str, fixed: str,
                    severity: str, score: float, vector: str, first_seen: datetime, now: datetime,
                    in_layer: bool, epss: float | None = None) -> dict[str, Any]:
    """A PACKAGE_VULNERABILITY finding as ListFindings returns it (NVD's CVSS, the package's remediation)."""
    vulnerable: dict[str, Any] = {
        "name": package, "version": version, "fixedInVersion": fixed, "packageManager": "PYTHONPKG",
        "remediation": f"pip install --upgrade {package}=={fixed}",
        "filePath": f"python/lib/python3.13/site-packages/{package}-{version}.dist-info/METADATA"}
    if in_layer:
        vulnerable["sourceLambdaLayerArn"] = _layer_arn(deployed)
    cvss = {"baseScore": score, "scoringVector": vector, "source": "NVD", "version": "3.1"}
    finding: dict[str, Any] = {
        "findingArn": _arn(deployed), "awsAccountId": ACCOUNT, "type": "PACKAGE_VULNERABILITY",
        "severity": severity, "status": "ACTIVE", "title": f"{vuln} - {package}", "fixAvailable": "YES",
        "description": f"{package} {version}: see the advisory (an advisory of the pretend account).",
        "firstObservedAt": first_seen, "lastObservedAt": now, "updatedAt": now, "inspectorScore": score,
        "inspectorScoreDetails": {"adjustedCvss": {"adjustments": [], "cvssSource": "NVD", "score": score,
                                                   "scoreSource": "NVD", "scoringVector": vector, "version": "3.1"}},
        "packageVulnerabilityDetails": {
            "vulnerabilityId": vuln, "source": "NVD", "vendorSeverity": severity, "cvss": [cvss],
            "sourceUrl": f"https://nvd.nist.gov/vuln/detail/{vuln}", "referenceUrls": [],
            "relatedVulnerabilities": [], "vulnerablePackages": [vulnerable]},
        "resources": [_lambda_resource(deployed, function, layer=in_layer)],
        "remediation": {"recommendation": {"text": f"Upgrade {package} to {fixed}"}},
    }
    if epss is not None:
        finding["epss"] = {"score": epss}
    return finding


def code_finding(deployed: Deployed, function: str, *, first_seen: datetime, now: datetime) -> dict[str, Any]:
    """A CODE_VULNERABILITY finding (Inspector's code scanning: CodeGuru's detectors)."""
    return {
        "findingArn": _arn(deployed), "awsAccountId": ACCOUNT, "type": "CODE_VULNERABILITY", "severity": "MEDIUM",
        "status": "ACTIVE", "title": "CWE-89 - SQL injection",
        "description": "User-provided inputs must be sanitized before they are used to generate a SQL database query.",
        "firstObservedAt": first_seen, "lastObservedAt": now, "updatedAt": now,
        "codeVulnerabilityDetails": {
            "cwes": ["CWE-89"], "detectorId": "python/sql-injection@v1.0", "detectorName": "SQL injection",
            "detectorTags": ["injection", "security", "sql", "owasp-top10", "cwe-89", "Python"],
            "filePath": {"fileName": "app.py", "filePath": "app.py", "startLine": 41, "endLine": 41},
            "referenceUrls": ["https://cwe.mitre.org/data/definitions/89.html"], "ruleId": CODE_RULE},
        "resources": [_lambda_resource(deployed, function, layer=False)],
        "remediation": {"recommendation": {"text": "Use parameterized queries."}},
    }


def coverage_record(deployed: Deployed, function: str, scan_type: str, reason: str = "SUCCESSFUL") -> dict[str, Any]:
    """A ListCoverage ``CoveredResource`` of one of our functions."""
    return {"resourceId": f"arn:aws:lambda:{deployed.region}:{ACCOUNT}:function:{function}",
            "resourceType": "AWS_LAMBDA_FUNCTION", "scanType": scan_type,
            "scanStatus": {"statusCode": "ACTIVE" if reason == "SUCCESSFUL" else "INACTIVE", "reason": reason},
            "resourceMetadata": {"lambdaFunction": {"functionName": function, "runtime": "PYTHON_3_13"}}}


def _exception_toml(entry: Mapping[str, Any]) -> str:
    return "\n[[exception]]\n" + "".join(
        f"{k} = {v.isoformat() if isinstance(v, date) else json.dumps(v)}\n" for k, v in entry.items())


def build_world(deployed: Deployed, functions: Sequence[str], now: datetime, repo_exceptions: str) -> VulnWorld:
    """The pretend account's findings, coverage, exceptions file and earlier ledger state (pure: no AWS)."""
    roles = assign(functions)
    world = VulnWorld(now=now, deployed=deployed, functions=roles)
    high_vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
    specs = {
        "critical": package_finding(deployed, roles["critical"], vuln="CVE-2026-41001", package="urllib3",
                                    version="2.8.0", fixed="2.8.1", severity="CRITICAL", score=9.8,
                                    vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                                    first_seen=now - timedelta(days=3), now=now, in_layer=True, epss=0.41),
        "breach": package_finding(deployed, roles["breach"], vuln="CVE-2026-41002", package="requests",
                                  version="2.32.3", fixed="2.32.5", severity="HIGH", score=7.5, vector=high_vector,
                                  first_seen=now - timedelta(days=BREACH_DAYS), now=now, in_layer=False, epss=0.02),
        "code": code_finding(deployed, roles["code"], first_seen=now - timedelta(days=10), now=now),
        "closed": package_finding(deployed, roles["closed"], vuln="CVE-2026-41003", package="six", version="1.16.0",
                                  fixed="1.17.0", severity="LOW", score=3.1,
                                  vector="CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N",
                                  first_seen=now - timedelta(days=12), now=now, in_layer=False),
        "expired": package_finding(deployed, roles["expired"], vuln="CVE-2026-41004", package="sqlglot",
                                   version="30.30.0", fixed="30.31.0", severity="MEDIUM", score=5.3,
                                   vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:L/A:N",
                                   first_seen=now - timedelta(days=EXCEPTED_DAYS_AGO + 1), now=now, in_layer=True),
    }
    # The same layer CVE, also reported on a second function (Inspector has one finding per function).
    twin = json.loads(json.dumps(specs["critical"], default=str))
    twin.update(findingArn=_arn(deployed), resources=[_lambda_resource(deployed, roles["critical_2"], layer=True)])
    twin.update(firstObservedAt=specs["critical"]["firstObservedAt"], lastObservedAt=now, updatedAt=now)
    specs["critical_2"] = twin
    world.findings = list(specs.values())
    world.arns = {role: f["findingArn"] for role, f in specs.items()}
    ours = sorted(set(functions))
    # One record per function, the standard (PACKAGE) scan: the embedded Inspector keeps one coverage record per
    # resourceId, so a CODE record would replace it.
    world.coverage = [coverage_record(deployed, fn, "PACKAGE", STALE_REASON if fn == roles["stale"] else "SUCCESSFUL")
                      for fn in ours]
    today = now.date()
    world.expiring = {"id": CODE_RULE, "package": CODE_RULE, "resource": f"function:{roles['code']}",
                      "reason": "the query's only interpolated value is an enum of column names; parameterizing "
                                "it is scheduled", "approver": APPROVER,
                      "expires": today + timedelta(days=EXPIRING_IN_DAYS)}
    world.expired = {"id": "CVE-2026-41004", "package": "sqlglot", "resource": contracts.VULN_LAYER_RESOURCE,
                     "reason": "the affected dialect is never parsed; upgrade planned", "approver": APPROVER,
                     "expires": today - timedelta(days=EXPIRED_DAYS_AGO)}
    world.exceptions_text = (repo_exceptions.rstrip("\n") + "\n\n# opsctl's pretend account: one exception expiring "
                             "soon, one expired\n" + _exception_toml(world.expiring) + _exception_toml(world.expired))
    world.earlier = earlier_entry(world, specs["expired"])
    return world


def earlier_entry(world: VulnWorld, raw: Mapping[str, Any]) -> LedgerEntry:
    """The expired exception's finding as the ledger held it while the exception applied: first seen 51 days
    ago, excepted the day after (the account's history; the functions take it from there)."""
    [finding] = normalize_finding(json.loads(json.dumps(raw, default=_iso)),
                                  layer_resources=world.deployed.layer_resources)
    first = world.now - timedelta(days=EXCEPTED_DAYS_AGO + 1)
    excepted_at = world.now - timedelta(days=EXCEPTED_DAYS_AGO)
    e = world.expired
    ref = ExceptionRef(id=e["id"], approver=e["approver"], expires=e["expires"], reason=e["reason"])
    return LedgerEntry(
        finding=finding.model_copy(update={"observed_at": excepted_at}), state="excepted", first_seen=first,
        last_seen=excepted_at, reporting={"inspector": (raw["findingArn"],)}, exception=ref,
        history=(HistoryEvent(at=first, state="open", why="first reported by inspector"),
                 HistoryEvent(at=excepted_at, state="excepted", why=f"exception {e['id']} approved by "
                              f"{e['approver']} until {e['expires']}: {e['reason']}")))


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {value!r}")


def repo_exceptions() -> str:
    path = ROOT / FILE_NAME
    return path.read_text(encoding="utf-8") if path.exists() else ""


def seed_account(embedded: Any, world: VulnWorld) -> None:
    """Into the embedded AWS, in the order a real account got them: the ledger's earlier entry, the exceptions
    file, Inspector's coverage, then its findings (seeding a finding emits its event, which may reach
    on_finding at once: the ledger must already hold the earlier entry)."""
    from churnguard_ops.vulns.adapters_ledger import DynamoLedger

    if world.earlier is not None and DynamoLedger(world.deployed.table, world.deployed.region).get(
            world.earlier.key) is None:
        DynamoLedger(world.deployed.table, world.deployed.region).put(world.earlier)
    embedded.client("s3").put_object(Bucket=world.deployed.bucket, Key=world.deployed.exceptions_key,
                                     Body=world.exceptions_text.encode(), ContentType="application/toml")
    embedded.inspector2.seed_coverage(world.coverage)
    embedded.inspector2.seed_findings(world.findings)


# -- the build-time scanners, for real --------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildReport:
    source: str
    document: dict[str, Any]
    status: str  # checked / partly checked / not checked
    reason: str | None = None


def _audit_tools() -> Any:
    """``tools/audit`` (make audit's scanners): the repository's build tooling, not an installed package; opsctl
    runs from the checkout (its environment synthesizes this repository), so the checkout's root is importable."""
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    from tools.audit import findings, lockfile, scanners

    return findings, lockfile, scanners


def run_build_scanners(scanned_at: datetime) -> list[BuildReport]:
    """bandit (the layer and the handlers) and pip-audit (the layer's lock), as ``make audit`` runs them, each
    as the build report the ledger ingests. cdk-nag and cfn-lint need a synthesized app with cdk-nag's reports:
    ``make audit`` uploads those."""
    findings, lockfile, scanners = _audit_tools()
    with tempfile.TemporaryDirectory(prefix="opsctl-vulns-") as folder, ThreadPoolExecutor(max_workers=2) as pool:
        out = Path(folder)
        runs = [pool.submit(scanners.bandit, out), pool.submit(scanners.pip_audit, lockfile.LOCK, out)]
        outcomes = [r.result() for r in runs]
        return [BuildReport(o.source, findings.build_report(o, scanned_at), o.status, o.reason) for o in outcomes]


def build_report_key(run_id: str, source: str) -> str:
    return f"{contracts.VULNS_BUILD_REPORTS_PREFIX}{run_id}/{source}.json"


def object_created(bucket: str, key: str, region: str, size: int, now: datetime) -> dict[str, Any]:
    """The S3 "Object Created" EventBridge event of an uploaded build report (what ingest_build receives)."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created", "source": "aws.s3",
            "account": ACCOUNT, "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
            "resources": [f"arn:aws:s3:::{bucket}"],
            "detail": {"version": "0", "bucket": {"name": bucket},
                       "object": {"key": key, "size": size, "etag": uuid.uuid4().hex, "sequencer": "0"},
                       "request-id": uuid.uuid4().hex[:16].upper(), "requester": ACCOUNT, "reason": "PutObject"}}
