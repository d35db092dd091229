"""The seed's phased implementation plan, with each phase's saving summed from the chosen recommendations.

Each resource's single chosen recommendation lands in the phase of its effort:

1. Quick wins (low effort): delete unattached volumes, gp2 -> gp3, rightsize severely underutilised
   instances.
2. Rightsizing and Multi-AZ review (medium effort): one size down for underutilised instances and
   databases, oversized volumes; production databases without Multi-AZ are reviewed (a cost, not a saving).
3. Commitments (high effort, long-term): Reserved Instances or Savings Plans for steady instances.

A phase's saving is the sum of its recommendations' savings, and the plan's total the sum of the phases:
the same figure as the report's potential saving (the seed's builder used an undefined total instead).
Notes (Multi-AZ, backup retention, gp3 not cheaper) are counted in the descriptions, never in a saving.
"""
from __future__ import annotations

from collections.abc import Sequence

from churnguard_ops.cost.model import Effort, Phase, Recommendation, ResourceResult

PHASES: tuple[tuple[int, str, Effort, str], ...] = (
    (1, "Quick wins", "low", "Low effort, days: delete unattached volumes (after a snapshot), move gp2 volumes to "
     "gp3, rightsize severely underutilised instances."),
    (2, "Rightsizing and Multi-AZ review", "medium", "Medium effort, weeks: one size down for underutilised "
     "instances and databases, shrink oversized volumes, review Multi-AZ for production databases."),
    (3, "Commitments", "high", "High effort, long-term: Reserved Instances or Savings Plans for steady instances, "
     "after the rightsizing (commit to the sizes you keep)."),
)


def chosen(results: Sequence[ResourceResult]) -> list[Recommendation]:
    """Every resource's chosen recommendation that saves something, largest saving first."""
    recs = [r.chosen for r in results if r.chosen is not None and not r.chosen.note and r.chosen.monthly_saving_usd > 0]
    return sorted(recs, key=lambda r: (-r.monthly_saving_usd, r.resource_id))


def build_plan(results: Sequence[ResourceResult]) -> list[Phase]:
    """The three phases (always all three, a phase with nothing to do saves $0)."""
    recs = chosen(results)
    reviews = sum(1 for r in results for n in r.notes if n.rule == "rds_multi_az_production")
    phases = []
    for number, name, effort, description in PHASES:
        mine = [r for r in recs if r.effort == effort]
        if number == 2 and reviews:
            description += f" {reviews} production database(s) to review for Multi-AZ (adds cost, not counted)."
        phases.append(Phase(number=number, name=name, description=description,
                            recommendations=[r.resource_id for r in mine],
                            monthly_saving_usd=round(sum(r.monthly_saving_usd for r in mine), 2)))
    return phases


def plan_total(phases: Sequence[Phase]) -> float:
    return round(sum(p.monthly_saving_usd for p in phases), 2)
