"""In-memory :class:`~churnguard_ops.security.ports.DetectorState`: replay, tests, one warm container.

Bounded: each key holds at most ``keep`` entries, and keys whose every window has closed (on event
time: the newest event seen anywhere is past the key's ``max_ts + retain + lateness``) are swept away
every ``sweep_every`` calls, so a million-event replay keeps only what open windows need.

:func:`apply_add` and :func:`apply_claim` are the pure transitions; a DynamoDB adapter applies the very
same functions between its read and its conditional write.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from churnguard_ops.security.ports import Entry, WindowView


@dataclass(slots=True)
class Slot:
    """One key's state (the attributes a DynamoDB item would hold)."""

    entries: list[Entry] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    max_ts: float = float("-inf")
    floor: float = float("-inf")
    expires: float = float("-inf")  # event time after which no admissible event can use this slot


def apply_add(slot: Slot, entry: Entry, retain_seconds: float, lateness_seconds: float, keep: int) -> WindowView:
    """Add ``entry`` to ``slot`` in place (see ``DetectorState.add_to_window``) and return the view."""
    if entry.event_id in slot.ids:
        return WindowView(slot.entries, "duplicate", slot.floor)
    if entry.ts < slot.max_ts - lateness_seconds:
        return WindowView(slot.entries, "late", slot.floor)
    entries = slot.entries
    if not entries or entry >= entries[-1]:
        entries.append(entry)
    else:
        bisect.insort(entries, entry)
    slot.ids.add(entry.event_id)
    if entry.ts > slot.max_ts:
        slot.max_ts = entry.ts
        slot.expires = entry.ts + retain_seconds + lateness_seconds
    horizon = slot.max_ts - retain_seconds - lateness_seconds
    drop = 0
    while drop < len(entries) and entries[drop].ts <= horizon:
        drop += 1
    if len(entries) - drop > keep:
        drop = len(entries) - keep
        slot.floor = max(slot.floor, entries[drop - 1].ts)
    if drop:
        for gone in entries[:drop]:
            slot.ids.discard(gone.event_id)
        del entries[:drop]
    return WindowView(entries, "added", slot.floor)


def apply_claim(slot: Slot, event_id: str, ts: float, dedup_seconds: float, lateness_seconds: float) -> bool:
    """Grant or refuse a dedup claim (see ``DetectorState.claim_alert``); granted claims are the entries."""
    if event_id in slot.ids:
        return True
    if any(abs(ts - claim.ts) < dedup_seconds for claim in slot.entries):
        return False
    bisect.insort(slot.entries, Entry(ts, event_id))
    slot.ids.add(event_id)
    slot.max_ts = max(slot.max_ts, ts)
    slot.expires = slot.max_ts + dedup_seconds + lateness_seconds
    horizon = slot.max_ts - dedup_seconds - lateness_seconds
    while slot.entries and slot.entries[0].ts < horizon:
        slot.ids.discard(slot.entries.pop(0).event_id)
    return True


class MemoryDetectorState:
    """Dicts of :class:`Slot`; swept by event time. Not thread-safe (one engine per thread).

    It sees one whole stream, so "late" is judged against the newest event overall (stricter than the
    port's per-key rule, and what makes sweeping safe: a key is swept only once no event that is not
    late can reach its entries).
    """

    def __init__(self, sweep_every: int = 50_000) -> None:
        self.windows: dict[str, Slot] = {}
        self.claims: dict[str, Slot] = {}
        self.newest = float("-inf")
        self._sweep_every = sweep_every
        self._calls = 0

    def add_to_window(self, key: str, entry: Entry, *, retain_seconds: float, lateness_seconds: float,
                      keep: int) -> WindowView:
        self._tick(entry.ts)
        slot = self.windows.get(key)
        if slot is not None and entry.event_id in slot.ids:
            return WindowView(slot.entries, "duplicate", slot.floor)
        if entry.ts < self.newest - lateness_seconds:  # one stream: late against its newest event overall
            return WindowView(slot.entries if slot else [], "late", slot.floor if slot else float("-inf"))
        if slot is None:
            slot = self.windows[key] = Slot()
        return apply_add(slot, entry, retain_seconds, lateness_seconds, keep)

    def claim_alert(self, key: str, event_id: str, ts: float, *, dedup_seconds: float,
                    lateness_seconds: float) -> bool:
        self._tick(ts)
        slot = self.claims.get(key)
        if slot is None:
            slot = self.claims[key] = Slot()
        return apply_claim(slot, event_id, ts, dedup_seconds, lateness_seconds)

    def entries(self) -> int:
        """Entries held in total (windows and claims): what a memory bound is asserted on."""
        return sum(len(s.entries) for s in self.windows.values()) + sum(len(s.entries) for s in self.claims.values())

    def sweep(self) -> None:
        """Forget keys no admissible event can reach any more (their expiry is before the newest event)."""
        for slots in (self.windows, self.claims):
            for key in [k for k, s in slots.items() if s.expires < self.newest]:
                del slots[key]

    def _tick(self, ts: float) -> None:
        if ts > self.newest:
            self.newest = ts
        self._calls += 1
        if self._calls % self._sweep_every == 0:
            self.sweep()
