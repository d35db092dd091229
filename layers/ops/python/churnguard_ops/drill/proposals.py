"""The advisor's index proposals, as the drill reads them (its own model of the shared document shape).

The PostgreSQL advisor writes ``dbadvisor/proposals/<db instance id>.json`` to the ops bucket; the drill
never imports the advisor, so this module models the document itself and a test checks it against the
contract's example. A missing document means "never advised"; ``"proposals": []`` means "advised,
nothing to prove".
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from churnguard_ops.core import contracts
from churnguard_ops.core.ports import Documents


class _Doc(BaseModel):
    # The advisor may add fields; the drill reads what it needs.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class StatementParameter(_Doc):
    """A ``$n`` placeholder the advisor attributed to a ``table.column`` comparison."""

    position: int = Field(ge=1)
    schema_name: str = Field(alias="schema", min_length=1)
    table: str = Field(min_length=1)
    column: str = Field(min_length=1)


class ProposalStatement(_Doc):
    queryid: str | None = None
    text: str = Field(min_length=1)  # pg_stat_statements' normalized text, with $n placeholders
    calls: int = Field(default=1, ge=0)
    mean_ms: float | None = None
    parameters: list[StatementParameter] = Field(default_factory=list)


class IndexProposal(_Doc):
    id: str = Field(min_length=1)
    schema_name: str = Field(alias="schema", min_length=1)
    table: str = Field(min_length=1)
    columns: list[str] = Field(min_length=1)  # index order; raw names, quoted by the consumer
    sql: str = ""
    statements: list[ProposalStatement] = Field(default_factory=list)

    @property
    def label(self) -> str:
        """``events(org_id, kind)``: how reports name the proposal."""
        table = self.table if self.schema_name == "public" else f"{self.schema_name}.{self.table}"
        return f"{table}({', '.join(self.columns)})"


class IndexProposals(_Doc):
    schema_version: Literal[1]  # contracts.INDEX_PROPOSALS_SCHEMA_VERSION
    db_instance_id: str = Field(min_length=1)
    database: str | None = None
    generated_at: str | None = None
    proposals: list[IndexProposal] = Field(default_factory=list)


def proposals_key(instance_id: str) -> str:
    return f"{contracts.DBADVISOR_PROPOSALS_PREFIX}{instance_id}.json"


def load_proposals(documents: Documents, instance_id: str) -> IndexProposals | None:
    """The latest proposals for ``instance_id``; None when the advisor never wrote any.

    A document of another instance or of an unknown schema version is an error (pydantic's message),
    not silently "nothing to prove".
    """
    raw = documents.load(proposals_key(instance_id))
    if raw is None:
        return None
    document = IndexProposals.model_validate(raw)
    if document.db_instance_id != instance_id:
        raise ValueError(f"{proposals_key(instance_id)} is for {document.db_instance_id}, not {instance_id}")
    return document


def select(document: IndexProposals, max_proposals: int) -> tuple[list[IndexProposal], int]:
    """The proposals to prove, in the advisor's order (it ranks them), and how many were left out."""
    chosen = document.proposals[:max_proposals]
    return chosen, len(document.proposals) - len(chosen)

