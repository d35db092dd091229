"""Just enough CloudFormation to deploy a synthesized CDK template locally.

- ``Resolver`` evaluates intrinsic functions against resources already created:
  Ref, Fn::GetAtt, Fn::Join, Fn::Sub (string and [string, vars]), Fn::Select, Fn::Split,
  Fn::If/Fn::Equals/Fn::Not/Fn::And/Fn::Or/Condition, Fn::FindInMap, Fn::Base64, Fn::GetAZs,
  and the pseudo parameters (AWS::Region, AWS::AccountId, AWS::Partition, AWS::URLSuffix,
  AWS::StackName, AWS::StackId, AWS::NoValue).
- ``deployment_order`` sorts logical ids so every resource comes after what it references.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "NO_VALUE",
    "PhysicalResource",
    "Resolver",
    "TemplateError",
    "deployment_order",
    "load_template",
    "references",
]

_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")  # ${Name} or ${Name.Attr}; ${!Literal} is an escape


class TemplateError(ValueError):
    pass


class _NoValue:
    """AWS::NoValue: the property it sits in is removed."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE = _NoValue()


@dataclass
class PhysicalResource:
    """What a created resource answers to Ref and Fn::GetAtt."""

    ref: str
    attributes: dict[str, Any] = field(default_factory=dict)


def load_template(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


@dataclass
class Resolver:
    template: Mapping[str, Any]
    stack_name: str
    region: str
    account_id: str = "123456789012"
    parameters: Mapping[str, Any] = field(default_factory=dict)
    resources: dict[str, PhysicalResource] = field(default_factory=dict)
    # Outputs of stacks deployed earlier, by stack name: what Fn::GetStackOutput reads.
    stack_outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def pseudo(self) -> dict[str, Any]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/local",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }

    # -- public ------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic in ``value``; AWS::NoValue entries are dropped."""
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                fn = self._FUNCTIONS.get(key)
                if fn is None:
                    raise TemplateError(f"unsupported intrinsic {key}")
                return fn(self, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(conditions[name]))

    def parameter_value(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        spec = self.template.get("Parameters", {}).get(name)
        if spec is None:
            raise TemplateError(f"unknown parameter {name}")
        if "Default" not in spec:
            raise TemplateError(f"parameter {name} has no Default; pass it in parameters")
        return spec["Default"]

    # -- intrinsics --------------------------------------------------------------------
    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.resources:
            return self.resources[name].ref
        if name in self.template.get("Parameters", {}):
            return self.parameter_value(name)
        raise TemplateError(f"Ref to {name}, which is not (yet) created")

    def _get_att(self, arg: Any) -> Any:
        logical, attr = arg.split(".", 1) if isinstance(arg, str) else self.resolve(arg)
        resource = self.resources.get(logical)
        if resource is None:
            raise TemplateError(f"Fn::GetAtt on {logical}, which is not (yet) created")
        if attr not in resource.attributes:
            raise TemplateError(f"{logical} has no attribute {attr} locally (has {sorted(resource.attributes)})")
        return resource.attributes[attr]

    def _join(self, arg: Any) -> str:
        sep, items = arg
        return self.resolve(sep).join(_as_str(v) for v in self.resolve(items))

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return _as_str(variables[name])
            if "." in name and name not in self.pseudo:
                return _as_str(self._get_att(name))
            return _as_str(self._ref(name))

        # ${!Literal} renders as ${Literal}
        return _SUB_VAR.sub(lookup, text).replace("${!", "${")

    def _select(self, arg: Any) -> Any:
        index, items = self.resolve(arg)
        return items[int(index)]

    def _split(self, arg: Any) -> list[str]:
        sep, text = self.resolve(arg)
        return text.split(sep)

    def _if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(name) else when_false)

    def _equals(self, arg: Any) -> bool:
        left, right = self.resolve(arg)
        return left == right

    def _not(self, arg: Any) -> bool:
        return not self.resolve(arg)[0]

    def _and(self, arg: Any) -> bool:
        return all(self.resolve(arg))

    def _or(self, arg: Any) -> bool:
        return any(self.resolve(arg))

    def _find_in_map(self, arg: Any) -> Any:
        map_name, top, second = self.resolve(arg)
        return self.template["Mappings"][map_name][top][second]

    def _base64(self, arg: Any) -> str:
        return base64.b64encode(_as_str(self.resolve(arg)).encode()).decode()

    def _get_azs(self, arg: Any) -> list[str]:
        region = self.resolve(arg) or self.region
        return [f"{region}{zone}" for zone in "abc"]

    def _get_stack_output(self, arg: Mapping[str, Any]) -> Any:
        """CDK's cross-stack reference: {"StackName", "OutputName", "Region"?, "RoleArn"?}."""
        stack, output = self.resolve(arg["StackName"]), self.resolve(arg["OutputName"])
        outputs = self.stack_outputs.get(stack)
        if outputs is None or output not in outputs:
            raise TemplateError(f"Fn::GetStackOutput: {stack}.{output} is not deployed (deploy it first)")
        return outputs[output]

    _FUNCTIONS = {
        "Fn::GetStackOutput": _get_stack_output,
        "Fn::GetAtt": _get_att,
        "Fn::Join": _join,
        "Fn::Sub": _sub,
        "Fn::Select": _select,
        "Fn::Split": _split,
        "Fn::If": _if,
        "Fn::Equals": _equals,
        "Fn::Not": _not,
        "Fn::And": _and,
        "Fn::Or": _or,
        "Fn::FindInMap": _find_in_map,
        "Fn::Base64": _base64,
        "Fn::GetAZs": _get_azs,
    }


def _as_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def references(value: Any) -> set[str]:
    """Logical ids (and parameter names) ``value`` refers to via Ref, GetAtt or Sub."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str) and not arg.startswith("AWS::"):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                local_vars = {} if isinstance(arg, str) else arg[1]
                for name in _SUB_VAR.findall(text):
                    head = name.split(".", 1)[0]
                    if name not in local_vars and not head.startswith("AWS::"):
                        found.add(head)
                if not isinstance(arg, str):
                    found |= references(local_vars)
            else:
                found |= references(arg)
    return found


def deployment_order(template: Mapping[str, Any]) -> list[str]:
    """Logical ids in dependency order (Ref/GetAtt/Sub/DependsOn); stable for equal ranks."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    deps: dict[str, set[str]] = {}
    for logical, spec in resources.items():
        depends_on = spec.get("DependsOn", [])
        wanted = references(spec.get("Properties", {})) | set(
            [depends_on] if isinstance(depends_on, str) else depends_on
        )
        deps[logical] = {d for d in wanted if d in resources and d != logical}
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        if state.get(node) == "done":
            return
        if state.get(node) == "visiting":
            raise TemplateError(f"dependency cycle: {' -> '.join((*path, node))}")
        state[node] = "visiting"
        for dep in sorted(deps[node]):
            visit(dep, (*path, node))
        state[node] = "done"
        order.append(node)

    for logical in resources:
        visit(logical, ())
    return order
