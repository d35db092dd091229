"""The layer's lock file (``layers/ops/requirements.lock``): parsed, and checked against requirements.txt.

Pure (packaging only, no pip, no network), so a unit test and ``make audit`` can both run it cheaply.
"""

from __future__ import annotations

import re
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO_ROOT / "layers" / "ops" / "requirements.txt"
LOCK = REPO_ROOT / "layers" / "ops" / "requirements.lock"
_COMMENT = re.compile(r"(^|\s)#.*$")


class LockError(ValueError):
    """A requirements or lock file that cannot be used as it is (one line says what and where)."""


def _lines(text: str) -> list[tuple[int, str]]:
    """Non-blank lines without comments, with their 1-based numbers."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw).strip()  # pip's rule: '#' at the start or after whitespace
        if line:
            out.append((number, line))
    return out


def parse_requirements(text: str, *, name: str = "requirements.txt") -> list[Requirement]:
    """The requirement lines; pip options (``-r``, ``--index-url`` ...) are refused: the lock would not see them."""
    requirements = []
    for number, line in _lines(text):
        if line.startswith("-"):
            raise LockError(f"{name}:{number}: pip options are not supported here: {line}")
        try:
            requirements.append(Requirement(line))
        except InvalidRequirement as exc:
            raise LockError(f"{name}:{number}: {exc}") from None
    return requirements


def parse_lock(text: str, *, name: str = "requirements.lock") -> dict[NormalizedName, Version]:
    """Each line exactly ``name==version`` (no extras, no markers), each package once."""
    pins: dict[NormalizedName, Version] = {}
    for number, line in _lines(text):
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise LockError(f"{name}:{number}: {exc}") from None
        specs = list(requirement.specifier)
        if requirement.extras or requirement.marker or requirement.url or len(specs) != 1 or specs[0].operator != "==":
            raise LockError(f"{name}:{number}: not a plain pin (name==version): {line}")
        try:
            version = Version(specs[0].version)
        except InvalidVersion:
            raise LockError(f"{name}:{number}: not an exact version: {line}") from None
        key = canonicalize_name(requirement.name)
        if key in pins:
            raise LockError(f"{name}:{number}: {key} is pinned twice")
        pins[key] = version
    return pins


def unsatisfied(requirements: list[Requirement], pins: dict[NormalizedName, Version]) -> list[str]:
    """Why the pins do not satisfy the requirements (empty: they do)."""
    problems = []
    for requirement in requirements:
        key = canonicalize_name(requirement.name)
        if key not in pins:
            problems.append(f"{requirement.name} is required but not locked")
        elif not requirement.specifier.contains(pins[key], prereleases=True):
            problems.append(f"{key}=={pins[key]} does not satisfy {requirement}")
    return problems


def check(requirements_path: Path = REQUIREMENTS, lock_path: Path = LOCK) -> dict[NormalizedName, Version]:
    """The lock's pins, or LockError when it is missing, malformed or out of date with requirements.txt."""
    if not lock_path.is_file():
        raise LockError(f"{lock_path.name} is missing: run `make lock`")
    requirements = parse_requirements(requirements_path.read_text(), name=requirements_path.name)
    pins = parse_lock(lock_path.read_text(), name=lock_path.name)
    problems = unsatisfied(requirements, pins)
    if problems:
        raise LockError(f"{lock_path.name} is out of date with {requirements_path.name} ({'; '.join(problems)}): "
                        "run `make lock`")
    return pins
