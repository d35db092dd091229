"""Demo steps of the performance capability."""
from __future__ import annotations

from collections.abc import Callable

from opsctl.commands.demo_steps import Step

PERFORMANCE_SCENARIOS: list[Callable[..., Step]] = []
