"""Demo steps of the dbadvisor capability."""
from __future__ import annotations

from collections.abc import Callable

from opsctl.commands.demo_steps import Step

DBADVISOR_SCENARIOS: list[Callable[..., Step]] = []
