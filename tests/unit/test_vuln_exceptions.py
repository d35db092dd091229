"""The exceptions file: parsing with tomllib, scoping rules, matching by id or alias, expiry."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from churnguard_ops.vulns.exceptions import covers, load_exceptions, parse_exceptions
from tests.unit.vulns_fakes import package_finding, rule_finding

TODAY = date(2026, 11, 30)


def toml(*entries: str) -> str:
    return "\n".join(f"[[exception]]\n{e}" for e in entries)


def entry(id: str = "CVE-2023-43804", package: str = "urllib3", resource: str = "layer:ops",
          expires: str = "2027-01-15", **extra: str) -> str:
    lines = [f'id = "{id}"', f'package = "{package}"', f'resource = "{resource}"',
             'reason = "not reachable: we never send Cookie headers across origins"',
             'approver = "alice@churnguard.example"', f"expires = {expires}"]
    lines += [f'{k} = "{v}"' for k, v in extra.items()]
    return "\n".join(lines)


def test_a_scoped_entry_applies_and_matches_by_id_or_alias() -> None:
    exc = parse_exceptions(toml(entry(id="GHSA-v845-jxx5-vc9f")), TODAY)
    assert exc.ok and len(exc.active) == 1
    cve = package_finding("inspector", "CVE-2023-43804", aliases=("GHSA-v845-jxx5-vc9f",))
    assert exc.match(cve) is exc.active[0]
    assert exc.match(package_finding("inspector", "CVE-2023-45803")) is None


def test_package_and_resource_must_match_too() -> None:
    exc = parse_exceptions(toml(entry()), TODAY)
    assert exc.match(package_finding("pip-audit", "CVE-2023-43804", package="requests")) is None
    assert exc.match(package_finding("pip-audit", "CVE-2023-43804", resource="function:x")) is None
    assert exc.match(package_finding("pip-audit", "CVE-2023-43804", package="URLLib3")) is not None


def test_a_glob_within_one_kind_matches_that_kind_only() -> None:
    exc = parse_exceptions(toml(entry(resource="function:churnguard-ops-*")), TODAY)
    assert exc.ok
    assert exc.match(package_finding("inspector", "CVE-2023-43804", resource="function:churnguard-ops-cost")) \
        is not None
    assert exc.match(package_finding("inspector", "CVE-2023-43804", resource="function:other-app")) is None


def test_rule_exceptions_name_the_rule_as_id_and_package() -> None:
    exc = parse_exceptions(toml(entry(id="B608", package="B608", resource="code:functions/reports/app.py")), TODAY)
    assert exc.match(rule_finding("bandit", "B608", "code:functions/reports/app.py")) is not None
    wrong_package = parse_exceptions(toml(entry(id="B608", package="urllib3", resource="code:functions/*")), TODAY)
    assert not covers(wrong_package.active[0], rule_finding("bandit", "B608", "code:functions/reports/app.py"))


def test_unscoped_entries_are_problems_naming_the_entry_and_field_and_never_apply() -> None:
    text = toml(entry(), "id = \"CVE-2023-45803\"\npackage = \"urllib3\"\nreason = \"x\"\napprover = \"a\"\n"
                "expires = 2027-01-01", entry(resource="*"), entry(resource="*:ops"), entry(resource="function:*"))
    exc = parse_exceptions(text, TODAY)
    assert len(exc.active) == 1 and not exc.ok
    assert exc.problems[0] == ("exception 2 (CVE-2023-45803): field 'resource' is missing or empty (an exception "
                               "must be scoped)")
    assert exc.problems[1].startswith("exception 3 (CVE-2023-43804): field 'resource' '*' spans every kind")
    assert exc.problems[2].startswith("exception 4 (CVE-2023-43804): field 'resource' '*:ops' spans every kind")
    assert exc.problems[3].startswith("exception 5 (CVE-2023-43804): field 'resource' 'function:*' is every")


def test_expiry_more_than_365_days_away_is_a_problem_365_is_fine() -> None:
    exc = parse_exceptions(toml(entry(expires="2027-11-30"), entry(expires="2027-12-01")), TODAY)
    assert [e.index for e in exc.active] == [1]
    assert exc.problems == ("exception 2 (CVE-2023-43804): field 'expires' 2027-12-01 is more than 365 days away",)


def test_expires_must_be_a_toml_date() -> None:
    exc = parse_exceptions(toml(entry(expires='"2027-01-15"'), entry(expires="2027-01-15T00:00:00Z")), TODAY)
    assert not exc.active and len(exc.problems) == 2
    assert all("must be a TOML date" in p for p in exc.problems)


def test_the_last_day_still_applies_the_day_after_it_is_expired_and_a_problem() -> None:
    assert parse_exceptions(toml(entry(expires="2026-11-30")), TODAY).ok
    exc = parse_exceptions(toml(entry(expires="2026-11-29")), TODAY)
    assert not exc.active and [e.id for e in exc.expired] == ["CVE-2023-43804"]
    assert exc.problems == ("exception 1 (CVE-2023-43804): expired on 2026-11-29",)
    assert exc.expired_match(package_finding("pip-audit", "CVE-2023-43804")) is exc.expired[0]


def test_expiring_within_14_days_listed_soonest_first() -> None:
    exc = parse_exceptions(toml(entry(id="CVE-1", expires="2026-12-14"), entry(id="CVE-2", expires="2026-12-15"),
                                entry(id="CVE-3", expires="2026-12-01")), TODAY)
    assert [e.id for e in exc.expiring(TODAY)] == ["CVE-3", "CVE-1"]


def test_unknown_fields_and_invalid_toml_are_problems() -> None:
    assert parse_exceptions(toml(entry(expiry="2027-01-01")), TODAY).problems == (
        "exception 1 (CVE-2023-43804): unknown field 'expiry'",)
    [problem] = parse_exceptions("[[exception]\nid = 1", TODAY).problems
    assert problem.startswith("vulnerability-exceptions.toml: not valid TOML")


def test_no_file_means_no_exceptions(tmp_path: Path) -> None:
    exc = load_exceptions(tmp_path / "vulnerability-exceptions.toml", TODAY)
    assert exc.ok and not exc.active
