"""opsctl plugins: the pluggable rules each capability offers, with their parameters and examples.

Every kind of plugin lives in one registry of the shared library; this command lists them all, so
an operator can write a configuration entry without reading code. The same validation runs at
``cdk synth``: a configured name or parameter that ``opsctl plugins show`` would reject fails there.
"""
from __future__ import annotations

import argparse
import importlib
import json
from typing import Any

from opsctl.commands.common import UsageError, check_out_dir
from opsctl.console import write_json

#: kind -> "module:registry attribute". A capability with plugins adds its registry here.
REGISTRIES: dict[str, str] = {
    "check": "churnguard_ops.drill.checks:CHECKS",  # restore-drill integrity checks (DRILL_CHECKS / drill.checks)
    "detector": "churnguard_ops.security.detectors:DETECTORS",  # security event detectors (security.detectors)
    "cost_rule": "churnguard_ops.cost.rules:COST_RULES",  # cost report rules (cost.rules)
    "router_action": "churnguard_ops.alarms.actions:ROUTER_ACTIONS",  # alarm router actions (alarms.routes)
}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("plugins", help="list the pluggable checks/rules with their parameters")
    actions = parser.add_subparsers(dest="action", required=True)
    list_parser = actions.add_parser("list", help="one line per plugin")
    list_parser.add_argument("--kind", choices=sorted(REGISTRIES), help="only plugins of this kind")
    list_parser.add_argument("--out", metavar="DIR", help="write plugins.json (schemas included) into DIR")
    list_parser.set_defaults(run=run_list)
    show_parser = actions.add_parser("show", help="a plugin's documentation, parameters and IAM permissions")
    show_parser.add_argument("name", help="plugin name, e.g. foreign_key_orphans")
    show_parser.add_argument("--kind", choices=sorted(REGISTRIES), help="disambiguate a name used by two kinds")
    show_parser.add_argument("--out", metavar="DIR", help="write plugin-<name>.json into DIR")
    show_parser.set_defaults(run=run_show)


def registries(kind: str | None = None) -> dict[str, Any]:
    wanted = [kind] if kind else sorted(REGISTRIES)
    found = {}
    for name in wanted:
        module, attribute = REGISTRIES[name].split(":")
        found[name] = getattr(importlib.import_module(module), attribute)
    return found


def plugin_infos(kind: str | None = None) -> list[dict[str, Any]]:
    return [info.model_dump() for registry in registries(kind).values() for info in registry.describe()]


def run_list(args: argparse.Namespace) -> int:
    check_out_dir(args.out)
    infos = plugin_infos(args.kind)
    width = max((len(i["name"]) for i in infos), default=10)
    for info in infos:
        print(f"{info['kind']:<8} {info['name']:<{width}}  {info['summary']}")
    print(f"{len(infos)} plugin(s); `opsctl plugins show NAME` for parameters and an example")
    write_json(args.out, "plugins.json", infos)
    return 0


def run_show(args: argparse.Namespace) -> int:
    check_out_dir(args.out)
    matches = [i for i in plugin_infos(args.kind) if i["name"] == args.name]
    if not matches:
        known = ", ".join(sorted(i["name"] for i in plugin_infos(args.kind)))
        raise UsageError(f"unknown plugin {args.name!r}; known: {known}")
    if len(matches) > 1:
        raise UsageError(f"{args.name!r} is a plugin of several kinds; pass --kind")
    info = matches[0]
    print(f"{info['name']} ({info['kind']})\n")
    print(info["doc"])
    print("\nParameters:")
    print(_parameters(info["params_schema"]))
    print("\nIAM permissions: " + (", ".join(info["permissions"]) or "none (runs without AWS calls)"))
    write_json(args.out, f"plugin-{info['name']}.json", info)
    return 0


def _parameters(schema: dict[str, Any]) -> str:
    properties = schema.get("properties", {})
    if not properties:
        return "  (none)"
    required = set(schema.get("required", []))
    lines = []
    for name, spec in properties.items():
        kind = spec.get("type") or " | ".join(s.get("type", "object") for s in spec.get("anyOf", [])) or "object"
        default = "required" if name in required else f"default {json.dumps(spec.get('default'))}"
        limits = ", ".join(f"{k} {spec[k]}" for k in ("minimum", "exclusiveMinimum", "maximum", "minItems")
                           if k in spec)
        lines.append(f"  {name}: {kind}, {default}" + (f" ({limits})" if limits else ""))
    return "\n".join(lines)
