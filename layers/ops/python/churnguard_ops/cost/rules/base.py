"""Cost rule building blocks: the CostRule plugin kind, its verdict (Outcome) and what it may use.

A cost rule is a plugin (:mod:`churnguard_ops.core.registry`): one class in one module with a ``name``,
a pydantic ``Params`` (extra=forbid), ``applies_to`` (the resource kind it judges), an ``effort`` (which
phase of the plan its recommendations land in), ``permissions`` (the IAM actions its evidence and prices
need) and a docstring with an example.

``evaluate(resource, evidence, prices, ctx)`` returns None when the rule has nothing to say, else an
:class:`Outcome`: a recommendation (with its maths), a note, or why there is no verdict (insufficient
data, a veto, nothing cheaper). A price the rule needs and the price book lacks raises
:class:`MissingPrice`; the analysis reports it as insufficient data for that resource.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from churnguard_ops.core.registry import Plugin, PluginParams, PluginRegistry
from churnguard_ops.cost.model import (
    Category,
    EbsVolume,
    Ec2Instance,
    Effort,
    Evidence,
    Maths,
    RdsInstance,
    Recommendation,
    ResourceKind,
)
from churnguard_ops.cost.ports import PriceBook

__all__ = ["COST_RULES", "CATEGORY", "CostRule", "MissingPrice", "Outcome", "OutcomeStatus", "Resource",
           "RuleContext", "describe", "kind_of", "resource_id"]

Resource = Ec2Instance | RdsInstance | EbsVolume
OutcomeStatus = Literal["recommended", "note", "insufficient_data", "vetoed", "no_action"]
CATEGORY: dict[ResourceKind, Category] = {"ec2": "compute", "rds": "database", "ebs": "storage"}


class MissingPrice(LookupError):
    """The price book has no price the rule needs (the message names it)."""


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What every rule shares: the minimum number of data points for a verdict (hourly points: 30 by
    default, i.e. 30 hours of data)."""

    min_points: int = 30


@dataclass(frozen=True, slots=True)
class Outcome:
    """One rule's verdict on one resource. ``recommendation`` is set for ``recommended`` and ``note``."""

    status: OutcomeStatus
    rule: str
    reason: str
    recommendation: Recommendation | None = None


def kind_of(resource: Resource) -> ResourceKind:
    if isinstance(resource, Ec2Instance):
        return "ec2"
    return "rds" if isinstance(resource, RdsInstance) else "ebs"


def resource_id(resource: Resource) -> str:
    if isinstance(resource, Ec2Instance):
        return resource.instance_id
    return resource.db_instance_id if isinstance(resource, RdsInstance) else resource.volume_id


def describe(resource: Resource) -> str:
    """``m5.xlarge (web-1)``, ``db.r5.large postgres (orders)``, ``gp2 500 GB (data)``."""
    label = resource.tags.get("Name")
    if isinstance(resource, Ec2Instance):
        text = resource.instance_type
    elif isinstance(resource, RdsInstance):
        text, label = f"{resource.instance_class} {resource.engine}", label or resource.db_instance_id
    else:
        text = f"{resource.volume_type} {resource.size_gb} GB"
    return f"{text} ({label})" if label else text


class CostRule(Plugin, ABC):
    """Base of every cost rule. Subclasses set ``name``, ``Params``, ``applies_to``, ``effort``."""

    applies_to: ClassVar[ResourceKind]
    effort: ClassVar[Effort] = "medium"
    Params: ClassVar[type[PluginParams]] = PluginParams

    def __init__(self, params: PluginParams | Mapping[str, Any] | None = None) -> None:
        if not isinstance(params, PluginParams):
            params = COST_RULES.validate(self.name, params)
        self.params = params

    def applies(self, resource: Resource) -> bool:
        return kind_of(resource) == self.applies_to

    @abstractmethod
    def evaluate(self, resource: Resource, evidence: Mapping[str, Evidence], prices: PriceBook,
                 ctx: RuleContext) -> Outcome | None:
        ...

    # --- verdict helpers ---------------------------------------------------------------------------

    def recommend(self, resource: Resource, *, action: str, reason: str, saving: float, maths: Maths | None,
                  evidence: list[Evidence], note: bool = False) -> Outcome:
        kind = kind_of(resource)
        rec = Recommendation(resource_id=resource_id(resource), resource_kind=kind, category=CATEGORY[kind],
                             rule=self.name, action=action, reason=reason,
                             monthly_saving_usd=0.0 if note else round(max(saving, 0.0), 2), maths=maths,
                             evidence=evidence, effort=self.effort, note=note)
        return Outcome("note" if note else "recommended", self.name, reason, rec)

    def verdict(self, status: OutcomeStatus, reason: str) -> Outcome:
        return Outcome(status, self.name, reason)


#: Every cost rule, by name. ``opsctl plugins list --kind cost_rule`` documents them.
COST_RULES: PluginRegistry[CostRule] = PluginRegistry("cost_rule")
