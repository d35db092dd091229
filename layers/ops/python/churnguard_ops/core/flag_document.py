"""The feature-flag document: Powertools' feature-flag rule schema plus our per-flag ``rollout`` and ``kill_switch``.

The document is the AppConfig hosted configuration (freeform JSON) of the flags profile. The flags library
evaluates it, the CDK app deploys it and the canary flag shifter rewrites its rollout percentage, so it
lives in ``core``. Powertools' own validator checks its part of each flag (rules, conditions, action
operands) on the flag minus our keys; the pydantic models check ours and name the failing field
(``new_dashboard_ui.rollout.percentage: ...``).
"""
from __future__ import annotations

import json
import re
from typing import Any

from aws_lambda_powertools.utilities.feature_flags.exceptions import SchemaValidationError
from aws_lambda_powertools.utilities.feature_flags.schema import RuleAction, SchemaValidator
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    RootModel,
    ValidationError,
    field_validator,
    model_validator,
)

from churnguard_ops.core.contracts import FLAG_BUCKETS

FLAG_KEY_PATTERN = r"^[a-z][a-zA-Z0-9_-]{0,63}$"
_FLAG_KEY = re.compile(FLAG_KEY_PATTERN)
#: Our keys on a flag; Powertools' validator sees the flag without them.
OUR_KEYS = ("description", "rollout", "kill_switch")
#: One percent is this many buckets (100,000 buckets: 0.001 % steps).
BUCKETS_PER_PERCENT = FLAG_BUCKETS // 100


def json_kind(value: Any) -> str:
    """The JSON type of a value (bool before number: ``True`` is an ``int`` in Python)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


class _FieldError(ValueError):
    """A model-level check that knows which nested field failed (joined into the error's path)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """One condition of a rule: ``context[key] <action> value`` with Powertools' comparison semantics."""

    action: str
    key: str = Field(min_length=1)
    value: JsonValue

    @field_validator("action")
    @classmethod
    def _known_action(cls, action: str) -> str:
        if action not in RuleAction.__members__:
            raise ValueError(f"unknown action {action!r}; one of {', '.join(RuleAction.__members__)}")
        return action


class Rule(_Strict):
    """Conditions ANDed; when all match, the flag's value is ``when_match``."""

    when_match: JsonValue
    conditions: list[Condition] = Field(min_length=1)


class Rollout(_Strict):
    """A sticky percentage rollout: users whose bucket is below the threshold get ``value``."""

    percentage: float = Field(ge=0, le=100)
    value: JsonValue
    #: the context attribute that identifies a user (the bucketing id)
    attribute: str = Field("user_id", min_length=1)
    #: None: the flag key. An explicit "" is a salt of its own (the empty string).
    salt: str | None = None

    @field_validator("percentage")
    @classmethod
    def _three_decimals(cls, percentage: float) -> float:
        scaled = percentage * BUCKETS_PER_PERCENT
        if abs(scaled - round(scaled)) > 1e-6:
            raise ValueError(f"{percentage} has more than 3 decimals (the bucket grid is 0.001 %)")
        return percentage

    @property
    def threshold(self) -> int:
        """Buckets below this are in the rollout: percentage * 1000 (0.125 % -> 125 of 100,000)."""
        return round(self.percentage * BUCKETS_PER_PERCENT)

    def salt_for(self, flag_key: str) -> str:
        return flag_key if self.salt is None else self.salt


class FlagDefinition(_Strict):
    default: JsonValue
    description: str | None = None
    #: Powertools' key: a flag whose values are not booleans sets it to false.
    boolean_type: bool = True
    #: document order is evaluation order: the first matching rule wins
    rules: dict[str, Rule] = Field(default_factory=dict)
    rollout: Rollout | None = None
    #: true: every caller gets ``default``, whatever the rules and rollout say
    kill_switch: bool = False

    @field_validator("rules")
    @classmethod
    def _rule_names(cls, rules: dict[str, Rule]) -> dict[str, Rule]:
        for name in rules:
            if not name.strip() or len(name) > 128:
                raise ValueError(f"rule name {name!r} must be 1 to 128 characters, not blank")
        return rules

    @model_validator(mode="after")
    def _same_kind(self) -> FlagDefinition:
        kind = json_kind(self.default)
        if kind == "null":
            raise _FieldError("default", "must be present and not null")
        if self.boolean_type and kind != "boolean":
            raise _FieldError("default", f"must be a boolean (or set boolean_type false), got {kind}")
        for name, rule in self.rules.items():
            if json_kind(rule.when_match) != kind:
                raise _FieldError(f"rules.{name}.when_match",
                                  f"must be a {kind} like default, got {json_kind(rule.when_match)}")
        if self.rollout is not None and json_kind(self.rollout.value) != kind:
            raise _FieldError("rollout.value", f"must be a {kind} like default, got {json_kind(self.rollout.value)}")
        return self

    def powertools_view(self) -> dict[str, Any]:
        """The flag as Powertools' schema knows it: our keys left out, no empty ``rules``."""
        view = self.model_dump(mode="json", exclude={*OUR_KEYS, "rules"})
        if self.rules:
            view["rules"] = {name: rule.model_dump(mode="json") for name, rule in self.rules.items()}
        return view


class FlagDocument(RootModel[dict[str, FlagDefinition]]):
    """The whole flag profile: flag key -> definition."""

    model_config = ConfigDict(frozen=True)

    @field_validator("root")
    @classmethod
    def _keys_and_powertools_schema(cls, flags: dict[str, FlagDefinition]) -> dict[str, FlagDefinition]:
        for key, flag in flags.items():
            if not _FLAG_KEY.match(key):
                raise ValueError(f"{key}: flag key must match {FLAG_KEY_PATTERN}")
            try:
                SchemaValidator({key: flag.powertools_view()}).validate()
            except SchemaValidationError as error:
                raise ValueError(f"{key}: {error}") from None
        return flags

    @classmethod
    def parse_json(cls, raw: bytes | str) -> FlagDocument:
        """Parse and validate; a ValueError names the failing field (``flag.rollout.percentage: ...``)."""
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"flag document: not JSON ({error})") from None
        return cls.from_data(data)

    @classmethod
    def from_data(cls, data: Any) -> FlagDocument:
        """Validate a decoded document; a ValueError names the failing field."""
        if not isinstance(data, dict):
            raise ValueError(f"flag document: must be a JSON object of flags, got {json_kind(data)}")
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise ValueError(_describe(error)) from None

    def to_json(self) -> bytes:
        """The document as AppConfig hosts it (``application/json``); keys at their defaults left out."""
        return json.dumps(self.model_dump(mode="json", exclude_defaults=True), indent=2).encode("utf-8")

    @property
    def flags(self) -> dict[str, FlagDefinition]:
        return self.root

    def get(self, key: str) -> FlagDefinition | None:
        return self.root.get(key)

    def with_rollout_percentage(self, key: str, percentage: float) -> FlagDocument:
        """A copy with the rollout of ``key`` at ``percentage``; ValueError names the flag when it cannot."""
        flag = self.root.get(key)
        if flag is None:
            raise ValueError(f"{key}: no such flag (known: {', '.join(sorted(self.root)) or 'none'})")
        if flag.rollout is None:
            raise ValueError(f"{key}: has no rollout to set a percentage on")
        try:
            rollout = Rollout.model_validate({**flag.rollout.model_dump(), "percentage": percentage})
        except ValidationError as error:
            raise ValueError(f"{key}.rollout.{_describe(error)}") from None
        return FlagDocument({**self.root, key: flag.model_copy(update={"rollout": rollout})})


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    parts = [str(part) for part in first["loc"]]
    message = first["msg"].removeprefix("Value error, ")
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, _FieldError):
        parts.append(cause.field)
        message = cause.message
    where = ".".join(parts)
    return f"{where}: {message}" if where else message
