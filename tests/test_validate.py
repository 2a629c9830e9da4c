"""Structural checks of a Messages API request: exact errors, and what must pass."""

from __future__ import annotations

from typing import Any

import pytest

from providers.anthropic.validate import parse_json_object, validate_messages_request
from providers.errors import InvalidRequest

DROP = object()  # marks a field to remove from the base request


def request(**changes: Any) -> dict[str, Any]:
    """A minimal valid request with the given fields replaced (or dropped with DROP)."""
    payload: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Hello"}],
    }
    for name, value in changes.items():
        if value is DROP:
            payload.pop(name)
        else:
            payload[name] = value
    return payload


def user(content: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


INVALID = [
    ("model_missing", request(model=DROP), "model: field required"),
    ("model_null", request(model=None), "model: field required"),
    ("model_number", request(model=5), "model: must be a non-empty string, got number 5"),
    ("model_list", request(model=["a"]), "model: must be a non-empty string, got a list"),
    ("model_blank", request(model="  "), 'model: must be a non-empty string, got string "  "'),
    ("max_tokens_missing", request(max_tokens=DROP), "max_tokens: field required"),
    (
        "max_tokens_string",
        request(max_tokens="1024"),
        'max_tokens: must be an integer, got string "1024"',
    ),
    (
        "max_tokens_bool",
        request(max_tokens=True),
        "max_tokens: must be an integer, got boolean true",
    ),
    ("max_tokens_float", request(max_tokens=1.5), "max_tokens: must be an integer, got number 1.5"),
    ("max_tokens_null", request(max_tokens=None), "max_tokens: must be an integer, got null"),
    ("max_tokens_zero", request(max_tokens=0), "max_tokens: must be at least 1, got 0"),
    ("max_tokens_negative", request(max_tokens=-5), "max_tokens: must be at least 1, got -5"),
    ("messages_missing", request(messages=DROP), "messages: field required"),
    ("messages_object", request(messages={}), "messages: must be a list, got an object"),
    ("messages_string", request(messages="hi"), 'messages: must be a list, got string "hi"'),
    ("messages_null", request(messages=None), "messages: must be a list, got null"),
    ("messages_empty", request(messages=[]), "messages: at least one message is required"),
    ("message_string", request(messages=["hi"]), 'messages.0: must be an object, got string "hi"'),
    (
        "message_role_wrong",
        request(messages=[*user("a"), {"role": "bot", "content": "b"}]),
        "messages.1.role: must be one of user, assistant, system, got 'bot'",
    ),
    (
        "message_role_missing",
        request(messages=[{"content": "a"}]),
        "messages.0.role: must be one of user, assistant, system, got None",
    ),
    (
        "message_role_capitalised",
        request(messages=[{"role": "User", "content": "a"}]),
        "messages.0.role: must be one of user, assistant, system, got 'User'",
    ),
    (
        "content_missing",
        request(messages=[{"role": "user"}]),
        "messages.0.content: field required",
    ),
    (
        "content_number",
        request(messages=user(5)),
        "messages.0.content: must be a string or a list of blocks, got number 5",
    ),
    (
        "content_null",
        request(messages=user(None)),
        "messages.0.content: must be a string or a list of blocks, got null",
    ),
    (
        "content_single_block_object",
        request(messages=user({"type": "text", "text": "a"})),
        "messages.0.content: must be a string or a list of blocks, got an object",
    ),
    (
        "block_string",
        request(messages=user(["hi"])),
        'messages.0.content.0: must be an object, got string "hi"',
    ),
    (
        "block_without_type",
        request(messages=user([{"type": "text", "text": "a"}, {"text": "b"}])),
        "messages.0.content.1.type: field required",
    ),
    (
        "block_empty_type",
        request(messages=user([{"type": "", "text": "b"}])),
        "messages.0.content.0.type: field required",
    ),
    (
        "block_number_type",
        request(messages=user([{"type": 3}])),
        "messages.0.content.0.type: field required",
    ),
    (
        "text_block_without_text",
        request(messages=user([{"type": "text"}])),
        "messages.0.content.0.text: must be a string",
    ),
    (
        "text_block_number_text",
        request(messages=user([{"type": "text", "text": 5}])),
        "messages.0.content.0.text: must be a string",
    ),
    (
        "system_number",
        request(system=5),
        "system: must be a string or a list of blocks, got number 5",
    ),
    (
        "system_object",
        request(system={"type": "text", "text": "x"}),
        "system: must be a string or a list of blocks, got an object",
    ),
    ("system_block_without_type", request(system=[{"text": "x"}]), "system.0.type: field required"),
    (
        "system_text_block_without_text",
        request(system=[{"type": "text"}]),
        "system.0.text: must be a string",
    ),
    ("stream_string", request(stream="true"), 'stream: must be a boolean, got string "true"'),
    ("stream_number", request(stream=1), "stream: must be a boolean, got number 1"),
    ("metadata_string", request(metadata="x"), 'metadata: must be an object, got string "x"'),
    (
        "tool_choice_string",
        request(tool_choice="auto"),
        'tool_choice: must be an object, got string "auto"',
    ),
    ("thinking_bool", request(thinking=True), "thinking: must be an object, got boolean true"),
    (
        "temperature_string",
        request(temperature="0.5"),
        'temperature: must be a number, got string "0.5"',
    ),
    (
        "temperature_bool",
        request(temperature=False),
        "temperature: must be a number, got boolean false",
    ),
    ("top_p_list", request(top_p=[1]), "top_p: must be a number, got a list"),
    ("top_k_float", request(top_k=1.5), "top_k: must be an integer, got number 1.5"),
    ("top_k_negative", request(top_k=-1), "top_k: must be at least 0, got -1"),
    (
        "stop_sequences_string",
        request(stop_sequences="END"),
        "stop_sequences: must be a list of strings",
    ),
    (
        "stop_sequences_numbers",
        request(stop_sequences=["a", 1]),
        "stop_sequences: must be a list of strings",
    ),
    ("tools_object", request(tools={"name": "x"}), "tools: must be a list, got an object"),
    (
        "tool_string",
        request(tools=["get_weather"]),
        'tools.0: must be an object, got string "get_weather"',
    ),
    (
        "tool_without_name",
        request(tools=[{"name": "a"}, {}]),
        "tools.1.name: must be a non-empty string",
    ),
    ("tool_empty_name", request(tools=[{"name": ""}]), "tools.0.name: must be a non-empty string"),
    ("tool_number_name", request(tools=[{"name": 1}]), "tools.0.name: must be a non-empty string"),
    (
        "long_string_cut_to_40_characters",
        request(stream="x" * 100),
        'stream: must be a boolean, got string "' + "x" * 40 + '"',
    ),
]


@pytest.mark.parametrize(
    ("payload", "message"),
    [pytest.param(payload, message, id=name) for name, payload, message in INVALID],
)
def test_it_rejects_an_invalid_request_naming_the_problem(
    payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        validate_messages_request(payload)
    assert raised.value.message == message
    assert raised.value.status == 400


def test_it_reports_the_first_problem_found() -> None:
    with pytest.raises(InvalidRequest, match=r"^model: field required$"):
        validate_messages_request(request(model=DROP, messages=[], stream="yes"))


def test_it_names_the_message_and_block_index_of_a_deep_problem() -> None:
    messages = [
        *user("a"),
        {"role": "assistant", "content": "b"},
        *user([{"type": "text", "text": "c"}, {"type": "image", "source": {}}, {"type": "text"}]),
    ]
    with pytest.raises(InvalidRequest, match=r"^messages\.2\.content\.2\.text: must be a string$"):
        validate_messages_request(request(messages=messages))


VALID = {
    "minimal": request(),
    "string_system": request(system="You are terse."),
    "block_system_with_cache_control": request(
        system=[{"type": "text", "text": "Rules", "cache_control": {"type": "ephemeral"}}]
    ),
    "role_system_inside_messages": request(
        messages=[{"role": "system", "content": "Be brief."}, *user("hi")]
    ),
    "unknown_top_level_fields": request(
        container="c_1", service_tier="auto", mcp_servers=[], context_management={"edits": []}
    ),
    "unknown_block_types": request(
        messages=user(
            [
                {"type": "image", "source": {"type": "base64", "data": "AA=="}},
                {"type": "document", "source": {"type": "text", "data": "x"}},
                {"type": "block_from_the_future", "payload": [1, 2]},
            ]
        )
    ),
    "tool_use_and_result_blocks": request(
        messages=[
            *user("weather?"),
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {}}],
            },
            *user([{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]),
        ]
    ),
    "empty_content_list": request(messages=user([])),
    "empty_string_content": request(messages=user("")),
    "null_optional_fields": request(
        stream=None,
        metadata=None,
        tool_choice=None,
        thinking=None,
        temperature=None,
        top_p=None,
        top_k=None,
    ),
    "numbers_int_and_float": request(temperature=1, top_p=0.9, top_k=0),
    "every_optional_field": request(
        stream=True,
        metadata={"user_id": "u"},
        tool_choice={"type": "auto"},
        thinking={"type": "enabled", "budget_tokens": 1024},
        stop_sequences=[],
        tools=[
            {"name": "get_weather", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        ],
    ),
}


@pytest.mark.parametrize("payload", list(VALID.values()), ids=list(VALID))
def test_it_accepts_a_valid_request(payload: dict[str, Any]) -> None:
    assert validate_messages_request(payload) is None


def test_it_does_not_require_max_tokens_when_told_not_to() -> None:
    validate_messages_request(request(max_tokens=DROP), need_max_tokens=False)


def test_it_still_requires_messages_without_max_tokens() -> None:
    with pytest.raises(InvalidRequest, match=r"^messages: field required$"):
        validate_messages_request(request(max_tokens=DROP, messages=DROP), need_max_tokens=False)


def test_it_does_not_modify_the_request() -> None:
    payload = request(system=[{"type": "text", "text": "x"}], extra={"kept": True})
    before = repr(payload)
    validate_messages_request(payload)
    assert repr(payload) == before


@pytest.mark.parametrize("body", [b"", b"  \r\n\t"], ids=["empty", "whitespace"])
def test_it_rejects_an_empty_body(body: bytes) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_json_object(body)
    assert raised.value.message == "request body is empty; expected a JSON object"


@pytest.mark.parametrize("body", [b"{not json", b'{"a": 1', b"\xff\xfe{}"], ids=str)
def test_it_rejects_a_body_that_is_not_json(body: bytes) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_json_object(body)
    assert raised.value.message.startswith("request body is not valid JSON: ")
    assert raised.value.__cause__ is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1, 2]", "request body must be a JSON object, got a list"),
        (b'"hi"', 'request body must be a JSON object, got string "hi"'),
        (b"null", "request body must be a JSON object, got null"),
        (b"3", "request body must be a JSON object, got number 3"),
    ],
    ids=["array", "string", "null", "number"],
)
def test_it_rejects_json_that_is_not_an_object(body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_json_object(body)
    assert raised.value.message == message


def test_it_parses_a_json_object() -> None:
    assert parse_json_object(b' {"model": "m", "n": [1, null]} ') == {"model": "m", "n": [1, None]}
