"""Test doubles of the security ports (see churnguard_ops.security.ports)."""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from churnguard_ops.security.ports import Entry, WindowView
from churnguard_ops.security.state import Slot, apply_add, apply_claim


class ConditionalWriteState:
    """DetectorState as a DynamoDB adapter would do it: read an item, apply the pure transition to a copy,
    write it back only if the item's version is still the one read, else read again and retry.

    ``between(key)`` runs between the read and the write of every attempt: a test makes another writer
    land there, as a concurrent Lambda would.
    """

    def __init__(self, between: Callable[[str], None] | None = None) -> None:
        self.items: dict[str, tuple[int, Slot]] = {}
        self.between = between
        self.conflicts = 0

    def add_to_window(self, key: str, entry: Entry, *, retain_seconds: float, lateness_seconds: float,
                      keep: int) -> WindowView:
        return self._update(key, lambda slot: apply_add(slot, entry, retain_seconds, lateness_seconds, keep))

    def claim_alert(self, key: str, event_id: str, ts: float, *, dedup_seconds: float,
                    lateness_seconds: float) -> bool:
        return self._update("dedup#" + key, lambda slot: apply_claim(slot, event_id, ts, dedup_seconds,
                                                                     lateness_seconds))

    def _update(self, key: str, apply: Callable[[Slot], Any]) -> Any:
        while True:
            version, stored = self.items.get(key, (0, Slot()))
            slot = copy.deepcopy(stored)
            result = apply(slot)
            if self.between is not None:
                hook, self.between = self.between, None  # one interference per test step, no recursion
                hook(key)
                self.between = hook
            if self.items.get(key, (0, None))[0] != version:  # ConditionalCheckFailed: someone wrote first
                self.conflicts += 1
                continue
            self.items[key] = (version + 1, slot)
            if isinstance(result, WindowView):  # the caller gets a view of what was written
                return WindowView(list(result.entries), result.status, result.floor)
            return result


if TYPE_CHECKING:  # mypy proves every fake satisfies its port
    from churnguard_ops.security import ports
    from churnguard_ops.security.state import MemoryDetectorState

    _state: ports.DetectorState = ConditionalWriteState()
    _memory: ports.DetectorState = MemoryDetectorState()
