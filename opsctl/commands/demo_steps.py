"""A demo step: a title and the checks that prove it, printed as they are made."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class Step:
    title: str
    checks: list[Check] = field(default_factory=list)
    #: How long the scenario took, set by the demo runner (the summary shows where the time goes).
    seconds: float = 0.0

    def __post_init__(self) -> None:
        print(f"\n== {self.title}")

    def expect(self, name: str, condition: bool, detail: str = "") -> None:
        self.checks.append(Check(name, bool(condition), detail))
        print(f"    [{'ok' if condition else 'FAIL':>4}] {name}{': ' + detail if detail else ''}")

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)
