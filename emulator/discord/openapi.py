"""The vendored OpenAPI description as router and checker: which operation a request is, and what is wrong with it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from .schema import Problem, Schema, SchemaValidator, schema_types

SPEC_RESOURCE = "discord-openapi.json"  # package data of emulator.discord
_METHODS = ("get", "put", "post", "delete", "patch")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True)
class Operation:
    """One method on one path template of the description."""

    method: str
    template: str
    operation_id: str
    parameters: tuple[Mapping[str, Any], ...]
    request_body: Mapping[str, Any] | None
    auth_required: bool
    responses: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteMatch:
    """A request resolved to an operation, with its raw path parameters."""

    operation: Operation
    path_params: dict[str, str]


@dataclass(frozen=True)
class _Template:
    path: str
    segments: tuple[str | None, ...]
    names: tuple[str, ...]
    operations: Mapping[str, Operation]

    def fits(self, segments: Sequence[str]) -> bool:
        return len(segments) == len(self.segments) and all(
            want is None or want == got for want, got in zip(self.segments, segments, strict=True)
        )

    def preference(self) -> tuple[int, ...]:
        """Literal segments beat parameters, earliest first (`/users/@me` over `/users/{user_id}`)."""
        return tuple(0 if s is not None else 1 for s in self.segments)


def _parse_template(path: str, item: Mapping[str, Any]) -> _Template:
    parts = path.strip("/").split("/")
    segments = tuple(None if p.startswith("{") else p for p in parts)
    names = tuple(p[1:-1] for p in parts if p.startswith("{"))
    shared = tuple(item.get("parameters", ()))
    operations = {}
    for method in _METHODS:
        op = item.get(method)
        if op is None:
            continue
        security = op.get("security", [{}])
        operations[method.upper()] = Operation(
            method=method.upper(),
            template=path,
            operation_id=op.get("operationId", f"{method} {path}"),
            parameters=shared + tuple(op.get("parameters", ())),
            request_body=op.get("requestBody"),
            auth_required={} not in security,
            responses=op.get("responses", {}),
        )
    return _Template(path, segments, names, operations)


class OpenApiSpec:
    """Matches requests to operations and checks parameters and bodies against their schemas."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.validator = SchemaValidator(document)
        self._templates = [_parse_template(path, item) for path, item in document["paths"].items()]

    def match(self, method: str, segments: Sequence[str]) -> RouteMatch | int:
        """The operation for this method and path, or the status Discord answers: 404 or 405."""
        fitting = sorted((t for t in self._templates if t.fits(segments)), key=_Template.preference)
        if not fitting:
            return 404
        for template in fitting:
            operation = template.operations.get(method)
            if operation is not None:
                values = [got for want, got in zip(template.segments, segments, strict=True) if want is None]
                return RouteMatch(operation, dict(zip(template.names, values, strict=True)))
        return 405

    def check_parameters(self, match: RouteMatch, query: Mapping[str, str]) -> tuple[list[Problem], list[str]]:
        """Problems Discord rejects (bad values, missing required), and unknown query names it ignores."""
        problems: list[Problem] = []
        declared = set()
        for param in match.operation.parameters:
            name, where = param["name"], param["in"]
            raw = match.path_params.get(name) if where == "path" else query.get(name)
            if where == "query":
                declared.add(name)
            if raw is None:
                if param.get("required"):
                    problems.append(Problem((name,), "BASE_TYPE_REQUIRED", "This field is required"))
                continue
            problems += self._check_raw(param.get("schema", {}), raw, name)
        unknown = [f"query.{name}: not a parameter of this operation" for name in query if name not in declared]
        return problems, unknown

    def _check_raw(self, schema: Schema, raw: str, name: str) -> list[Problem]:
        """Convert a query/path string to the schema's type the way Discord does, then validate it."""
        schema = self.validator.resolve(schema)
        wanted = next((t for t in schema_types(schema) if t != "null"), "string")
        value: Any = raw
        if wanted in ("integer", "number"):
            try:
                value = int(raw) if wanted == "integer" else float(raw)
            except ValueError:
                return [Problem((name,), "NUMBER_TYPE_COERCE", f"Value {json.dumps(raw)} is not {wanted}.")]
        elif wanted == "boolean":
            if raw.lower() not in _BOOLEANS:
                return [Problem((name,), "BOOLEAN_TYPE_CONVERT", "Must be either true or false.")]
            value = _BOOLEANS[raw.lower()]
        return self.validator.validate(schema, value, (name,))

    def check_body(self, operation: Operation, media_type: str | None, body: Any) -> list[Problem]:
        """Validate a parsed body (JSON, or multipart's payload_json) against the operation's schema."""
        spec = operation.request_body
        if spec is None:
            return []
        content: Mapping[str, Any] = spec.get("content", {})
        chosen = content.get(media_type or "application/json")
        if chosen is None:
            offered = ", ".join(content)
            return [Problem((), "CONTENT_TYPE_INVALID", f"Content-Type {media_type} is not one of: {offered}.")]
        if body is None and not spec.get("required"):
            return []
        return self.validator.validate(chosen.get("schema", {}), {} if body is None else body)


    def check_response(self, operation: Operation, status: int, body: Any) -> list[Problem]:
        """What in a JSON response body the description does not allow (how tests hold the emulator to it)."""
        response = operation.responses.get(str(status))
        if response is None:
            return [Problem((), "STATUS_UNDECLARED", f"{status} is not a response of {operation.operation_id}")]
        schema = self.validator.resolve(response).get("content", {}).get("application/json", {}).get("schema")
        return [] if schema is None else self.validator.validate(schema, body)


@cache
def load_spec() -> OpenApiSpec:
    """Parse the vendored description once per process; it is large (about 1 MB)."""
    text = resources.files(__package__).joinpath(SPEC_RESOURCE).read_text(encoding="utf-8")
    return OpenApiSpec(json.loads(text))
