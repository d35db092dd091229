"""Load the sample events in ``events/`` so tests and the CLI share one set of real-shaped payloads."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str, **overrides: Any) -> dict[str, Any]:
    """``load_event("backup/scheduled-tick-database.json", time=...)``; overrides replace top-level keys."""
    event = json.loads((EVENTS_DIR / name).read_text())
    event.update(overrides)
    return event


def event_files(capability: str) -> list[Path]:
    return sorted((EVENTS_DIR / capability).glob("*.json"))
