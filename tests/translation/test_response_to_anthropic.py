"""Chat Completions response / error -> Anthropic Message / error envelope."""

from __future__ import annotations

from json import dumps
from typing import Any

import anthropic
import pytest

from providers.errors import UpstreamProtocolError
from providers.openai.presets import PRESETS, Preset
from providers.openai.response_to_anthropic import translate_error, translate_response


def completion(message: dict[str, Any], finish_reason: str | None = "stop", **extra: Any) -> dict:
    return {
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "model": "gpt-4.1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        **extra,
    }


def translate(body: dict, preset: Preset | None = None) -> dict:
    message = translate_response(
        body, requested_model="claude-sonnet-4-5", preset=preset or PRESETS["openai"]
    )
    anthropic.types.Message.model_validate(message)  # the SDK accepts it as a Message
    return message


def test_it_builds_an_anthropic_message_from_a_text_answer():
    message = translate(completion({"content": "Hello!"}))
    assert message == {
        "id": "msg_chatcmpl-abc123",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 100,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 20,
        },
    }


def test_it_generates_a_message_id_when_upstream_has_none():
    body = completion({"content": "x"})
    del body["id"]
    assert translate(body)["id"].startswith("msg_")


@pytest.mark.parametrize(
    ("field", "preset"),
    [("reasoning_content", "deepseek"), ("reasoning", "groq"), ("reasoning", "generic")],
)
def test_it_puts_reasoning_in_a_thinking_block_before_the_text(field, preset):
    message = translate(completion({"content": "42", field: "Let me think."}), PRESETS[preset])
    assert message["content"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": ""},
        {"type": "text", "text": "42"},
    ]


def test_it_reads_mistral_thinking_parts():
    content = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "Hmm."}]},
        {"type": "text", "text": "Answer."},
    ]
    message = translate(completion({"content": content}), PRESETS["mistral"])
    assert message["content"] == [
        {"type": "thinking", "thinking": "Hmm.", "signature": ""},
        {"type": "text", "text": "Answer."},
    ]


def test_it_turns_tool_calls_into_tool_use_blocks_keeping_ids():
    calls = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "Read", "arguments": '{"path": "a"}'},
        },
        {"id": "call_2", "type": "function", "function": {"name": "Glob", "arguments": "{}"}},
        {"id": "call_3", "type": "function", "function": {"name": "Ls", "arguments": ""}},
    ]
    message = translate(completion({"content": "Looking.", "tool_calls": calls}, "tool_calls"))
    assert message["content"] == [
        {"type": "text", "text": "Looking."},
        {"type": "tool_use", "id": "call_1", "name": "Read", "input": {"path": "a"}},
        {"type": "tool_use", "id": "call_2", "name": "Glob", "input": {}},
        {"type": "tool_use", "id": "call_3", "name": "Ls", "input": {}},
    ]
    assert message["stop_reason"] == "tool_use"


def test_it_says_tool_use_whenever_tools_were_called_whatever_the_finish_reason():
    calls = [{"id": "c", "type": "function", "function": {"name": "Read", "arguments": "{}"}}]
    assert (
        translate(completion({"content": None, "tool_calls": calls}, "stop"))["stop_reason"]
        == "tool_use"
    )


def test_it_generates_ids_for_calls_without_one():
    calls = [{"id": "", "type": "function", "function": {"name": "Read", "arguments": "{}"}}]
    block = translate(completion({"tool_calls": calls}, "tool_calls"))["content"][0]
    assert block["id"].startswith("toolu_")


def test_it_maps_the_legacy_function_call():
    message = translate(
        completion(
            {"content": None, "function_call": {"name": "Read", "arguments": '{"p":1}'}},
            "function_call",
        )
    )
    assert message["content"][0]["name"] == "Read"
    assert message["content"][0]["input"] == {"p": 1}
    assert message["stop_reason"] == "tool_use"


def test_it_repairs_trivially_broken_arguments():
    calls = [
        {"id": "c", "type": "function", "function": {"name": "Read", "arguments": '{"path": "a"'}}
    ]
    assert translate(completion({"tool_calls": calls}, "tool_calls"))["content"][0]["input"] == {
        "path": "a"
    }


def test_it_rejects_arguments_it_cannot_repair():
    calls = [{"id": "c", "type": "function", "function": {"name": "Read", "arguments": "path=a"}}]
    with pytest.raises(UpstreamProtocolError, match="tool call 'Read'"):
        translate(completion({"tool_calls": calls}, "tool_calls"))


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
        ("something_new", "end_turn"),
        ("tool_calls", "end_turn"),  # claims tools but sent none
    ],
)
def test_it_maps_finish_reasons(finish_reason, stop_reason):
    assert translate(completion({"content": "x"}, finish_reason))["stop_reason"] == stop_reason


@pytest.mark.parametrize("field", ["stop_reason", "matched_stop"])
def test_it_reports_the_stop_sequence_a_server_says_it_matched(field):
    body = completion({"content": "x"})
    body["choices"][0][field] = "\n\nHuman:"
    message = translate(body)
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "\n\nHuman:")


def test_it_ignores_a_token_id_stop_reason():
    body = completion({"content": "x"})
    body["choices"][0]["stop_reason"] = 151643  # vLLM reports an EOS token id this way
    assert translate(body)["stop_sequence"] is None


def test_it_turns_a_refusal_into_text_with_stop_reason_refusal():
    message = translate(completion({"content": None, "refusal": "I can't help with that."}))
    assert message["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert message["stop_reason"] == "refusal"


def test_it_returns_empty_content_for_an_empty_answer():
    message = translate(completion({"content": ""}, "length"))
    assert message["content"] == []
    assert message["stop_reason"] == "max_tokens"


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            {
                "prompt_tokens": 1200,
                "completion_tokens": 30,
                "prompt_tokens_details": {"cached_tokens": 1024},
            },
            (176, 1024, 0, 30),
        ),
        (
            {
                "prompt_tokens": 50,
                "completion_tokens": 5,
                "prompt_cache_hit_tokens": 40,
                "prompt_cache_miss_tokens": 10,
            },
            (10, 40, 0, 5),
        ),
        (
            {
                "prompt_tokens": 100,
                "completion_tokens": 1,
                "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 60},
            },
            (40, 0, 60, 1),
        ),
        ({"prompt_tokens": None, "completion_tokens": None}, (0, 0, 0, 0)),
        (None, (0, 0, 0, 0)),
    ],
)
def test_it_maps_usage_with_cached_tokens_never_null(usage, expected):
    body = completion({"content": "x"})
    body["usage"] = usage
    got = translate(body)["usage"]
    assert (
        got["input_tokens"],
        got["cache_read_input_tokens"],
        got["cache_creation_input_tokens"],
        got["output_tokens"],
    ) == expected


@pytest.mark.parametrize(
    "body",
    [
        {"id": "x", "choices": []},
        {"id": "x"},
        {"error": {"message": "boom"}},
        {"choices": [{"index": 0, "finish_reason": "stop"}]},
    ],
)
def test_it_rejects_responses_without_a_usable_choice(body):
    with pytest.raises(UpstreamProtocolError):
        translate_response(body, requested_model="m", preset=PRESETS["openai"])


# -- errors --------------------------------------------------------------------------


def error(
    status: int, body: bytes | str, content_type: str = "application/json"
) -> tuple[int, dict]:
    raw = body.encode() if isinstance(body, str) else body
    return translate_error(status, raw, content_type)


OPENAI_429 = (
    '{"error": {"message": "Rate limit reached for gpt-4.1", "type": "requests", '
    '"param": null, "code": "rate_limit_exceeded"}}'
)


@pytest.mark.parametrize(
    ("status", "body", "answer", "error_type", "message"),
    [
        (429, OPENAI_429, 429, "rate_limit_error", "Rate limit reached for gpt-4.1"),
        (
            401,
            dumps(
                {
                    "error": {
                        "message": "Incorrect API key provided",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                }
            ),
            401,
            "authentication_error",
            "Incorrect API key provided",
        ),
        (403, '{"error": "forbidden"}', 403, "permission_error", "forbidden"),
        (404, '{"detail": "Not Found"}', 404, "not_found_error", "Not Found"),
        (
            400,
            '{"object": "error", "message": "bad field", "type": "invalid_request_error"}',
            400,
            "invalid_request_error",
            "bad field",
        ),
        (
            422,
            '{"detail": [{"loc": ["body", "x"], "msg": "field required", "type": "missing"}]}',
            400,
            "invalid_request_error",
            "field required",
        ),
        (
            400,
            dumps([{"error": {"code": 400, "message": "Invalid JSON payload", "status": "BAD"}}]),
            400,
            "invalid_request_error",
            "Invalid JSON payload",
        ),
        (
            500,
            '{"error": {"message": "The server had an error"}}',
            500,
            "api_error",
            "The server had an error",
        ),
        (502, "Bad Gateway", 502, "api_error", "Bad Gateway"),
        (
            503,
            '{"error": {"message": "Service overloaded"}}',
            529,
            "overloaded_error",
            "Service overloaded",
        ),
        (504, "upstream timed out", 504, "timeout", "upstream timed out"),
        (408, "", 504, "timeout", "upstream returned HTTP 408 with an empty body"),
        (418, "I'm a teapot", 400, "invalid_request_error", "I'm a teapot"),
        (520, "", 502, "api_error", "upstream returned HTTP 520 with an empty body"),
    ],
)
def test_it_maps_upstream_errors_to_anthropic_errors(status, body, answer, error_type, message):
    got_status, envelope = error(status, body)
    assert got_status == answer
    assert envelope == {"type": "error", "error": {"type": error_type, "message": message}}


@pytest.mark.parametrize(
    "body",
    [
        dumps(
            {
                "error": {
                    "message": "This model's maximum context length is 128000 tokens. "
                    "However, your messages resulted in 130000 tokens.",
                    "type": "invalid_request_error",
                    "code": "context_length_exceeded",
                }
            }
        ),
        dumps(
            {
                "object": "error",
                "message": "This model's maximum context length is 32768 tokens.",
                "type": "BadRequestError",
                "code": 400,
            }
        ),
        dumps({"error": {"message": "Please reduce the length of the messages.", "code": None}}),
    ],
)
def test_it_reports_context_overflow_as_prompt_too_long_keeping_the_message(body):
    status, envelope = error(400, body)
    assert status == 400
    assert envelope["error"]["type"] == "invalid_request_error"
    assert envelope["error"]["message"].startswith("prompt is too long: ")
    assert len(envelope["error"]["message"]) > len("prompt is too long: ") + 10


def test_it_reduces_an_html_error_page_to_its_title():
    page = (
        "<html><head><title>502 Bad Gateway</title><style>body{}</style></head>"
        "<body><h1>502</h1></body></html>"
    )
    status, envelope = error(502, page, "text/html")
    assert (status, envelope["error"]["message"]) == (502, "502 Bad Gateway")


def test_it_reduces_an_untitled_html_page_to_short_text():
    page = (
        "<html><body><script>var x=1;</script><p>Service &amp; stuff\n\n unavailable</p>"
        + "x" * 2000
    )
    status, envelope = error(503, page, "text/html; charset=utf-8")
    message = envelope["error"]["message"]
    assert status == 529
    assert message.startswith("Service & stuff unavailable")
    assert "<" not in message and "var x" not in message
    assert len(message) <= 500


def test_it_keeps_plain_text_errors_and_tolerates_bad_bytes():
    status, envelope = error(500, b"internal \xff error\n", "text/plain")
    assert status == 500
    assert envelope["error"]["message"] == "internal \ufffd error"
