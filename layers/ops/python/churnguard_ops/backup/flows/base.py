"""What every policy flow is: one tick of one policy, recording an outcome per target."""
from __future__ import annotations

from typing import Protocol

from churnguard_ops.backup.events import BackupTick
from churnguard_ops.backup.model import BackupReport
from churnguard_ops.backup.policy import BackupPolicy


class PolicyFlow(Protocol):
    def run(self, report: BackupReport, policy: BackupPolicy, tick: BackupTick) -> None:
        """Try every target; record each outcome in ``report``; never raise for one target's failure."""
        ...
