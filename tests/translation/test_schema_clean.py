"""Tool schema cleaning per provider dialect."""

from __future__ import annotations

import copy

import pytest

from providers.openai.schema_clean import SchemaError, clean_tool_schema

DIALECTS = ["full", "no_additional_properties", "gemini"]

NESTED = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "item": {"$ref": "#/$defs/Item", "description": "The item"},
        "tags": {"type": "array"},
    },
    "required": ["item"],
    "additionalProperties": False,
    "$defs": {
        "Item": {
            "type": "object",
            "properties": {"id": {"type": "integer"}},
            "additionalProperties": False,
        }
    },
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_it_never_mutates_its_input(dialect):
    before = copy.deepcopy(NESTED)
    clean_tool_schema(NESTED, dialect)
    assert NESTED == before


@pytest.mark.parametrize("dialect", DIALECTS)
def test_it_drops_the_schema_keyword_and_inlines_refs(dialect):
    cleaned = clean_tool_schema(NESTED, dialect)
    assert "$schema" not in cleaned
    assert "$defs" not in cleaned
    item = cleaned["properties"]["item"]
    assert item["description"] == "The item"
    assert item["properties"] == {"id": {"type": "integer"}}


@pytest.mark.parametrize(
    ("dialect", "kept"), [("full", True), ("no_additional_properties", False), ("gemini", False)]
)
def test_it_drops_additional_properties_only_for_dialects_that_reject_it(dialect, kept):
    cleaned = clean_tool_schema(NESTED, dialect)
    assert ("additionalProperties" in cleaned) is kept
    assert ("additionalProperties" in cleaned["properties"]["item"]) is kept


@pytest.mark.parametrize(
    ("dialect", "items"),
    [("full", {}), ("no_additional_properties", {}), ("gemini", {"type": "string"})],
)
def test_it_gives_arrays_without_items_an_items_schema(dialect, items):
    assert clean_tool_schema(NESTED, dialect)["properties"]["tags"]["items"] == items


def test_it_resolves_old_style_definitions():
    schema = {
        "type": "object",
        "properties": {"a": {"$ref": "#/definitions/A"}},
        "definitions": {"A": {"type": "string"}},
    }
    assert clean_tool_schema(schema, "full") == {
        "type": "object",
        "properties": {"a": {"type": "string"}},
    }


RECURSIVE = {
    "type": "object",
    "properties": {"tree": {"$ref": "#/$defs/Node"}},
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {
                "value": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
        }
    },
}


def test_it_keeps_a_recursive_ref_and_its_definition_for_the_full_dialect():
    cleaned = clean_tool_schema(RECURSIVE, "full")
    tree = cleaned["properties"]["tree"]
    assert tree["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert cleaned["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}


@pytest.mark.parametrize("dialect", ["no_additional_properties", "gemini"])
def test_it_replaces_a_recursive_ref_with_a_described_placeholder(dialect):
    cleaned = clean_tool_schema(RECURSIVE, dialect)
    items = cleaned["properties"]["tree"]["properties"]["children"]["items"]
    assert "$ref" not in str(cleaned).replace("same structure as #/$defs/Node", "")
    assert "Recursive" in items["description"]
    assert "$defs" not in cleaned


def test_it_guards_against_self_reference_to_the_root():
    schema = {"type": "object", "properties": {"again": {"$ref": "#"}}}
    assert clean_tool_schema(schema, "full")["properties"]["again"] == {"$ref": "#"}
    assert clean_tool_schema(schema, "gemini")["properties"]["again"]["type"] == "object"


def test_it_rejects_a_ref_to_nothing():
    with pytest.raises(SchemaError, match="points to nothing"):
        clean_tool_schema({"type": "object", "properties": {"a": {"$ref": "#/$defs/X"}}}, "full")


def test_it_keeps_everything_else_for_the_full_dialect():
    schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "format": "uri", "pattern": "^https://", "default": "x"},
            "n": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
    }
    assert clean_tool_schema(schema, "full") == schema


# -- gemini ------------------------------------------------------------------------


def gemini(schema: dict) -> dict:
    return clean_tool_schema(schema, "gemini")


@pytest.mark.parametrize(
    ("prop", "expected"),
    [
        (
            {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "d"},
            {"type": "string", "nullable": True, "description": "d"},
        ),
        ({"oneOf": [{"type": "null"}, {"type": "integer"}]}, {"type": "integer", "nullable": True}),
        ({"type": ["string", "null"]}, {"type": "string", "nullable": True}),
        (
            {"type": ["string", "integer"]},
            {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        ),
        (
            {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        ),
        ({"const": "fixed"}, {"type": "string", "enum": ["fixed"]}),
        ({"type": "string", "format": "date-time"}, {"type": "string", "format": "date-time"}),
        (
            {"type": "string", "format": "enum", "enum": ["a"]},
            {"type": "string", "format": "enum", "enum": ["a"]},
        ),
        ({"type": "integer", "format": "int64"}, {"type": "integer", "format": "int64"}),
        (
            {"type": "string", "format": "uri", "description": "Where."},
            {"type": "string", "description": "Where. Format: uri."},
        ),
        (
            {"type": "string", "pattern": "^[a-z]+$", "default": "abc", "examples": ["x"]},
            {"type": "string", "description": "Pattern: ^[a-z]+$. Default: abc."},
        ),
        ({"enum": [1, 2, 3]}, {"type": "integer", "description": "Allowed values: 1, 2, 3."}),
        ({"type": "object", "properties": {}}, {"type": "object"}),
        ({"type": "array", "items": {}}, {"type": "array", "items": {"type": "string"}}),
        (
            {"type": "number", "exclusiveMinimum": 0, "minimum": -5, "maximum": 9},
            {"type": "number", "minimum": -5, "maximum": 9, "description": "Exclusive minimum: 0."},
        ),
    ],
)
def test_it_rewrites_properties_into_geminis_subset(prop, expected):
    assert gemini({"type": "object", "properties": {"p": prop}})["properties"]["p"] == expected


def test_it_merges_all_of_for_gemini():
    schema = {
        "type": "object",
        "properties": {
            "p": {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
                ],
                "description": "merged",
            }
        },
    }
    assert gemini(schema)["properties"]["p"] == {
        "type": "object",
        "description": "merged",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    }


def test_it_keeps_only_declared_required_properties_for_gemini():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "ghost"]}
    assert gemini(schema)["required"] == ["a"]


def test_it_drops_unknown_keywords_for_gemini():
    schema = {
        "type": "object",
        "title": "T",
        "$id": "urn:x",
        "$comment": "c",
        "properties": {"a": {"type": "string", "minLength": 1, "maxLength": 5}},
    }
    assert gemini(schema) == {
        "type": "object",
        "title": "T",
        "properties": {"a": {"type": "string", "minLength": 1, "maxLength": 5}},
    }
