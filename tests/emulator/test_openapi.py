"""Requests checked against the vendored OpenAPI description, and the schema validator itself."""

from __future__ import annotations

import aiohttp
import pytest

from emulator.discord import DiscordEmulator
from emulator.discord.openapi import load_spec
from emulator.discord.schema import SchemaValidator
from tests.emulator.helpers import call, run_raw, sandbox


def test_schema_breaking_body_is_refused_and_recorded() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        path = f"/channels/{emulator.world.channel_named('general').id}/messages"
        body = {"content": "hi", "tts": "yes", "embeds": [{"title": "t" * 257}]}
        refused = await call(session, emulator, "POST", path, json=body)
        assert refused.status == 400 and refused.body["message"] == "Invalid Form Body"
        assert refused.body["errors"]["tts"]["_errors"][0]["code"] == "BOOLEAN_TYPE_CONVERT"
        assert refused.body["errors"]["embeds"]["0"]["title"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
        listed = await sandbox(session, emulator, "GET", "/violations")
        assert listed.body == [
            {"method": "POST", "path": "/api/v10" + path, "problem": "body.tts: Value must be of type boolean."},
            {
                "method": "POST",
                "path": "/api/v10" + path,
                "problem": "body.embeds.0.title: Must be 256 or fewer in length.",
            },
        ]

    run_raw(scenario)


def test_parameters_and_routes_are_checked() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        path = f"/channels/{emulator.world.channel_named('general').id}/messages"
        too_many = await call(session, emulator, "GET", path, params={"limit": "500"})
        assert too_many.body["errors"]["limit"]["_errors"][0]["code"] == "NUMBER_TYPE_MAX"
        not_snowflake = await call(session, emulator, "GET", "/channels/general/messages")
        assert not_snowflake.body["errors"]["channel_id"]["_errors"][0]["code"] == "NUMBER_TYPE_COERCE"
        ignored = await call(session, emulator, "GET", path, params={"limt": "5"})
        assert ignored.status == 200
        assert (await call(session, emulator, "GET", "/no/such/route")).body == {"message": "404: Not Found", "code": 0}
        assert (await call(session, emulator, "PUT", "/users/@me")).status == 405
        broken = await session.post(
            emulator.api_base + path,
            data=b"{not json",
            headers={"Authorization": "Bot sandbox-token", "Content-Type": "application/json"},
        )
        assert broken.status == 400 and (await broken.json())["code"] == 50109
        problems = [v.problem for v in emulator.violations()]
        assert problems[:3] == [
            "params.limit: int value should be less than or equal to 100.",
            'params.channel_id: Value "general" is not snowflake.',
            "query.limt: not a parameter of this operation",
        ]
        assert len(problems) == 5  # plus the unknown route and the wrong method

    run_raw(scenario)


def test_described_but_unemulated_operation_answers_501() -> None:
    async def scenario(emulator: DiscordEmulator, session: aiohttp.ClientSession) -> None:
        channel = emulator.world.channel_named("general").id
        reply = await call(session, emulator, "GET", f"/channels/{channel}/invites")
        assert reply.status == 501 and emulator.violations() == []

    run_raw(scenario)


def test_routes_prefer_literal_segments() -> None:
    spec = load_spec()
    me = spec.match("GET", ["users", "@me"])
    other = spec.match("GET", ["users", "42"])
    assert not isinstance(me, int) and me.operation.template == "/users/@me"
    assert not isinstance(other, int) and other.path_params == {"user_id": "42"}
    assert spec.match("GET", ["nope"]) == 404 and spec.match("PUT", ["users", "@me"]) == 405


DOCUMENT = {
    "components": {
        "schemas": {
            "Id": {"type": "string", "pattern": "^(0|[1-9][0-9]*)$", "format": "snowflake"},
            "Thing": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"$ref": "#/components/schemas/Id"},
                    "kind": {"type": "integer", "enum": [1, 2]},
                    "tags": {
                        "type": ["array", "null"],
                        "items": {"type": "string"},
                        "maxItems": 2,
                        "uniqueItems": True,
                    },
                    "link": {"type": "string", "format": "uri"},
                    "parent": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Id"}]},
                    "closed": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"a": {"type": "number"}},
                    },
                },
            },
        }
    }
}
THING = {"$ref": "#/components/schemas/Thing"}


@pytest.mark.parametrize(
    ("value", "codes"),
    [
        ({"id": "1"}, []),
        ({"id": 123, "parent": 7}, []),
        ({"id": "1", "tags": None, "parent": None}, []),
        ({}, ["BASE_TYPE_REQUIRED"]),
        ({"id": "x1"}, ["NUMBER_TYPE_COERCE"]),
        ({"id": "1", "kind": 3}, ["BASE_TYPE_CHOICES"]),
        ({"id": "1", "tags": ["a", "b", "c"]}, ["BASE_TYPE_MAX_LENGTH"]),
        ({"id": "1", "tags": ["a", "a"]}, ["LIST_ITEMS_NOT_UNIQUE"]),
        ({"id": "1", "link": "not a url"}, ["URL_TYPE_INVALID_URL"]),
        ({"id": "1", "parent": "abc"}, ["NUMBER_TYPE_COERCE"]),
        ({"id": "1", "closed": {"b": 1}}, ["BASE_TYPE_UNKNOWN_FIELD"]),
        ({"id": "1", "closed": {"a": True}}, ["NUMBER_TYPE_COERCE"]),
        ("nope", ["DICT_TYPE_CONVERT"]),
    ],
)
def test_schema_subset(value: object, codes: list[str]) -> None:
    assert [p.code for p in SchemaValidator(DOCUMENT).validate(THING, value)] == codes


KINDS = {"components": {"schemas": {"Kind": {"type": "integer", "oneOf": [{"const": 1}, {"const": 2}]}}}}
ORDERED = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "string", "format": "snowflake", "pattern": "^(0|[1-9][0-9]*)$"},
        "kind": {"$ref": "#/components/schemas/Kind"},
        "name": {"type": "string", "maxLength": 3},
        "count": {"type": "integer", "enum": [1, 2], "maximum": 5},
    },
}


def test_schema_keeps_its_leniencies_and_discord_order() -> None:
    validator = SchemaValidator(KINDS)
    # Named values (oneOf of const) are labels, not checks; a snowflake's pattern yields to its format.
    assert validator.validate(ORDERED, {"id": "0123", "name": "a", "kind": 7}) == []
    problems = validator.validate(ORDERED, {"count": 1.0, "name": "long"})
    assert [(p.location, p.code) for p in problems] == [
        (("id",), "BASE_TYPE_REQUIRED"),  # missing fields first, then the fields in the order they were sent
        (("count",), "NUMBER_TYPE_COERCE"),  # 1.0 is not an integer, and a wrong type is the only complaint
        (("name",), "BASE_TYPE_MAX_LENGTH"),
    ]
    problems = validator.validate(ORDERED, {"id": "1", "name": "a", "count": 9}, ("body",))
    assert [p.describe("x") for p in problems] == [
        "x.body.count: Value must be one of (1, 2).",
        "x.body.count: int value should be less than or equal to 5.",
    ]
