"""One registry for every kind of pluggable rule: integrity checks today; detectors, cost rules and
alarm-router actions next (Cloud Custodian's filters/actions idea).

A plugin is one class in one module that declares:

- ``name``: unique within its registry, the key a configuration names it by;
- ``Params``: a pydantic model with ``extra="forbid"``, so a typo in configuration is an error;
- a docstring with an ``Example``: what operators read in ``opsctl plugins``;
- ``permissions``: the IAM actions it needs beyond its function's baseline; the CDK app grants
  them and an infra test proves the role does.

Configured plugins are validated with :meth:`PluginRegistry.validate` at synth (a typo fails
``cdk synth``) and again at run time.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class PluginParams(BaseModel):
    """Base for every plugin's Params: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


class Plugin:
    """Base of every plugin kind (each kind adds its own ``run``/``evaluate`` signature)."""

    name: ClassVar[str]
    Params: ClassVar[type[PluginParams]] = PluginParams
    #: IAM actions this plugin calls (e.g. ``("rds:DescribeDBInstances",)``); empty for pure SQL/maths.
    permissions: ClassVar[tuple[str, ...]] = ()


class PluginSpecError(ValueError):
    """A configured plugin name or its parameters are invalid."""


class PluginInfo(BaseModel):
    kind: str
    name: str
    summary: str
    doc: str
    permissions: list[str]
    params_schema: dict[str, Any]


P = TypeVar("P", bound=Plugin)


class PluginRegistry(dict[str, type[P]], Generic[P]):
    """``name -> plugin class`` for one kind of plugin, filled by the ``register`` decorator."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, cls: type[P]) -> type[P]:
        """Class decorator: add ``cls`` under ``cls.name`` (unique, documented, strict params)."""
        name = cls.__dict__.get("name")
        if not name:  # an inherited name would register the subclass under its parent's key
            raise TypeError(f"{cls.__name__} has no name of its own")
        if name in self and self[name] is not cls:
            raise ValueError(f"{self.kind} {name!r} is already registered by {self[name].__name__}")
        if not (cls.__doc__ or "").strip():
            raise TypeError(f"{cls.__name__} needs a docstring with an example")
        if not (isinstance(cls.Params, type) and issubclass(cls.Params, BaseModel)) \
                or cls.Params.model_config.get("extra") != "forbid":
            raise TypeError(f"{cls.__name__}.Params must forbid unknown keys (extend PluginParams)")
        self[name] = cls
        return cls

    def lookup(self, name: str) -> type[P]:
        cls = self.get(name)
        if cls is None:
            raise PluginSpecError(f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(sorted(self))}")
        return cls

    def validate(self, name: str, params: Mapping[str, Any] | None = None) -> PluginParams:
        """The plugin's validated params, or PluginSpecError naming the plugin and each bad field."""
        cls = self.lookup(name)
        try:
            return cls.Params.model_validate(dict(params or {}))
        except ValidationError as exc:
            raise PluginSpecError(f"invalid params for {name}: {describe_errors(exc)}") from None

    def permissions(self, names: Iterable[str]) -> set[str]:
        return {action for name in names for action in self.lookup(name).permissions}

    def describe(self) -> list[PluginInfo]:
        infos = []
        for name in sorted(self):
            cls = self[name]
            doc = _dedent(cls.__doc__ or "")
            infos.append(PluginInfo(kind=self.kind, name=name, summary=doc.splitlines()[0] if doc else "",
                                    doc=doc, permissions=sorted(cls.permissions),
                                    params_schema=cls.Params.model_json_schema()))
        return infos


def describe_errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors())


def _dedent(doc: str) -> str:
    import inspect

    return inspect.cleandoc(doc)
