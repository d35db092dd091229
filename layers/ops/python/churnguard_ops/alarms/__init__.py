"""Alarm-driven automation: CloudWatch alarm state changes routed to ordered, idempotent actions."""
