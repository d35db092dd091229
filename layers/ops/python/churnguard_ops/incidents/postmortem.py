"""The postmortem draft: Markdown from the incident and its timeline, with the blanks a human fills in."""
from __future__ import annotations

from datetime import datetime, timedelta

from churnguard_ops.incidents.model import Incident, TimelineEntry

ACTION_KINDS = ("action", "notification", "escalation")


def duration(delta: timedelta | None) -> str:
    """``1 h 02 min 05 s`` style; '-' for none."""
    if delta is None:
        return "-"
    seconds = int(round(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _at(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value else "-"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_postmortem(incident: Incident, timeline: list[TimelineEntry]) -> str:
    end = incident.resolved_at
    tta = incident.acknowledged_at - incident.opened_at if incident.acknowledged_at else None
    ttr = end - incident.opened_at if end else None
    alarm_names = ", ".join(f"`{a.name}`" for a in incident.alarms) or "-"
    lines = [
        f"# Postmortem (draft): {incident.title}",
        "",
        f"Incident `{incident.incident_id}` · severity **{incident.severity}** · team {incident.team or '-'} · "
        f"group {incident.group or '-'}",
        "",
        "## Summary",
        "",
        f"{len(incident.alarms)} alarm(s) ({alarm_names}) opened this incident at {_at(incident.opened_at)}; it was "
        + (f"acknowledged by {incident.acknowledged_by} after {duration(tta)}" if tta is not None
           else "never acknowledged")
        + (", escalated" if incident.escalated else "")
        + f" and resolved by {incident.resolved_by or '-'} after {duration(ttr)}: {incident.resolve_reason or '-'}.",
        "",
        "_What happened, in two sentences: to fill in._",
        "",
        "## Impact window",
        "",
        f"- Start: {_at(incident.opened_at)}",
        f"- End: {_at(end)}",
        f"- Duration: {duration(ttr)}",
        "- Customers and features affected: _to fill in_",
        "",
        "## Key numbers",
        "",
        f"- Time to acknowledge: {duration(tta)}",
        f"- Time to resolve: {duration(ttr)}",
        f"- Escalated: {'yes, at ' + _at(incident.escalated_at) if incident.escalated else 'no'}",
        "",
        "## Alarms",
        "",
        "| Alarm | Severity | Last state | Since | Runbook |",
        "|---|---|---|---|---|",
        *(f"| {_cell(a.name)} | {a.severity} | {a.state} | {_at(a.since)} | {_cell(a.runbook_url) or '-'} |"
          for a in incident.alarms),
        "",
        "## Timeline",
        "",
        "| Time (UTC) | What | Detail | By |",
        "|---|---|---|---|",
        *(f"| {e.at:%Y-%m-%d %H:%M:%S} | {e.kind} | {_cell(e.detail)} | {_cell(e.by)} |" for e in timeline),
        "",
        "## Actions taken",
        "",
    ]
    actions = [e for e in timeline if e.kind in ACTION_KINDS]
    lines += [f"- {e.at:%H:%M:%S} {e.kind}: {e.detail}" for e in actions] or ["- none recorded"]
    notes = [e for e in timeline if e.kind == "note"]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {e.at:%H:%M:%S} {e.by}: {e.detail}" for e in notes]
    lines += [
        "",
        "## Root cause",
        "",
        "_To fill in._",
        "",
        "## Follow-ups",
        "",
        "- [ ] _Action item, owner, due date_",
        "- [ ] _Detection: would an earlier or better alarm have helped?_",
        "- [ ] _Runbook: what was missing or wrong?_",
        "",
    ]
    return "\n".join(lines)
