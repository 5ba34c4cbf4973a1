"""A validator for the JSON-Schema subset Discord's OpenAPI description uses, with Discord-style errors.

Covered: $ref, type (single or list), enum, allOf, anyOf, oneOf, properties, required,
additionalProperties, min/maxProperties, items, min/maxItems, uniqueItems, min/maxLength, pattern,
minimum/maximum and the formats snowflake, uri, date-time, int32 and int64.
Two deliberate leniencies, both matching what Discord itself accepts: a snowflake may be sent as a
JSON integer (discord.py does), and oneOf is checked as anyOf (the spec's unions are tagged and only
our leniency could make two branches match).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

Schema = Mapping[str, Any]
Location = tuple[str | int, ...]

_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}
_TYPE_CODES = {
    "string": "STRING_TYPE_CONVERT",
    "integer": "NUMBER_TYPE_COERCE",
    "number": "NUMBER_TYPE_COERCE",
    "boolean": "BOOLEAN_TYPE_CONVERT",
    "array": "LIST_TYPE_CONVERT",
    "object": "DICT_TYPE_CONVERT",
    "null": "BASE_TYPE_BAD_TYPE",
}
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_SNOWFLAKE_MAX = 2**64 - 1


@dataclass(frozen=True)
class Problem:
    """One validation failure at a location inside the request (field names and list indexes)."""

    location: Location
    code: str
    message: str

    def describe(self, where: str) -> str:
        dotted = ".".join(str(part) for part in self.location)
        return f"{where}.{dotted}: {self.message}" if dotted else f"{where}: {self.message}"


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def schema_types(schema: Schema) -> list[str]:
    """The schema's `type` as a list (empty when it does not constrain the type)."""
    declared = schema.get("type")
    if declared is None:
        return []
    return [declared] if isinstance(declared, str) else list(declared)


class SchemaValidator:
    """Validates values against schemas of one OpenAPI document, resolving its local $refs."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = document

    def resolve(self, schema: Schema) -> Schema:
        """Follow `$ref` chains ("#/a/b") to the schema they name."""
        while "$ref" in schema:
            node: Any = self._document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            schema = node
        return schema

    def validate(self, schema: Schema, value: Any, location: Location = ()) -> list[Problem]:
        schema = self.resolve(schema)
        if schema.get("format") == "snowflake":
            return _check_snowflake(value, location)
        problems: list[Problem] = []
        for sub in schema.get("allOf", ()):
            problems += self.validate(sub, value, location)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                problems += self._any_of(schema[key], value, location)
        types = schema_types(schema)
        if types and not any(_TYPE_CHECKS[t](value) for t in types):
            wanted = next(t for t in types if t != "null") if types != ["null"] else "null"
            return [*problems, Problem(location, _TYPE_CODES[wanted], f"Value must be of type {wanted}.")]
        if "enum" in schema and value not in schema["enum"]:
            choices = ", ".join(json.dumps(c) for c in schema["enum"])
            problems.append(Problem(location, "BASE_TYPE_CHOICES", f"Value must be one of ({choices})."))
        if isinstance(value, str):
            problems += _check_string(schema, value, location)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            problems += _check_number(schema, value, location)
        elif isinstance(value, list):
            problems += self._check_array(schema, value, location)
        elif isinstance(value, dict):
            problems += self._check_object(schema, value, location)
        return problems

    def _any_of(self, branches: list[Schema], value: Any, location: Location) -> list[Problem]:
        """Pass if one branch passes; otherwise report the branch that came closest."""
        attempts = []
        # A bare `{"type": "null"}` branch only explains a null; blaming it for a non-null value says nothing.
        informative = [b for b in branches if value is None or self.resolve(b).get("type") != "null"]
        for branch in informative or branches:
            found = self.validate(branch, value, location)
            if not found:
                return []
            root_type_wrong = any(p.location == location and p.code in _TYPE_CODES.values() for p in found)
            wrong_tag = sum(p.code == "BASE_TYPE_CHOICES" for p in found)
            attempts.append(((root_type_wrong, wrong_tag, len(found)), found))
        return min(attempts, key=lambda a: a[0])[1] if attempts else []

    def _check_array(self, schema: Schema, value: list[Any], location: Location) -> list[Problem]:
        problems = _check_size(schema, len(value), location)
        if schema.get("uniqueItems"):
            encoded = [json.dumps(v, sort_keys=True) for v in value]
            if len(set(encoded)) != len(encoded):
                problems.append(Problem(location, "LIST_ITEMS_NOT_UNIQUE", "Items must be unique."))
        if "items" in schema:
            for index, item in enumerate(value):
                problems += self.validate(schema["items"], item, (*location, index))
        return problems

    def _check_object(self, schema: Schema, value: dict[str, Any], location: Location) -> list[Problem]:
        problems = _check_size(schema, len(value), location)
        properties: Mapping[str, Schema] = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                problems.append(Problem((*location, name), "BASE_TYPE_REQUIRED", "This field is required"))
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                problems += self.validate(properties[name], item, (*location, name))
            elif extra is False:
                problems.append(Problem((*location, name), "BASE_TYPE_UNKNOWN_FIELD", "Unknown field."))
            elif isinstance(extra, Mapping):
                problems += self.validate(extra, item, (*location, name))
        return problems


def _check_snowflake(value: Any, location: Location) -> list[Problem]:
    if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) <= _SNOWFLAKE_MAX:
        return []
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _SNOWFLAKE_MAX:
        return []
    return [Problem(location, "NUMBER_TYPE_COERCE", f"Value {json.dumps(value)} is not snowflake.")]


def _check_size(schema: Schema, size: int, location: Location) -> list[Problem]:
    """min/maxItems and min/maxProperties; Discord words list limits like string lengths."""
    most = schema.get("maxItems", schema.get("maxProperties"))
    least = schema.get("minItems", schema.get("minProperties"))
    if most is not None and size > most:
        return [Problem(location, "BASE_TYPE_MAX_LENGTH", f"Must be {most} or fewer in length.")]
    if least is not None and size < least:
        return [Problem(location, "BASE_TYPE_MIN_LENGTH", f"Must be {least} or more in length.")]
    return []


def _check_string(schema: Schema, value: str, location: Location) -> list[Problem]:
    problems = []
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        message = f"Must be {schema['maxLength']} or fewer in length."
        problems.append(Problem(location, "BASE_TYPE_MAX_LENGTH", message))
    if "minLength" in schema and len(value) < schema["minLength"]:
        message = f"Must be {schema['minLength']} or more in length."
        problems.append(Problem(location, "BASE_TYPE_MIN_LENGTH", message))
    if "pattern" in schema and not _regex(schema["pattern"]).search(value):
        problems.append(Problem(location, "STRING_TYPE_REGEX", "String value did not match validation regex."))
    fmt = schema.get("format")
    if fmt == "uri" and not _is_url(value):
        problems.append(Problem(location, "URL_TYPE_INVALID_URL", "Not a well formed URL."))
    elif fmt == "date-time" and not _is_datetime(value):
        problems.append(Problem(location, "DATE_TYPE_PARSE", f"Could not parse {value}. Should be ISO8601."))
    return problems


def _check_number(schema: Schema, value: float, location: Location) -> list[Problem]:
    low, high = _INT_RANGES.get(schema.get("format", ""), (None, None))
    low = schema.get("minimum", low)
    high = schema.get("maximum", high)
    if low is not None and value < low:
        return [Problem(location, "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {low}.")]
    if high is not None and value > high:
        return [Problem(location, "NUMBER_TYPE_MAX", f"int value should be less than or equal to {high}.")]
    return []


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https", "attachment") and bool(parts.netloc)


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
