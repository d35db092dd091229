"""Finding identity across sources: canonical ids, stable keys, merging."""
from __future__ import annotations

from datetime import timedelta

from churnguard_ops.vulns.keys import canonical_id, dedup, normalize_package
from churnguard_ops.vulns.model import Cvss
from churnguard_ops.vulns.normalize import inspector, pip_audit
from tests.unit.vulns_fakes import LAYERS, T0, package_finding, sample, sample_json


def test_canonical_id_prefers_cve_then_ghsa_then_pysec() -> None:
    assert canonical_id(["PYSEC-2023-192", "GHSA-v845-jxx5-vc9f", "CVE-2023-43804"]) == (
        "CVE-2023-43804", ("GHSA-v845-jxx5-vc9f", "PYSEC-2023-192"))
    assert canonical_id(["PYSEC-2024-60", "GHSA-jjg7-2v4v-x38h"])[0] == "GHSA-jjg7-2v4v-x38h"
    assert canonical_id(["PYSEC-2024-60", "OSV-2024-1"])[0] == "PYSEC-2024-60"


def test_package_names_are_pep503_normalized() -> None:
    assert normalize_package("PyYAML") == "pyyaml"
    assert normalize_package("Typing_Extensions") == normalize_package("typing.extensions") == "typing-extensions"


def test_pip_audit_pysec_with_cve_alias_and_inspector_cve_on_the_layer_are_one_finding_of_two_sources() -> None:
    audit = pip_audit.normalize(sample("pip-audit.json"), scanned_at=T0).findings
    seen = inspector.normalize(sample_json("inspector-findings.json")["findings"], layer_resources=LAYERS)
    merged = dedup([*audit, *seen])
    cookie = [f for f in merged if "CVE-2023-43804" in f.all_ids]
    assert len(cookie) == 1
    f = cookie[0]
    assert f.sources == ("inspector", "pip-audit")
    assert f.key == next(a.key for a in audit if a.vuln_id == "CVE-2023-43804")
    assert f.aliases == ("GHSA-v845-jxx5-vc9f", "PYSEC-2023-192")
    # pip-audit had no severity: Inspector's (with its CVSS) wins over "unknown"
    assert f.severity == "high" and f.severity_note is None and f.cvss is not None and f.cvss.score == 8.1
    assert f.fixed_versions == ("1.26.17", "2.0.6")


def test_sources_sharing_only_a_ghsa_alias_are_merged_under_the_cve() -> None:
    only_ghsa = package_finding("pip-audit", "GHSA-v845-jxx5-vc9f", aliases=("PYSEC-2023-192",))
    with_cve = package_finding("inspector", "CVE-2023-43804", aliases=("GHSA-v845-jxx5-vc9f",),
                               at=T0 + timedelta(hours=1))
    assert only_ghsa.key != with_cve.key
    [f] = dedup([only_ghsa, with_cve])
    assert f.vuln_id == "CVE-2023-43804" and f.key == with_cve.key and f.sources == ("inspector", "pip-audit")


def test_same_cve_on_different_resources_or_packages_stays_separate() -> None:
    a = package_finding("pip-audit", "CVE-2023-43804")
    b = package_finding("inspector", "CVE-2023-43804", resource="function:churnguard-ops-cost-report")
    c = package_finding("inspector", "CVE-2023-43804", package="requests")
    assert len({a.key, b.key, c.key}) == 3 and len(dedup([a, b, c])) == 3


def test_merge_keeps_the_higher_cvss_and_worst_known_severity() -> None:
    low = package_finding("pip-audit", "CVE-1", severity="medium", cvss=Cvss(score=5.0, source="GHSA"))
    high = package_finding("inspector", "CVE-1", severity="critical", cvss=Cvss(score=9.8, source="NVD"))
    [f] = dedup([low, high])
    assert (f.severity, f.cvss.score if f.cvss else None) == ("critical", 9.8)
