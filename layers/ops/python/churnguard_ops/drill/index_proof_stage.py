"""The ProveIndexes stage: the drilled source's proposals, proven on the copy, as one report section.

Advisory: whatever goes wrong (no bucket, a malformed document, a refused connection, SQL errors) ends up
in the section's status and message, and the drill's verdict does not depend on it. Only a guard
violation is raised: something pointed the stage away from the drill's own copy.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from churnguard_ops.core.errors import OpsError
from churnguard_ops.drill.errors import GuardViolation
from churnguard_ops.drill.model import DrillState
from churnguard_ops.drill.proof_model import IndexProofReport
from churnguard_ops.drill.proposals import load_proposals, proposals_key, select

if TYPE_CHECKING:
    from churnguard_ops.drill.validation import DrillValidator


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}"


def prove_on_copy(validator: DrillValidator, state: DrillState,
                  time_left: Callable[[], float] | None = None) -> IndexProofReport:
    settings, clock = validator.settings, validator.clock
    source = state.plan.source_instance if state.plan else state.source_instance
    if not settings.prove_indexes:
        return IndexProofReport(status="disabled", message="index proof disabled (drill.prove_indexes)",
                                source_instance=source)
    if state.plan is None or source is None:
        return IndexProofReport(status="error", message="the drill has no plan: no copy to prove indexes on")
    key = proposals_key(source)
    base: dict[str, Any] = {"source_instance": source, "proposals_key": key}
    if validator.documents is None:
        return IndexProofReport(status="error", message="no ops bucket configured (DRILL_BUCKET) to read "
                                                        "index proposals from", **base)
    try:
        document = load_proposals(validator.documents, source)
    except (OpsError, ValidationError, ValueError) as exc:
        return IndexProofReport(status="error", message=f"index proposals unreadable: {_first_line(exc)}", **base)
    if document is None:
        return IndexProofReport(status="no_advice", message=f"no advice yet for {source}", **base)
    chosen, left_out = select(document, settings.max_index_proposals)
    base.update(generated_at=document.generated_at, left_out=left_out)
    if not chosen:
        return IndexProofReport(status="nothing_to_prove", message=f"nothing to prove: the advisor proposed no "
                                                                   f"index for {source}", **base)
    from churnguard_ops.drill.index_proof import IndexProver  # psycopg2 loads only where it connects

    try:
        conn, endpoint = validator.connect_copy(state)
    except GuardViolation:
        raise
    except Exception as exc:  # advisory: a copy we cannot reach is reported, not a failed drill
        return IndexProofReport(status="error", message=f"cannot connect to the copy: {_first_line(exc)}", **base)
    try:
        prover = IndexProver(conn, statement_timeout_ms=settings.statement_timeout_ms,
                             build_timeout_ms=settings.proof_build_timeout_ms,
                             max_statements=settings.max_proof_statements, time_left=time_left)
        proofs = [prover.prove(p) for p in chosen]
    except Exception as exc:  # noqa: BLE001 - advisory stage: recorded in its section, never a failed drill
        return IndexProofReport(status="error", message=f"index proof failed on {endpoint}: {_first_line(exc)}",
                                **base)
    finally:
        conn.close()
    proven = [p for p in proofs if p.status == "proven"]
    return IndexProofReport(status="proven", proposals=proofs, proved_at=clock().isoformat(),
                            message=f"{len(proven)} of {len(proofs)} proposal(s) proven on the copy"
                                    + (f" ({left_out} more left out: drill.max_index_proposals)" if left_out else ""),
                            **base)
