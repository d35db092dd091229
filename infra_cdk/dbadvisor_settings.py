"""The ``dbadvisor`` context: which databases the PostgreSQL advisor reads, how, and when."""
from __future__ import annotations

from infra_cdk.context_types import _Strict


class DbAdvisorContext(_Strict):
    """The PostgreSQL advisor."""

    def lambda_environment(self) -> dict[str, str]:
        return {}
