"""Integrity-check building blocks: result/spec/context models and the IntegrityCheck base class.

A check is a plugin (:mod:`churnguard_ops.core.registry`): one class in one module with a ``name``, a
pydantic ``Params`` model (extra=forbid, so a typo in DRILL_CHECKS is an error rather than a silently
ignored setting), a docstring with an example, and ``run(conn, params, context) -> CheckResult``.
Checks only run SQL on the copy, so they declare no IAM ``permissions``. run_checks owns transactions
and timeouts.

What a result's status means, and how it counts toward the drill's ``data_integrity`` verdict:

================  ===========================================================  ===================
status            meaning                                                      data_integrity
================  ===========================================================  ===================
passed            it ran and found nothing wrong                               counts as proof
failed            it ran and found problems (named in detail and findings)     fails it
error             it could not run: bad spec, SQL error, statement timeout      fails it
not_applicable    it ran but found nothing to check here (no foreign keys,     neither: reported as
                  no sequences, no baseline, no btree indexes...)              not proving anything
skipped           the environment cannot run it (extension unavailable)        neither: reported
================  ===========================================================  ===================

A drill whose checks are all not_applicable or skipped proved nothing, so ``data_integrity`` also needs
at least one check that ran and passed (see ``validation.DrillValidator.validate``).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from churnguard_ops.core.registry import Plugin, PluginParams

__all__ = ["NOT_APPLICABLE", "CheckContext", "CheckParams", "CheckResult", "CheckSpec", "IntegrityCheck", "Status"]

Status = Literal["passed", "failed", "not_applicable", "skipped", "error"]
NOT_APPLICABLE = "not applicable: "  # how a not_applicable detail starts; the reason follows


class CheckResult(BaseModel):
    name: str
    status: Status
    detail: str
    findings: list[dict[str, Any]] = Field(default_factory=list)
    duration_ms: float | None = None  # filled in by run_checks

    @property
    def passed(self) -> bool:
        """It ran and found nothing wrong. Only this proves anything about the data."""
        return self.status == "passed"

    @property
    def failing(self) -> bool:
        """Fails data_integrity: problems found, or the check could not run as configured."""
        return self.status in ("failed", "error")

    @property
    def ran(self) -> bool:
        """It checked something: passed or failed (not_applicable, skipped and error did not)."""
        return self.status in ("passed", "failed")


class CheckSpec(BaseModel):
    """One entry of DRILL_CHECKS: {"check": name, "params": {...}}."""

    model_config = ConfigDict(extra="forbid")

    check: str
    params: dict[str, Any] = Field(default_factory=dict)
    # Optional per-check override of CheckContext.statement_timeout_ms (amcheck on big indexes).
    statement_timeout_ms: int | None = Field(default=None, gt=0)


class CheckContext(BaseModel):
    baseline: dict[str, int] | None = None  # "schema.table" -> row count captured at backup time
    statement_timeout_ms: int = Field(default=30000, gt=0)


class CheckParams(PluginParams):
    """Base for every check's Params: unknown keys are rejected."""


ParamsT = TypeVar("ParamsT", bound=PluginParams)


class IntegrityCheck(Plugin, ABC, Generic[ParamsT]):
    """Base class. Subclasses set ``name`` and ``Params`` and implement ``run``.

    ``run`` receives a connection that is already inside a transaction with ``statement_timeout``
    set; it may raise (the registry turns exceptions into status "error") and must not commit.
    """

    name: ClassVar[str]
    Params: ClassVar[type[PluginParams]] = CheckParams

    @abstractmethod
    def run(self, conn: Any, params: ParamsT, context: CheckContext) -> CheckResult:
        ...

    # Small constructors keep check bodies about SQL, not about result plumbing.
    def result(self, status: Status, detail: str, findings: list[dict[str, Any]] | None = None) -> CheckResult:
        return CheckResult(name=self.name, status=status, detail=detail, findings=findings or [])

    def not_applicable(self, reason: str, findings: list[dict[str, Any]] | None = None) -> CheckResult:
        """Nothing to check in this database: not a pass, and the reason says why."""
        return self.result("not_applicable", NOT_APPLICABLE + reason, findings)
