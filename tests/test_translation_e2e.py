"""Anthropic clients served by an OpenAI-format provider, end to end through Daphne."""

from __future__ import annotations

import anthropic
import httpx
import orjson
import pytest

from routing.models import Credential, ModelAlias, Provider
from tests.clients import KEY_HEADER, KEYED_GATEWAY, anthropic_client
from tests.fakes.upstream import (
    openai_chunks,
    openai_completion,
    openai_error,
    openai_stream,
    raw,
)

OPENAI_KEY = "sk-openai-stored-0123456789"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def openai_provider(transactional_db, second_upstream) -> Provider:
    provider = Provider.objects.create(
        name="oai", wire_format="openai", preset="openai", base_url=second_upstream.url + "/v1"
    )
    credential = Credential(provider=provider, label="main")
    credential.set_secret(OPENAI_KEY)
    credential.save()
    ModelAlias.objects.create(alias="gpt", provider=provider, target_model="gpt-4.1")
    return provider


@pytest.fixture
def translating_gateway(anthropic_provider, openai_provider, start_gateway):
    """The OpenAI provider's stored key is only used with a gateway key: clients send it."""
    return start_gateway(**KEYED_GATEWAY)


def client(gateway) -> anthropic.Anthropic:
    return anthropic_client(
        gateway.url,
        api_key="sk-ant-client",
        max_retries=0,
        timeout=20,
        default_headers=KEY_HEADER,
    )


def test_a_message_is_translated_both_ways(translating_gateway, second_upstream, fake_upstream):
    second_upstream.queue(
        openai_completion(
            "Bonjour",
            usage={
                "prompt_tokens": 40,
                "completion_tokens": 6,
                "prompt_tokens_details": {"cached_tokens": 10},
            },
        )
    )

    message = client(translating_gateway).messages.create(
        model="gpt",
        max_tokens=100,
        extra_body={"temperature": 0.5},
        system=[
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.1;"},
            {"type": "text", "text": "Be brief."},
        ],
        messages=[{"role": "user", "content": "Hello"}],
    )

    assert message.content[0].text == "Bonjour"
    assert message.model == "gpt"
    assert message.stop_reason == "end_turn"
    assert (
        message.usage.input_tokens,
        message.usage.cache_read_input_tokens,
        message.usage.output_tokens,
    ) == (30, 10, 6)
    received = second_upstream.requests[0]
    assert received.path == "/v1/chat/completions"
    assert received.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    sent = received.json()
    assert sent["model"] == "gpt-4.1"
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
    ]
    assert sent["temperature"] == 0.5
    assert fake_upstream.requests == []  # the Anthropic provider was not involved


def test_the_clients_anthropic_key_never_reaches_an_openai_provider(
    anthropic_provider, transactional_db, second_upstream, start_gateway
):
    Provider.objects.create(
        name="local", wire_format="openai", preset="ollama", base_url=second_upstream.url + "/v1"
    )
    gateway = start_gateway()
    second_upstream.queue(openai_completion("hi"))

    client(gateway).messages.create(
        model="local,llama3", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )

    headers = second_upstream.requests[0].headers
    assert "authorization" not in headers and "x-api-key" not in headers
    assert "sk-ant-client" not in str(headers)


def test_a_streamed_tool_loop_runs_through_translation(translating_gateway, second_upstream):
    second_upstream.queue(
        openai_stream(
            ("Let me check. ",),
            reasoning_chunks=("The user wants ", "weather."),
            tool_calls=[
                ("call_1", "get_weather", {"city": "Paris"}),
                ("call_2", "get_weather", {"city": "Oslo"}),
            ],
            usage={"prompt_tokens": 80, "completion_tokens": 20},
        ),
        openai_stream(("Paris is sunny, Oslo is cold.",)),
    )
    sdk = client(translating_gateway)
    history = [{"role": "user", "content": "Weather in Paris and Oslo?"}]

    with sdk.messages.stream(
        model="gpt", max_tokens=200, tools=[WEATHER_TOOL], messages=history
    ) as stream:
        first = stream.get_final_message()

    assert [b.type for b in first.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert first.content[0].thinking == "The user wants weather."
    assert [(b.id, b.input) for b in first.content[2:]] == [
        ("call_1", {"city": "Paris"}),
        ("call_2", {"city": "Oslo"}),
    ]
    assert first.stop_reason == "tool_use"
    assert first.usage.input_tokens == 80 and first.usage.output_tokens == 20

    history += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": "cold",
                    "is_error": False,
                },
            ],
        },
    ]
    with sdk.messages.stream(
        model="gpt", max_tokens=200, tools=[WEATHER_TOOL], messages=history
    ) as stream:
        second = stream.get_final_message()

    assert second.content[0].text == "Paris is sunny, Oslo is cold."
    assert second.stop_reason == "end_turn"
    sent = second_upstream.requests[1].json()
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert "$schema" not in sent["tools"][0]["function"]["parameters"]
    assistant = sent["messages"][1]
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_1", "call_2"]
    assert sent["messages"][2:] == [
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "cold"},
    ]


def test_the_log_keeps_what_went_upstream_and_what_came_back(translating_gateway, second_upstream):
    second_upstream.queue(openai_stream(("Hi",)))
    with client(translating_gateway).messages.stream(
        model="gpt",
        max_tokens=10,
        messages=[{"role": "user", "content": "hello"}],
        extra_body={"top_k": 5},
    ) as stream:
        stream.get_final_message()
    translating_gateway.stop()

    from requestlog.models import RequestLog

    [row] = RequestLog.objects.all()
    assert row.provider == "oai" and row.target_model == "gpt-4.1" and row.route == "alias"
    assert orjson.loads(row.upstream_request_body)["model"] == "gpt-4.1"
    assert b"chat.completion.chunk" in row.upstream_response_body.encode()
    assert orjson.loads(row.response_body)["content"][0]["text"] == "Hi"
    assert any("top_k" in note for note in row.notes)
    assert row.input_tokens == 12 and row.output_tokens == 7


def test_a_stream_that_ends_without_done_still_finishes(translating_gateway, second_upstream):
    second_upstream.queue(openai_stream(("complete",), done=False))
    with client(translating_gateway).messages.stream(
        model="gpt", max_tokens=10, messages=[{"role": "user", "content": "x"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == "complete" and final.stop_reason == "end_turn"


def test_a_stream_cut_before_its_finish_ends_with_an_error_event(
    translating_gateway, second_upstream
):
    head = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    second_upstream.queue(
        openai_chunks(
            [
                {
                    **head,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": "par"},
                            "finish_reason": None,
                        }
                    ],
                },
            ],
            done=False,
        )
    )
    response = httpx.post(
        translating_gateway.url + "/v1/messages",
        timeout=20,
        headers=KEY_HEADER,
        json={
            "model": "gpt",
            "max_tokens": 5,
            "stream": True,
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    events = response.text.strip().split("\n\n")
    assert events[0].startswith("event: message_start")
    assert events[-1].startswith("event: error")
    assert "ended the stream" in events[-1]


@pytest.mark.parametrize(
    ("upstream", "status", "error_type"),
    [
        (
            openai_error(429, "Rate limit reached", "requests", "rate_limit_exceeded"),
            429,
            "rate_limit_error",
        ),
        (
            openai_error(
                401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key"
            ),
            401,
            "authentication_error",
        ),
        (
            openai_error(
                400,
                "This model's maximum context length is 128000 tokens",
                "invalid_request_error",
                "context_length_exceeded",
            ),
            400,
            "invalid_request_error",
        ),
        (
            raw(
                b"<html><title>502 Bad Gateway</title></html>", status=502, content_type="text/html"
            ),
            502,
            "api_error",
        ),
    ],
)
def test_openai_errors_become_anthropic_errors(
    translating_gateway, second_upstream, upstream, status, error_type
):
    second_upstream.set_default(upstream)
    response = httpx.post(
        translating_gateway.url + "/v1/messages",
        timeout=20,
        headers=KEY_HEADER,
        json={
            "model": "gpt",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert response.status_code == status
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == error_type
    assert body["error"]["message"]


def test_content_that_cannot_be_translated_is_refused_with_its_place(
    translating_gateway, second_upstream
):
    response = httpx.post(
        translating_gateway.url + "/v1/messages",
        timeout=20,
        headers=KEY_HEADER,
        json={
            "model": "gpt",
            "max_tokens": 5,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "read this"},
                        {
                            "type": "document",
                            "source": {
                                "type": "base64",
                                "media_type": "application/pdf",
                                "data": "JVBERi0=",
                            },
                        },
                    ],
                }
            ],
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("messages.0.content.1")
    assert second_upstream.requests == []


def test_count_tokens_is_estimated_for_an_openai_target(translating_gateway, second_upstream):
    response = httpx.post(
        translating_gateway.url + "/v1/messages/count_tokens",
        timeout=20,
        headers=KEY_HEADER,
        json={"model": "gpt", "messages": [{"role": "user", "content": "word " * 400}]},
    )
    assert response.status_code == 200
    assert response.headers["x-switchboard-token-count"] == "estimated"
    assert 400 <= response.json()["input_tokens"] <= 700
    assert second_upstream.requests == []


def test_models_lists_translated_targets(translating_gateway, fake_upstream):
    fake_upstream.set_default(raw(b"{}", status=404, content_type="application/json"))
    ids = [m.id for m in client(translating_gateway).models.list()]
    assert "gpt" in ids and "oai,gpt-4.1" in ids
