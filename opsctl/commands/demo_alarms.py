"""Demo steps of alarm-driven automation and incident response."""
from __future__ import annotations

from collections.abc import Callable

from opsctl.commands.demo_steps import Step

ALARMS_SCENARIOS: list[Callable[..., Step]] = []
