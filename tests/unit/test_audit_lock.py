"""The layer's lock file: complete for requirements.txt, each package once, and refused when it is not."""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tools.audit.lockfile import LOCK, REQUIREMENTS, LockError, check, parse_lock, parse_requirements, unsatisfied


def test_the_repository_lock_satisfies_every_specifier_of_requirements_txt() -> None:
    pins = check()
    for requirement in parse_requirements(REQUIREMENTS.read_text()):
        pinned = pins[canonicalize_name(requirement.name)]
        assert pinned in SpecifierSet(str(requirement.specifier), prereleases=True), requirement


def test_the_repository_lock_names_no_package_twice_and_pins_each_exactly() -> None:
    lines = [line for line in LOCK.read_text().splitlines() if line and not line.startswith("#")]
    names = [line.split("==")[0].lower() for line in lines]
    assert len(names) == len(set(names))
    assert all(line.count("==") == 1 for line in lines)
    assert len(parse_lock(LOCK.read_text())) == len(lines)


def test_the_repository_lock_leaves_out_what_the_lambda_runtime_provides() -> None:
    assert {"boto3", "botocore", "s3transfer"}.isdisjoint(parse_lock(LOCK.read_text()))


def test_a_package_pinned_twice_is_refused_naming_it() -> None:
    with pytest.raises(LockError, match="requirements.lock:3: urllib3 is pinned twice"):
        parse_lock("# header\nurllib3==2.8.0\nURLLIB3==2.8.1\n")


@pytest.mark.parametrize("line", ["pydantic>=2.7", "pydantic==2.*", "pydantic[email]==2.14.4",
                                  "pydantic==2.14.4; python_version < '3.12'", "pydantic"])
def test_anything_but_a_plain_exact_pin_is_refused(line: str) -> None:
    with pytest.raises(LockError, match="requirements.lock:1: not"):
        parse_lock(line + "\n")


def test_a_pin_outside_the_required_range_is_reported() -> None:
    requirements = parse_requirements("pydantic>=2.7,<3\n")
    assert unsatisfied(requirements, parse_lock("pydantic==3.0.0\n")) == [
        "pydantic==3.0.0 does not satisfy pydantic<3,>=2.7"]


def test_a_required_package_missing_from_the_lock_is_reported() -> None:
    requirements = parse_requirements("aws-lambda-powertools[tracer]==3.37.0\nsqlglot==30.30.0\n")
    assert unsatisfied(requirements, parse_lock("aws_lambda_powertools==3.37.0\n")) == [
        "sqlglot is required but not locked"]


def test_pip_options_in_requirements_are_refused() -> None:
    with pytest.raises(LockError, match="requirements.txt:2: pip options are not supported"):
        parse_requirements("pydantic>=2\n--index-url https://example.invalid/simple\n")


def test_an_out_of_date_lock_fails_the_check_and_says_how_to_fix_it(tmp_path) -> None:
    (tmp_path / "requirements.txt").write_text("sqlglot==30.31.0  # newer\n")
    (tmp_path / "requirements.lock").write_text("sqlglot==30.30.0\n")
    with pytest.raises(LockError, match=r"out of date .*sqlglot==30.30.0 does not satisfy .*run `make lock`"):
        check(tmp_path / "requirements.txt", tmp_path / "requirements.lock")


def test_a_missing_lock_fails_the_check(tmp_path) -> None:
    (tmp_path / "requirements.txt").write_text("sqlglot==30.30.0\n")
    with pytest.raises(LockError, match="requirements.lock is missing: run `make lock`"):
        check(tmp_path / "requirements.txt", tmp_path / "requirements.lock")
