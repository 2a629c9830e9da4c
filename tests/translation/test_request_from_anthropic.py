"""Anthropic Messages request -> Chat Completions request."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.errors import InvalidRequest
from providers.openai.presets import GEMINI_SKIP_SIGNATURE, PRESETS, Preset
from providers.openai.request_from_anthropic import (
    TranslatedRequest,
    effort_for_budget,
    outgoing_tool_call_id,
    translate_request,
)


def translate(
    body: dict[str, Any], preset: Preset | None = None, model: str = "gpt-4.1"
) -> TranslatedRequest:
    return translate_request(body, target_model=model, preset=preset or PRESETS["openai"])


def with_messages(body: dict[str, Any], *messages: dict[str, Any]) -> dict[str, Any]:
    return {**body, "messages": list(messages)}


def tool_turns(result_content: Any, **result: Any) -> list[dict[str, Any]]:
    """A user question, an assistant tool call, and the user's tool_result."""
    return [
        {"role": "user", "content": "Read it"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"path": "a.py"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": result_content,
                    **result,
                }
            ],
        },
    ]


# -- system --------------------------------------------------------------------


def test_it_turns_a_string_system_into_a_leading_system_message(request_body):
    out = translate({**request_body, "system": "Be brief."}).body
    assert out["messages"][0] == {"role": "system", "content": "Be brief."}
    assert out["messages"][1] == {"role": "user", "content": "Hello"}


def test_it_joins_system_blocks_and_drops_the_claude_code_billing_block(request_body):
    system = [
        {
            "type": "text",
            "text": "x-anthropic-billing-header: cc_version=2.1.3; cc_entrypoint=cli;",
        },
        {
            "type": "text",
            "text": "You are Claude Code, Anthropic's official CLI for Claude.",
            "cache_control": {"type": "ephemeral"},
        },
        {"type": "text", "text": "Main prompt."},
    ]
    result = translate({**request_body, "system": system})
    assert result.body["messages"][0] == {
        "role": "system",
        "content": "You are Claude Code, Anthropic's official CLI for Claude.\n\nMain prompt.",
    }
    assert any("billing" in note for note in result.notes)
    assert any("cache_control" in note for note in result.notes)


def test_it_sends_no_system_message_when_only_the_billing_block_is_there(request_body):
    system = [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.3;"}]
    out = translate({**request_body, "system": system}).body
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_it_keeps_system_entries_inside_messages_in_place(request_body):
    body = with_messages(
        request_body,
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "system", "content": [{"type": "text", "text": "Reminder."}]},
        {"role": "user", "content": "three"},
    )
    out = translate({**body, "system": "Top."}).body
    assert out["messages"] == [
        {"role": "system", "content": "Top."},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "system", "content": "Reminder."},
        {"role": "user", "content": "three"},
    ]


def test_it_moves_a_system_entry_between_a_call_and_its_result_after_the_tool_messages(
    request_body,
):
    turns = tool_turns("file body")
    body = with_messages(request_body, *turns[:2], {"role": "system", "content": "Note."}, turns[2])
    roles = [m["role"] for m in translate(body).body["messages"]]
    assert roles == ["user", "assistant", "tool", "system"]


def test_it_rejects_a_non_text_system_block(request_body):
    system = [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]
    with pytest.raises(InvalidRequest, match=r"^system\.0: "):
        translate({**request_body, "system": system})


# -- user content -----------------------------------------------------------------


def test_it_sends_plain_string_content_when_a_user_turn_is_only_text(request_body):
    body = with_messages(
        request_body,
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>x</system-reminder>"},
                {"type": "text", "text": "Fix the bug", "cache_control": {"type": "ephemeral"}},
            ],
        },
    )
    out = translate(body).body
    assert out["messages"] == [
        {"role": "user", "content": "<system-reminder>x</system-reminder>\n\nFix the bug"}
    ]


@pytest.mark.parametrize(
    ("source", "url"),
    [
        (
            {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
            "data:image/png;base64,iVBORw0KGgo=",
        ),
        ({"type": "url", "url": "https://example.com/cat.jpg"}, "https://example.com/cat.jpg"),
    ],
)
def test_it_turns_images_into_image_url_parts(request_body, source, url):
    body = with_messages(
        request_body,
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "source": source},
            ],
        },
    )
    assert translate(body).body["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": url}},
    ]


def test_it_rejects_images_for_a_provider_without_images(request_body, deepseek):
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}
    body = with_messages(request_body, {"role": "user", "content": [image]})
    with pytest.raises(InvalidRequest, match=r"^messages\.0\.content\.0: image blocks cannot"):
        translate(body, deepseek)


def test_it_rejects_image_urls_for_a_provider_that_takes_base64_only(request_body):
    image = {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}
    body = with_messages(request_body, {"role": "user", "content": [image]})
    with pytest.raises(InvalidRequest, match="base64 images only"):
        translate(body, PRESETS["ollama"])


def test_it_rejects_a_document_block_and_says_where(request_body):
    document = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
    }
    body = with_messages(
        request_body,
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
        {"role": "user", "content": [document]},
    )
    with pytest.raises(InvalidRequest) as caught:
        translate(body)
    assert caught.value.message == (
        "messages.3.content.0: document blocks cannot be sent to an OpenAI-format provider"
    )
    assert caught.value.status == 400


def test_it_rejects_an_unknown_block_type(request_body):
    body = with_messages(request_body, {"role": "user", "content": [{"type": "foo"}]})
    with pytest.raises(
        InvalidRequest, match=r'^messages\.0\.content\.0: unknown block type "foo"$'
    ):
        translate(body)


def test_it_rejects_files_api_images(request_body):
    image = {"type": "image", "source": {"type": "file", "file_id": "file_01"}}
    body = with_messages(request_body, {"role": "user", "content": [image]})
    with pytest.raises(InvalidRequest, match="Files API"):
        translate(body)


def test_it_keeps_empty_user_content(request_body):
    body = with_messages(request_body, {"role": "user", "content": []})
    assert translate(body).body["messages"] == [{"role": "user", "content": ""}]


def test_it_keeps_unicode_text_intact(request_body):
    text = "héllo 👋 — 日本語 \u200d"
    body = with_messages(
        request_body, {"role": "user", "content": [{"type": "text", "text": text}]}
    )
    assert translate(body).body["messages"][0]["content"] == text


# -- assistant turns and tools in history -----------------------------------------------


def test_it_turns_tool_use_into_tool_calls_with_the_same_ids_and_compact_json(request_body):
    body = with_messages(request_body, *tool_turns("file body"))
    assistant = translate(body).body["messages"][1]
    assert assistant == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "toolu_01",
                "type": "function",
                "function": {"name": "Read", "arguments": '{"path":"a.py"}'},
            }
        ],
    }


def test_it_sends_empty_arguments_as_an_empty_object(request_body):
    turns = tool_turns("ok")
    turns[1]["content"][0]["input"] = {}
    call = translate(with_messages(request_body, *turns)).body["messages"][1]["tool_calls"][0]
    assert call["function"]["arguments"] == "{}"


def test_it_keeps_assistant_text_next_to_tool_calls(request_body):
    turns = tool_turns("ok")
    turns[1]["content"].insert(0, {"type": "text", "text": "Let me look."})
    assistant = translate(with_messages(request_body, *turns)).body["messages"][1]
    assert assistant["content"] == "Let me look."
    assert len(assistant["tool_calls"]) == 1


def test_it_turns_tool_results_into_tool_messages_before_the_users_text(request_body):
    body = with_messages(
        request_body,
        {"role": "user", "content": "Read both"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_a", "name": "Read", "input": {"path": "a"}},
                {"type": "tool_use", "id": "toolu_b", "name": "Read", "input": {"path": "b"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Here you go"},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "B"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_a",
                    "content": [{"type": "text", "text": "A"}],
                },
            ],
        },
    )
    messages = translate(body).body["messages"]
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "toolu_b", "content": "B"},
        {"role": "tool", "tool_call_id": "toolu_a", "content": "A"},
        {"role": "user", "content": "Here you go"},
    ]


def test_it_prefixes_error_results(request_body):
    body = with_messages(request_body, *tool_turns("No such file", is_error=True))
    assert translate(body).body["messages"][2]["content"] == "Error: No such file"


def test_it_moves_images_in_tool_results_to_a_user_message_after_the_tool_messages(request_body):
    result = [
        {"type": "text", "text": "Screenshot taken"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
    ]
    messages = translate(with_messages(request_body, *tool_turns(result))).body["messages"]
    tool, user = messages[2], messages[3]
    assert tool["role"] == "tool"
    assert tool["content"].startswith("Screenshot taken\n[1 image from this result follow")
    assert user == {
        "role": "user",
        "content": [
            {"type": "text", "text": "Images returned by the Read tool call toolu_01:"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ],
    }


@pytest.mark.parametrize("content", [None, "", []])
def test_it_sends_an_empty_tool_result_as_empty_text(request_body, content):
    turns = tool_turns(content)
    if content is None:
        del turns[2]["content"][0]["content"]
    messages = translate(with_messages(request_body, *turns)).body["messages"]
    assert messages[2] == {"role": "tool", "tool_call_id": "toolu_01", "content": ""}
    assert len(messages) == 3


def test_it_rejects_a_document_inside_a_tool_result(request_body):
    doc = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}
    with pytest.raises(InvalidRequest, match=r"^messages\.2\.content\.0\.content\.0: document"):
        translate(with_messages(request_body, *tool_turns([doc])))


def test_it_rejects_a_tool_result_for_an_unknown_call(request_body):
    turns = tool_turns("x")
    turns[2]["content"][0]["tool_use_id"] = "toolu_zz"
    with pytest.raises(InvalidRequest, match=r"^messages\.2\.content\.0: tool_result"):
        translate(with_messages(request_body, *turns))


def test_it_rejects_a_tool_call_left_without_result(request_body):
    turns = tool_turns("x")
    turns[2]["content"] = [{"type": "text", "text": "never mind"}]
    with pytest.raises(InvalidRequest, match=r"^messages\.2: tool_use ids toolu_01"):
        translate(with_messages(request_body, *turns))


def test_it_replays_thinking_as_reasoning_content_when_the_preset_wants_it(request_body, deepseek):
    turns = tool_turns("x")
    turns[1]["content"].insert(
        0, {"type": "thinking", "thinking": "Need the file.", "signature": "sig"}
    )
    result = translate(with_messages(request_body, *turns), deepseek)
    assert result.body["messages"][1]["reasoning_content"] == "Need the file."
    assert any("signature" in note for note in result.notes)


def test_it_drops_thinking_for_other_presets_with_a_note(request_body, openai):
    turns = tool_turns("x")
    turns[1]["content"][:0] = [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "redacted_thinking", "data": "EuYBCkQ..."},
    ]
    result = translate(with_messages(request_body, *turns), openai)
    assert "reasoning_content" not in result.body["messages"][1]
    assert any("thinking blocks dropped" in note for note in result.notes)
    assert any("redacted_thinking" in note for note in result.notes)


def test_it_maps_tool_call_ids_for_mistral_consistently(request_body):
    mistral = PRESETS["mistral"]
    messages = translate(with_messages(request_body, *tool_turns("x")), mistral).body["messages"]
    call_id = messages[1]["tool_calls"][0]["id"]
    assert re.fullmatch(r"[A-Za-z0-9]{9}", call_id)
    assert messages[2]["tool_call_id"] == call_id
    assert outgoing_tool_call_id("abcDEF123", mistral) == "abcDEF123"


def test_it_adds_the_gemini_signature_placeholder_to_replayed_calls(request_body, gemini):
    messages = translate(with_messages(request_body, *tool_turns("x")), gemini).body["messages"]
    assert messages[1]["tool_calls"][0]["extra_content"] == {
        "google": {"thought_signature": GEMINI_SKIP_SIGNATURE}
    }


# -- tools ---------------------------------------------------------------------------


READ_TOOL = {
    "name": "Read",
    "description": "Read a file",
    "input_schema": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
        "additionalProperties": False,
    },
    "cache_control": {"type": "ephemeral"},
}


def test_it_turns_tools_into_functions_with_cleaned_parameters(request_body):
    out = translate({**request_body, "tools": [READ_TOOL]}).body
    assert out["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "Read",
                "description": "Read a file",
                "parameters": {
                    "type": "object",
                    "properties": {"path": {"type": "string"}},
                    "required": ["path"],
                    "additionalProperties": False,
                },
            },
        }
    ]


def test_it_cleans_tool_schemas_in_the_presets_dialect(request_body, gemini):
    parameters = translate({**request_body, "tools": [READ_TOOL]}, gemini).body["tools"][0][
        "function"
    ]["parameters"]
    assert "additionalProperties" not in parameters


@pytest.mark.parametrize(
    "tool",
    [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        {"type": "bash_20250124", "name": "bash"},
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
    ],
)
def test_it_rejects_server_tools_by_name(request_body, tool):
    with pytest.raises(InvalidRequest, match=rf'^tools\.1: server tool "{tool["name"]}"'):
        translate({**request_body, "tools": [READ_TOOL, tool]})


def test_it_rejects_a_custom_tool_without_schema(request_body):
    with pytest.raises(InvalidRequest, match=r'^tools\.0: tool "x" has no input_schema'):
        translate({**request_body, "tools": [{"name": "x"}]})


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "Read"}, {"type": "function", "function": {"name": "Read"}}),
    ],
)
def test_it_maps_tool_choice(request_body, choice, expected):
    out = translate({**request_body, "tools": [READ_TOOL], "tool_choice": choice}).body
    assert out["tool_choice"] == expected
    assert "parallel_tool_calls" not in out


def test_it_maps_disable_parallel_tool_use(request_body):
    choice = {"type": "auto", "disable_parallel_tool_use": True}
    out = translate({**request_body, "tools": [READ_TOOL], "tool_choice": choice}).body
    assert out["parallel_tool_calls"] is False


def test_it_notes_disable_parallel_tool_use_for_a_provider_without_the_flag(request_body, gemini):
    choice = {"type": "any", "disable_parallel_tool_use": True}
    result = translate({**request_body, "tools": [READ_TOOL], "tool_choice": choice}, gemini)
    assert "parallel_tool_calls" not in result.body
    assert any("disable_parallel_tool_use" in note for note in result.notes)


def test_it_sends_no_tool_choice_without_tools(request_body):
    out = translate({**request_body, "tool_choice": {"type": "auto"}}).body
    assert "tool_choice" not in out and "tools" not in out


def test_it_rejects_tool_choice_naming_a_missing_tool(request_body):
    with pytest.raises(InvalidRequest, match=r"^tool_choice\.name"):
        translate(
            {**request_body, "tools": [READ_TOOL], "tool_choice": {"type": "tool", "name": "X"}}
        )


# -- sampling and options ---------------------------------------------------------------


def test_it_maps_sampling_options_and_never_sends_null(request_body):
    body = {
        **request_body,
        "temperature": 0.2,
        "top_p": None,
        "top_k": 40,
        "stop_sequences": ["\n\nHuman:"],
    }
    result = translate(body)
    assert result.body["temperature"] == 0.2
    assert "top_p" not in result.body
    assert "top_k" not in result.body
    assert result.body["stop"] == ["\n\nHuman:"]
    assert any("top_k" in note for note in result.notes)
    assert None not in result.body.values()


def test_it_sends_top_k_to_a_provider_that_takes_it(request_body):
    assert translate({**request_body, "top_k": 40}, PRESETS["vllm"]).body["top_k"] == 40


@pytest.mark.parametrize(
    ("preset", "field", "requested", "sent"),
    [
        ("openai", "max_completion_tokens", 32000, 32000),
        ("vllm", "max_tokens", 32000, 32000),
        ("deepseek", "max_tokens", 32000, 8192),
        ("deepseek", "max_tokens", 100, 100),
    ],
)
def test_it_sends_max_tokens_in_the_presets_field_capped(
    request_body, preset, field, requested, sent
):
    result = translate({**request_body, "max_tokens": requested}, PRESETS[preset])
    assert result.body[field] == sent
    assert ("max_tokens" in result.body) == (field == "max_tokens")
    assert any("capped" in note for note in result.notes) == (requested != sent)


def test_it_maps_stream_to_stream_options(request_body):
    out = translate({**request_body, "stream": True}).body
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
    mistral = translate({**request_body, "stream": True}, PRESETS["mistral"]).body
    assert mistral["stream"] is True and "stream_options" not in mistral


def test_it_maps_metadata_user_id_to_user_hashing_long_values(request_body, gemini):
    short = translate({**request_body, "metadata": {"user_id": "u-1"}}).body
    assert short["user"] == "u-1"
    claude_code = json.dumps({"device_id": "d" * 64, "account_uuid": "a", "session_id": "s"})
    long = translate({**request_body, "metadata": {"user_id": claude_code}}).body
    assert re.fullmatch(r"[0-9a-f]{64}", long["user"])
    dropped = translate({**request_body, "metadata": {"user_id": "u-1"}}, gemini)
    assert "user" not in dropped.body
    assert any("user_id" in note for note in dropped.notes)


@pytest.mark.parametrize(
    ("budget", "effort"),
    [
        (1024, "low"),
        (4000, "low"),
        (4096, "low"),
        (10000, "medium"),
        (16384, "medium"),
        (31999, "high"),
    ],
)
def test_it_maps_thinking_budgets_to_reasoning_effort(request_body, budget, effort):
    assert effort_for_budget(budget) == effort
    body = {
        **request_body,
        "max_tokens": 64000,
        "thinking": {"type": "enabled", "budget_tokens": budget},
    }
    assert translate(body, model="o4-mini").body["reasoning_effort"] == effort


@pytest.mark.parametrize(
    ("effort", "sent"),
    [("low", "low"), ("medium", "medium"), ("high", "high"), ("xhigh", "high"), ("max", "high")],
)
def test_it_maps_output_config_effort(request_body, effort, sent):
    body = {**request_body, "thinking": {"type": "adaptive"}, "output_config": {"effort": effort}}
    assert translate(body, model="gpt-5").body["reasoning_effort"] == sent


def test_it_sends_no_reasoning_effort_to_a_model_that_does_not_reason(request_body):
    body = {**request_body, "thinking": {"type": "enabled", "budget_tokens": 2048}}
    result = translate(body, model="gpt-4.1")
    assert "reasoning_effort" not in result.body
    assert "thinking dropped: gpt-4.1 takes no reasoning effort" in result.notes


def test_it_drops_sampling_parameters_for_openai_reasoning_models(request_body):
    body = {**request_body, "temperature": 0.2, "top_p": 0.9}
    result = translate(body, model="o3")
    assert "temperature" not in result.body and "top_p" not in result.body
    assert "temperature dropped: o3 takes no sampling parameters" in result.notes
    assert translate(body, model="gpt-4.1").body["temperature"] == 0.2


def test_it_sends_openrouters_reasoning_object(request_body):
    body = {**request_body, "thinking": {"type": "enabled", "budget_tokens": 2048}}
    out = translate(body, PRESETS["openrouter"]).body
    assert out["reasoning"] == {"effort": "low"} and "reasoning_effort" not in out


def test_it_drops_thinking_with_a_note_for_a_provider_without_reasoning_effort(request_body):
    body = {**request_body, "thinking": {"type": "enabled", "budget_tokens": 2048}}
    result = translate(body, PRESETS["mistral"])
    assert "reasoning_effort" not in result.body
    assert any("thinking dropped" in note for note in result.notes)


def test_it_sends_no_effort_when_thinking_is_disabled(request_body):
    body = {**request_body, "thinking": {"type": "disabled"}, "output_config": {"effort": "high"}}
    assert "reasoning_effort" not in translate(body).body


def test_it_maps_output_config_json_schema_to_response_format(request_body):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": False,
    }
    body = {**request_body, "output_config": {"format": {"type": "json_schema", "schema": schema}}}
    assert translate(body).body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema, "strict": True},
    }


def test_it_asks_for_non_strict_output_when_the_schema_is_open(request_body):
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    body = {**request_body, "output_config": {"format": {"type": "json_schema", "schema": schema}}}
    assert translate(body).body["response_format"]["json_schema"]["strict"] is False


def test_it_drops_context_management_with_a_note(request_body):
    body = {
        **request_body,
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
    }
    result = translate(body)
    assert "context_management" not in result.body
    assert any(note.startswith("context_management dropped") for note in result.notes)


def test_it_notes_unknown_fields(request_body):
    result = translate({**request_body, "future_field": 1})
    assert any(note.startswith("future_field dropped") for note in result.notes)
    assert "future_field" not in result.body


def test_it_rejects_mcp_servers(request_body):
    body = {**request_body, "mcp_servers": [{"type": "url", "url": "https://x", "name": "x"}]}
    with pytest.raises(InvalidRequest, match=r"^mcp_servers:"):
        translate(body)


def test_it_uses_the_target_model(request_body):
    assert (
        translate_request(request_body, target_model="o4-mini", preset=PRESETS["openai"]).body[
            "model"
        ]
        == "o4-mini"
    )


def test_it_does_not_mutate_its_input(request_body):
    body = {
        **request_body,
        "system": [{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}],
        "tools": [READ_TOOL],
        "messages": tool_turns(
            [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}]
        ),
    }
    before = copy.deepcopy(body)
    translate(body, PRESETS["gemini"])
    assert body == before


# -- properties --------------------------------------------------------------------------

JSON_LEAVES = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=12)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
TEXT_BLOCKS = st.builds(lambda t: {"type": "text", "text": t}, st.text(max_size=20))


@st.composite
def anthropic_requests(draw: st.DrawFn) -> dict[str, Any]:
    """Valid requests: user/assistant alternation, tool calls answered in the next turn."""
    ids = iter(range(10_000))
    tool_names = ["Read", "Write", "Bash"]
    messages: list[dict[str, Any]] = []
    pending: list[str] = []
    for turn in range(draw(st.integers(1, 5))):
        results = [
            {
                "type": "tool_result",
                "tool_use_id": tool_id,
                "content": draw(st.one_of(st.text(max_size=10), st.lists(TEXT_BLOCKS, max_size=2))),
                **({"is_error": True} if draw(st.booleans()) else {}),
            }
            for tool_id in pending
        ]
        user_blocks = results + draw(st.lists(TEXT_BLOCKS, max_size=2))
        user_blocks = draw(st.permutations(user_blocks))
        if user_blocks or draw(st.booleans()):
            messages.append({"role": "user", "content": user_blocks})
        else:
            messages.append({"role": "user", "content": draw(st.text(max_size=20))})
        if draw(st.booleans()):
            messages.append({"role": "system", "content": draw(st.text(max_size=10))})
        last = turn > 0 and draw(st.booleans())
        if last and not pending:
            break
        pending = [f"toolu_{next(ids)}" for _ in range(draw(st.integers(0, 3)))]
        blocks: list[dict[str, Any]] = []
        if draw(st.booleans()):
            blocks.append(
                {"type": "thinking", "thinking": draw(st.text(max_size=10)), "signature": "s"}
            )
        blocks += draw(st.lists(TEXT_BLOCKS, max_size=2))
        for tool_id in pending:
            arguments = draw(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3))
            blocks.append(
                {
                    "type": "tool_use",
                    "id": tool_id,
                    "name": draw(st.sampled_from(tool_names)),
                    "input": arguments,
                }
            )
        messages.append({"role": "assistant", "content": blocks})
        if draw(st.booleans()):  # even between tool calls and their results
            messages.append({"role": "system", "content": [{"type": "text", "text": "note"}]})
    if pending:  # answer the last calls so the request is valid
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": t, "content": "ok"} for t in pending
                ],
            }
        )
    body: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": draw(st.integers(1, 100_000)),
        "messages": messages,
        "tools": [
            {"name": name, "input_schema": {"type": "object", "properties": {}}}
            for name in tool_names
        ],
    }
    for name in ("temperature", "top_p"):
        if draw(st.booleans()):
            body[name] = draw(st.none() | st.floats(0, 1))
    if draw(st.booleans()):
        body["stream"] = True
    return body


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=anthropic_requests(),
    preset=st.sampled_from(sorted(PRESETS.values(), key=lambda p: p.name)),
)
def test_any_valid_request_translates_to_a_well_formed_chat_request(body, preset):
    before = copy.deepcopy(body)
    out = translate(body, preset).body
    assert body == before
    orjson.dumps(out)  # plain JSON, nothing exotic
    assert all(value is not None for value in out.values())
    assert "temperature" not in out or isinstance(out["temperature"], float)

    messages = out["messages"]
    for position, message in enumerate(messages):
        if message["role"] == "tool":
            # Walk back over sibling tool messages to the assistant that made the call.
            j = position - 1
            while messages[j]["role"] == "tool":
                j -= 1
            assistant = messages[j]
            assert assistant["role"] == "assistant"
            declared = [call["id"] for call in assistant.get("tool_calls", [])]
            assert message["tool_call_id"] in declared
        if message["role"] == "assistant" and message.get("tool_calls"):
            answered = []
            for follower in messages[position + 1 :]:
                if follower["role"] != "tool":
                    break
                answered.append(follower["tool_call_id"])
            assert sorted(answered) == sorted(call["id"] for call in message["tool_calls"])
            for call in message["tool_calls"]:
                assert isinstance(json.loads(call["function"]["arguments"]), dict)
