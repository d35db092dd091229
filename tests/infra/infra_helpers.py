"""Small helpers for reading synthesized templates."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infra_cdk.nag import flatten_cfn_reference


def of_type(resources: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources.items() if v["Type"] == cfn_type}


def only(resources: dict[str, Any], cfn_type: str) -> tuple[str, dict[str, Any]]:
    found = of_type(resources, cfn_type)
    assert len(found) == 1, f"expected one {cfn_type}, found {sorted(found)}"
    return next(iter(found.items()))


def logical_id(resources: dict[str, Any], cfn_type: str, prefix: str) -> str:
    ids = [k for k, v in resources.items() if v["Type"] == cfn_type and k.startswith(prefix)]
    assert len(ids) == 1, f"expected one {cfn_type} starting with {prefix}, found {ids}"
    return ids[0]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def flat(value: Any) -> str:
    return flatten_cfn_reference(value)


def policy_statements(resources: dict[str, Any], role_id: str) -> Iterator[dict[str, Any]]:
    """Every statement of every AWS::IAM::Policy attached to ``role_id``."""
    for res in of_type(resources, "AWS::IAM::Policy").values():
        roles = res["Properties"].get("Roles", [])
        if {"Ref": role_id} in roles:
            yield from res["Properties"]["PolicyDocument"]["Statement"]


def statements_with_action(resources: dict[str, Any], role_id: str, action: str) -> list[dict[str, Any]]:
    return [s for s in policy_statements(resources, role_id) if action in as_list(s["Action"])]


def apply_input_transformer(transformer: dict[str, Any], event: dict[str, Any]) -> Any:
    """What EventBridge delivers: each <key> (outside quotes) becomes the JSON of its path's value."""
    values = {}
    for key, path in transformer["InputPathsMap"].items():
        assert path.startswith("$."), path
        node: Any = event
        for part in path[2:].split("."):
            node = node[part]
        values[key] = node
    text = re.sub(r"<([A-Za-z0-9_-]+)>", lambda m: json.dumps(values[m.group(1)]), transformer["InputTemplate"])
    return json.loads(text)


def synth_without_bundling(tmp_path: Path, churnguard: dict[str, Any]) -> dict[str, Any]:
    """Templates (``aws_cdk.assertions.Template`` by stack id) for other context values; skips layer
    bundling (aws:cdk:bundling-stacks) and cdk-nag."""
    from aws_cdk import Stack
    from aws_cdk.assertions import Template

    from infra_cdk.app import build_app

    app = build_app(
        outdir=tmp_path,
        region="us-east-1",
        context={"churnguard": churnguard, "aws:cdk:bundling-stacks": []},
        nag=False,
    )
    return {c.node.id: Template.from_stack(c) for c in app.node.children if isinstance(c, Stack)}


def state_machine_definition(definition_string: Any) -> dict[str, Any]:
    """Parse DefinitionString: each Fn::GetAtt [X, Arn] becomes the placeholder 'arn:X'."""
    if isinstance(definition_string, str):
        return json.loads(definition_string)
    delimiter, parts = definition_string["Fn::Join"]
    text = []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        elif "Fn::GetAtt" in part and part["Fn::GetAtt"][1] == "Arn":
            text.append(f"arn:{part['Fn::GetAtt'][0]}")
        else:
            text.append(f"<{flat(part)}>")
    return json.loads(delimiter.join(text))
