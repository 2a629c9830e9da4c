"""POST /v1/messages end to end: the official SDK -> Daphne -> gateway -> fake upstream."""

from __future__ import annotations

import itertools
import threading

import anthropic
import httpx
import orjson
import pytest

from requestlog.models import RequestLog
from routing.models import Credential, ModelAlias
from tests.clients import KEY_HEADER, KEYED_GATEWAY, anthropic_client
from tests.fakes.upstream import (
    anthropic_error,
    anthropic_message,
    anthropic_stream,
    hang,
    raw,
    reset_after,
    slow_stream,
    sse_raw,
)

CLIENT_KEY = "sk-ant-client-key-0123456789"
STORED_KEY = "sk-ant-stored-key-9876543210"
HELLO = [{"role": "user", "content": "Hello"}]


def sdk(gateway, **kwargs) -> anthropic.Anthropic:
    return anthropic_client(gateway.url, api_key=CLIENT_KEY, max_retries=0, timeout=20, **kwargs)


def post(gateway, body: bytes | dict, *, path="/v1/messages", headers=None, timeout=20):
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(
        gateway.url + path,
        content=content,
        headers={"content-type": "application/json", "x-api-key": CLIENT_KEY, **(headers or {})},
        timeout=timeout,
    )


# --- passthrough fidelity -------------------------------------------------------------
def test_it_forwards_the_raw_body_and_query_string_unchanged(gateway, fake_upstream, log_rows):
    body = (
        b'{"model": "claude-sonnet-4-5",  "max_tokens": 64,\n"messages": [{"role": "user", '
        b'"content": "caf\\u00e9"}], "future_field": {"x": [1.0, 2.50]}, "top_k": 3}'
    )
    response = post(
        gateway,
        body,
        path="/v1/messages?beta=true",
        headers={"anthropic-version": "2023-06-01", "anthropic-beta": "tools-2024-04-04"},
    )

    assert response.status_code == 200
    received = fake_upstream.requests[0]
    assert received.body == body
    assert received.path == "/v1/messages"
    assert received.query_string == "beta=true"
    assert received.headers["x-api-key"] == CLIENT_KEY
    assert received.headers["anthropic-version"] == "2023-06-01"
    assert received.headers["anthropic-beta"] == "tools-2024-04-04"
    [row] = log_rows()
    assert row.path == "/v1/messages?beta=true"
    assert row.status == 200 and row.outcome == "completed"


def test_it_answers_the_sdk_with_the_upstream_message_and_logs_usage(
    gateway, fake_upstream, log_rows
):
    fake_upstream.queue(
        anthropic_message(
            "Bonjour", usage={"input_tokens": 31, "output_tokens": 9, "cache_read_input_tokens": 4}
        )
    )
    message = sdk(gateway).messages.create(model="claude-haiku-4-5", max_tokens=32, messages=HELLO)

    assert message.content[0].text == "Bonjour"
    assert message.usage.input_tokens == 31
    [row] = log_rows()
    assert (row.input_tokens, row.output_tokens, row.cache_read_input_tokens) == (31, 9, 4)
    assert row.requested_model == "claude-haiku-4-5" and row.target_model == "claude-haiku-4-5"
    assert row.provider == "anthropic" and row.route == "default"
    assert row.stream is False
    assert orjson.loads(row.response_body)["content"][0]["text"] == "Bonjour"
    assert row.ttfb_ms is not None and row.latency_ms >= row.ttfb_ms


def test_it_tells_the_client_what_happened_in_response_headers(gateway):
    response = post(gateway, {"model": "claude-x", "max_tokens": 5, "messages": HELLO})

    assert response.headers["x-switchboard-provider"] == "anthropic"
    assert response.headers["x-switchboard-model"] == "claude-x"
    assert response.headers["x-switchboard-route"] == "default"
    assert response.headers["x-switchboard-request-id"].startswith("sbreq_")


def test_it_forwards_an_oauth_bearer_token_when_the_provider_has_no_credential(
    gateway, fake_upstream
):
    client = anthropic_client(gateway.url, auth_token="sk-ant-oat01-subscription", max_retries=0)
    client.messages.create(model="claude-x", max_tokens=5, messages=HELLO)

    received = fake_upstream.requests[0]
    assert received.headers["authorization"] == "Bearer sk-ant-oat01-subscription"
    assert "x-api-key" not in received.headers


def test_a_stored_credential_replaces_the_client_key_and_is_never_logged(
    anthropic_provider, start_gateway, fake_upstream
):
    credential = Credential(provider=anthropic_provider, label="team-a")
    credential.set_secret(STORED_KEY)
    credential.save()
    gateway = start_gateway(**KEYED_GATEWAY)

    sdk(gateway, default_headers=KEY_HEADER).messages.create(
        model="claude-x", max_tokens=5, messages=HELLO
    )
    gateway.stop()

    received = fake_upstream.requests[0]
    assert received.headers["x-api-key"] == STORED_KEY
    [row] = RequestLog.objects.all()
    assert row.account == "team-a"
    stored = orjson.dumps(
        {f.name: getattr(row, f.name) for f in RequestLog._meta.fields}, default=str
    ).decode()
    assert STORED_KEY not in stored and CLIENT_KEY not in stored
    # The SDK sends its key as a bearer token; whichever header carried it is redacted.
    assert row.request_headers["authorization"] == "[redacted]"


def test_an_alias_changes_only_the_model_field(anthropic_provider, start_gateway, fake_upstream):
    ModelAlias.objects.create(alias="fast", provider=anthropic_provider, target_model="claude-real")
    gateway = start_gateway()
    body = {
        "model": "fast",
        "max_tokens": 7,
        "messages": HELLO,
        "temperature": 0.25,
        "metadata": {"user_id": "u1"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
        "unknown_future_field": [1, {"a": None}],
    }

    response = post(gateway, body)

    assert response.status_code == 200
    assert response.headers["x-switchboard-route"] == "alias"
    forwarded = fake_upstream.requests[0].json()
    assert forwarded == {**body, "model": "claude-real"}


# --- streaming -------------------------------------------------------------------------------
def test_it_streams_to_the_sdk_and_logs_the_assembled_message(gateway, fake_upstream, log_rows):
    fake_upstream.queue(
        anthropic_stream(
            ("Hel", "lo ", "wörld"),
            thinking=("let me ", "think"),
            tool_use=("toolu_1", "get_weather", {"city": "Paris"}),
            usage={"input_tokens": 50, "output_tokens": 21, "cache_creation_input_tokens": 8},
            ping_every=2,
        )
    )
    with sdk(gateway).messages.stream(
        model="claude-x",
        max_tokens=64,
        messages=HELLO,
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
    ) as stream:
        final = stream.get_final_message()

    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[1].text == "Hello wörld"
    assert final.content[2].input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"
    [row] = log_rows()
    assert row.stream is True and row.status == 200 and row.outcome == "completed"
    assert row.input_tokens == 50 and row.output_tokens == 21
    assert row.cache_creation_input_tokens == 8
    assert row.tools_offered == ["get_weather"] and row.tool_calls == ["get_weather"]
    logged = orjson.loads(row.response_body)
    assert logged["content"][2]["input"] == {"city": "Paris"}
    assert logged["content"][0]["thinking"] == "let me think"


def test_the_client_gets_events_before_the_upstream_has_finished(gateway, fake_upstream):
    release = threading.Event()
    fake_upstream.queue(anthropic_stream(("first", "second"), pause_after=3, release=release))
    seen = b""
    try:
        with httpx.stream(
            "POST",
            gateway.url + "/v1/messages",
            timeout=20,
            json={"model": "m", "max_tokens": 5, "stream": True, "messages": HELLO},
        ) as response:
            chunks = response.iter_raw()
            while b"content_block_delta" not in seen:
                seen += next(chunks)
            # The upstream is still holding back the rest of its stream.
            assert not fake_upstream.requests[0].finished.is_set()
            assert b"message_stop" not in seen
            release.set()
            for chunk in chunks:
                seen += chunk
    finally:
        release.set()
    assert seen.rstrip().endswith(b'data: {"type": "message_stop"}')


def test_it_relays_the_upstream_bytes_exactly_including_pings_and_long_lines(
    gateway, fake_upstream
):
    long_text = "x" * 150_000
    events = [
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":'
        b'"message","role":"assistant","model":"m","content":[],"stop_reason":null,'
        b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
        b'event: ping\ndata: {"type": "ping"}\n\n',
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n',
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"' + long_text.encode() + b'"}}\n\n',
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":'
        b'"end_turn"},"usage":{"output_tokens":9}}\n\n',
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ]
    wire = b"".join(events)
    # Cut the stream in awkward places: mid-line, mid-"event:", mid-JSON.
    cuts = [0, 17, 180, 190, 5000, 100_003, len(wire) - 3, len(wire)]
    fake_upstream.queue(sse_raw([wire[a:b] for a, b in itertools.pairwise(cuts)]))

    response = post(gateway, {"model": "m", "max_tokens": 5, "stream": True, "messages": HELLO})

    assert response.content == wire
    assert response.headers["content-type"].startswith("text/event-stream")


# --- upstream errors -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "error_type", "exception"),
    [
        (400, "invalid_request_error", anthropic.BadRequestError),
        (401, "authentication_error", anthropic.AuthenticationError),
        (429, "rate_limit_error", anthropic.RateLimitError),
        (500, "api_error", anthropic.InternalServerError),
        (529, "overloaded_error", anthropic.InternalServerError),
    ],
)
def test_it_passes_upstream_errors_through_in_anthropic_shape(
    gateway, fake_upstream, log_rows, status, error_type, exception
):
    fake_upstream.queue(
        anthropic_error(status, error_type, f"upstream says {status}", headers={"retry-after": "7"})
    )
    with pytest.raises(exception) as caught:
        sdk(gateway).messages.create(model="m", max_tokens=5, messages=HELLO)

    assert caught.value.status_code == status
    assert caught.value.body["error"] == {"type": error_type, "message": f"upstream says {status}"}
    assert caught.value.response.headers["retry-after"] == "7"
    [row] = log_rows()
    assert (row.status, row.outcome, row.error_type) == (status, "upstream_error", error_type)
    assert row.attempts[0]["status"] == status


def test_a_non_anthropic_error_body_becomes_an_anthropic_error(gateway, fake_upstream):
    fake_upstream.queue(
        raw(b"<html><body>Bad Gateway</body></html>", status=502, content_type="text/html")
    )
    response = post(gateway, {"model": "m", "max_tokens": 5, "messages": HELLO})

    assert response.status_code == 502
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "api_error"
    assert "Bad Gateway" in error["error"]["message"]


def test_a_refused_connection_becomes_a_502_api_error(
    anthropic_provider, start_gateway, log_rows_for_stopped
):
    anthropic_provider.base_url = "http://127.0.0.1:9"  # discard port: nothing listens
    anthropic_provider.save()
    gateway = start_gateway()

    response = post(gateway, {"model": "m", "max_tokens": 5, "messages": HELLO})

    assert response.status_code == 502
    assert response.json()["error"]["type"] == "api_error"
    assert "could not connect to provider 'anthropic'" in response.json()["error"]["message"]
    [row] = log_rows_for_stopped(gateway)
    assert (row.status, row.outcome) == (502, "upstream_error")
    assert row.attempts[0]["status"] is None and row.attempts[0]["error"]


def test_a_silent_upstream_becomes_a_504_timeout(
    anthropic_provider, start_gateway, fake_upstream, log_rows_for_stopped
):
    anthropic_provider.read_timeout = 0.5
    anthropic_provider.save()
    gateway = start_gateway()
    fake_upstream.queue(hang(5))

    response = post(gateway, {"model": "m", "max_tokens": 5, "messages": HELLO})

    assert response.status_code == 504
    assert response.json()["error"]["type"] == "timeout"
    [row] = log_rows_for_stopped(gateway)
    assert (row.status, row.error_type) == (504, "timeout")


def test_a_stream_cut_by_the_upstream_ends_with_an_error_event(gateway, fake_upstream, log_rows):
    fake_upstream.queue(reset_after(4))
    response = post(gateway, {"model": "m", "max_tokens": 5, "stream": True, "messages": HELLO})

    assert response.status_code == 200
    events = response.text.strip().split("\n\n")
    assert events[0].startswith("event: message_start")
    assert events[-1].startswith("event: error")
    error = orjson.loads(events[-1].split("data: ", 1)[1])
    assert error["type"] == "error" and error["error"]["type"] == "api_error"
    [row] = log_rows()
    assert row.outcome == "upstream_error" and row.error_type == "api_error"


def test_the_sdk_raises_when_the_stream_is_cut(gateway, fake_upstream):
    fake_upstream.queue(reset_after(4))
    with (
        pytest.raises(anthropic.APIStatusError),
        sdk(gateway).messages.stream(model="m", max_tokens=5, messages=HELLO) as stream,
    ):
        stream.get_final_message()


# --- client disconnects ----------------------------------------------------------------------
def test_a_client_that_leaves_mid_stream_cancels_the_upstream_request(
    gateway, fake_upstream, log_rows
):
    fake_upstream.queue(slow_stream(interval=0.1))
    with httpx.stream(
        "POST",
        gateway.url + "/v1/messages",
        timeout=20,
        json={"model": "m", "max_tokens": 5, "stream": True, "messages": HELLO},
    ) as response:
        seen = b""
        for chunk in response.iter_raw():
            seen += chunk
            if seen.count(b"content_block_delta") >= 2:
                break

    assert fake_upstream.requests[0].disconnected.wait(10)
    [row] = log_rows()
    assert (row.status, row.outcome) == (499, "cancelled")
    assert row.stream is True
