"""The generic plugin registry every capability's pluggable rules use."""
from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import BaseModel, Field

from churnguard_ops.core.registry import Plugin, PluginParams, PluginRegistry, PluginSpecError


class ThresholdParams(PluginParams):
    threshold: float = Field(default=1.0, gt=0)


def _registry_with_one_plugin() -> PluginRegistry[Plugin]:
    registry: PluginRegistry[Plugin] = PluginRegistry("rule")

    @registry.register
    class Threshold(Plugin):
        """Fires above a threshold.

        Example::

            {"rule": "threshold", "params": {"threshold": 2.5}}
        """

        name = "threshold"
        Params = ThresholdParams
        permissions: ClassVar[tuple[str, ...]] = ("cloudwatch:GetMetricData",)

    return registry


def test_validate_returns_typed_params_and_names_the_bad_field() -> None:
    registry = _registry_with_one_plugin()
    assert registry.validate("threshold", {"threshold": 2.5}) == ThresholdParams(threshold=2.5)
    with pytest.raises(PluginSpecError, match=r"invalid params for threshold: threshold: Input should be greater"):
        registry.validate("threshold", {"threshold": -1})
    with pytest.raises(PluginSpecError, match="thresold: Extra inputs are not permitted"):
        registry.validate("threshold", {"thresold": 2})


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(PluginSpecError, match="unknown rule 'treshold'; known rules: threshold"):
        _registry_with_one_plugin().validate("treshold")


def test_describe_carries_the_docstring_schema_and_permissions() -> None:
    (info,) = _registry_with_one_plugin().describe()
    assert info.kind == "rule" and info.name == "threshold"
    assert info.summary == "Fires above a threshold."
    assert '"threshold": 2.5' in info.doc
    assert info.params_schema["properties"]["threshold"]["exclusiveMinimum"] == 0
    assert info.permissions == ["cloudwatch:GetMetricData"]


def test_permissions_are_the_union_over_the_named_plugins() -> None:
    registry = _registry_with_one_plugin()
    assert registry.permissions(["threshold", "threshold"]) == {"cloudwatch:GetMetricData"}
    assert registry.permissions([]) == set()


def test_register_refuses_unnamed_undocumented_lax_and_duplicate_plugins() -> None:
    registry = _registry_with_one_plugin()

    class Unnamed(Plugin):
        """Example: none."""

    class Undocumented(Plugin):
        name = "undocumented"

    class LaxParams(BaseModel):
        threshold: float = 1.0

    class Lax(Plugin):
        """Example: lax."""

        name = "lax"
        Params = LaxParams  # type: ignore[assignment]

    class Impostor(Plugin):
        """Example: same name."""

        name = "threshold"

    with pytest.raises(TypeError, match="has no name"):
        registry.register(Unnamed)
    with pytest.raises(TypeError, match="docstring"):
        registry.register(Undocumented)
    with pytest.raises(TypeError, match="forbid unknown keys"):
        registry.register(Lax)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Impostor)
    assert sorted(registry) == ["threshold"]


def test_a_subclass_must_name_itself_and_params_must_be_a_model() -> None:
    registry = _registry_with_one_plugin()
    threshold = registry["threshold"]

    class Inherits(threshold):  # type: ignore[valid-type,misc]
        """Example: inherits its parent's name."""

    class NotAModel(Plugin):
        """Example: params as a dict."""

        name = "not_a_model"
        Params = dict  # type: ignore[assignment]

    with pytest.raises(TypeError, match="no name of its own"):
        registry.register(Inherits)
    with pytest.raises(TypeError, match="forbid unknown keys"):
        registry.register(NotAModel)
