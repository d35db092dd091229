"""opsctl incident: list, show, acknowledge, annotate and resolve incidents.

Every action is one command to the deployed ``<prefix>-incidents`` function through the Lambda API: ``--local``
(or no AWS credentials) starts the embedded default and asks the function there; otherwise the boto3 credential
chain applies (with ``opsctl local up``'s ``AWS_ENDPOINT_URL`` exported, that is the running embedded AWS).
``--out DIR`` writes the function's answer as ``incident-<action>.json``.
"""
from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from churnguard_ops.core.contracts import INCIDENTS_FUNCTION_SUFFIX
from opsctl.commands.common import (
    UsageError,
    add_target_options,
    check_out_dir,
    function_name,
    local_target,
    running,
)
from opsctl.console import progress, write_json

STATUSES = ("active", "open", "acknowledged", "resolved", "all")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("incident", help="incidents: list, show, ack, note, resolve")
    actions = parser.add_subparsers(dest="action", required=True)
    exit_codes = "Exit code 0: done; 1: the function failed; 2: bad input, an unknown incident or a refused change."

    listing = actions.add_parser("list", help="incidents by status, newest first",
                                 description=f"Lists incidents with severity, status, age and alarms. {exit_codes}")
    listing.add_argument("--status", choices=STATUSES, default="active",
                         help="active = open and acknowledged (default); all = every incident still kept")
    show = actions.add_parser("show", help="one incident: its alarms and timeline",
                              description=f"Prints the incident, its alarms and its whole timeline. {exit_codes}")
    ack = actions.add_parser("ack", help="acknowledge an incident (stops its escalation)",
                             description=f"Acknowledges an open incident; the time to acknowledge is recorded. "
                                         f"{exit_codes}")
    note = actions.add_parser("note", help="add a note to an incident's timeline",
                              description=f"Adds a note to the timeline (it goes into the postmortem). {exit_codes}")
    note.add_argument("--text", required=True, help="the note")
    resolve = actions.add_parser("resolve", help="resolve an incident, saying why",
                                 description=f"Resolves an incident, records who and why, and writes its postmortem "
                                             f"draft (Markdown in the ops bucket). {exit_codes}")
    resolve.add_argument("--reason", required=True, help="why it is resolved (recorded and in the postmortem)")
    for sub in (show, ack, note, resolve):
        sub.add_argument("incident_id", metavar="ID", help="the incident's id (inc-...)")
    for sub in (ack, note, resolve):
        sub.add_argument("--by", default=None, help="who (default: your OS user name)")
    for sub in (listing, show, ack, note, resolve):
        add_target_options(sub)
        sub.set_defaults(run=run)


def command_of(args: argparse.Namespace) -> dict[str, Any]:
    """The function's command for the CLI action, checked with the model the function parses it with."""
    from churnguard_ops.incidents.events import BadCommand, parse_command

    command: dict[str, Any] = {"command": args.action}
    if args.action == "list":
        command["status"] = args.status
    else:
        command["incident_id"] = args.incident_id
    if args.action in ("ack", "note", "resolve"):
        command["by"] = args.by or _os_user()
    if args.action == "note":
        command["text"] = args.text
    if args.action == "resolve":
        command["reason"] = args.reason
    try:
        parse_command(command)
    except BadCommand as exc:
        raise UsageError(str(exc).replace("incident_id", "ID")) from None
    return command


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "operator"


def call(name: str, command: dict[str, Any]) -> dict[str, Any]:
    """One command to the function; its ``{"error": ...}`` answer is the operator's error (exit 2)."""
    from opsctl.lambda_calls import invoke

    result = invoke(name, command)
    payload = result.payload if isinstance(result.payload, dict) else {}
    if not result.ok:
        raise FunctionFailed(f"{name}: FAILED: {payload.get('errorType', 'error')}: "
                             f"{payload.get('errorMessage', result.payload)}")
    if "error" in payload:
        raise UsageError(payload["error"])
    return payload


class FunctionFailed(Exception):
    """The function raised (Lambda's FunctionError): exit 1, not the operator's input."""


def list_lines(name: str, status: str = "active") -> list[str]:
    """The incident table of a running environment (the demo prints it inside its own embedded AWS)."""
    return format_list(call(name, {"command": "list", "status": status}), status)


def _when(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S") if iso else "-"


def format_list(payload: dict[str, Any], status: str) -> list[str]:
    incidents = payload.get("incidents", [])
    lines = [f"{len(incidents)} incident{'s' if len(incidents) != 1 else ''} ({status})"]
    if not incidents:
        return lines
    rows = [("ID", "SEVERITY", "STATUS", "OPENED (UTC)", "TEAM/GROUP", "ALARMS")]
    for i in incidents:
        alarms = ", ".join(f"{a['name']} {a['state']}" for a in i.get("alarms", []))
        rows.append((i["incident_id"], i["severity"], i["status"], _when(i["opened_at"]),
                     f"{i.get('team') or '-'}/{i.get('group') or '-'}", alarms))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(r[:-1], widths, strict=False)) + "  " + r[-1]
              for r in rows]
    return lines


def format_show(payload: dict[str, Any]) -> list[str]:
    i = payload["incident"]
    lines = [f"{i['incident_id']}: {i['title']}",
             f"  severity {i['severity']}, {i['status']}, team {i.get('team') or '-'}, group {i.get('group') or '-'}",
             f"  opened {_when(i['opened_at'])} UTC"
             + (f", acknowledged {_when(i['acknowledged_at'])} by {i['acknowledged_by']}" if i["acknowledged_at"]
                else "")
             + (f", escalated {_when(i['escalated_at'])}" if i.get("escalated") else "")
             + (f", resolved {_when(i['resolved_at'])} by {i['resolved_by']}: {i['resolve_reason']}"
                if i["resolved_at"] else "")]
    if i.get("postmortem"):
        lines.append(f"  postmortem draft: {i['postmortem']}")
    lines.append("Alarms:")
    lines += [f"  {a['name']:<40} {a['state']:<17} since {_when(a['since'])}  {a.get('severity', '')}"
              + (f"  runbook {a['runbook_url']}" if a.get("runbook_url") else "") for a in i["alarms"]]
    lines.append("Timeline:")
    lines += [f"  {_when(e['at'])}  {e['kind']:<12} {e['by']:<10} {e['detail']}" for e in payload["timeline"]]
    return lines


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    minutes, seconds = divmod(int(round(value)), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def summary_lines(command: dict[str, Any], payload: dict[str, Any]) -> list[str]:
    action = command["command"]
    formats: dict[str, Callable[[], list[str]]] = {
        "list": lambda: format_list(payload, command["status"]),
        "show": lambda: format_show(payload),
        "ack": lambda: [f"{command['incident_id']} acknowledged by {command['by']} (time to acknowledge "
                        f"{_seconds(payload.get('time_to_acknowledge_seconds'))})" if payload.get("changed")
                        else f"{command['incident_id']}: {payload.get('detail', 'unchanged')}"],
        "note": lambda: [f"note added to {command['incident_id']} by {command['by']}"],
        "resolve": lambda: [f"{command['incident_id']} resolved by {command['by']} (time to resolve "
                            f"{_seconds(payload.get('time_to_resolve_seconds'))})",
                            f"postmortem draft: {payload.get('postmortem')}"],
    }
    return formats[action]()


def run(args: argparse.Namespace) -> int:
    check_out_dir(args.out)
    command = command_of(args)
    env = local_target(args)
    if env is not None:
        env.with_postgres = env.seed = False  # incidents need only the embedded AWS
    name = function_name(env, args, INCIDENTS_FUNCTION_SUFFIX)
    with running(env):
        progress(f"invoking {name} with {json.dumps(command)}")
        try:
            payload = call(name, command)
        except FunctionFailed as exc:
            print(exc)
            return 1
        for line in summary_lines(command, payload):
            print(line)
        path = write_json(args.out, f"incident-{args.action}.json", payload)
        if path:
            print(f"wrote {path}")
    return 0
