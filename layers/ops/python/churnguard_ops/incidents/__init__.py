"""Incident response: incidents opened and grouped from alarms, timelines, escalation, auto-resolve, postmortems."""
