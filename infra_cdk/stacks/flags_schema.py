"""The JSON schema AppConfig validates a flag document against before it deploys a version.

Generated from the pydantic model the flags library parses with (``core.flag_document.FlagDocument``), so the
two cannot drift, and rewritten into JSON Schema draft 4, the version AppConfig's JSON_SCHEMA validator speaks
(``definitions`` instead of ``$defs``). It adds what the model checks in validators: the flag key pattern and
the condition actions. It is never stricter than the model: what the model accepts, AppConfig accepts.
"""
from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.feature_flags.schema import RuleAction

from churnguard_ops.core.flag_document import FLAG_KEY_PATTERN, FlagDocument

DRAFT_4 = "http://json-schema.org/draft-04/schema#"


def flag_document_schema() -> dict[str, Any]:
    schema = FlagDocument.model_json_schema(ref_template="#/definitions/{model}")
    definitions = schema.pop("$defs")
    flag = schema.pop("additionalProperties")
    definitions["Condition"]["properties"]["action"]["enum"] = list(RuleAction.__members__)
    return {"$schema": DRAFT_4, **schema, "definitions": definitions,
            "patternProperties": {FLAG_KEY_PATTERN: flag}, "additionalProperties": False}


def flag_document_schema_json() -> str:
    """Compact (AppConfig limits a validator's inline content to 32,768 characters)."""
    return json.dumps(flag_document_schema(), separators=(",", ":"), sort_keys=True)
