"""Bad client input gets a clear Anthropic-shaped error, is never forwarded, and is logged."""

from __future__ import annotations

import httpx
import orjson
import pytest

HELLO = [{"role": "user", "content": "Hello"}]


def post(gateway, content: bytes, path="/v1/messages"):
    return httpx.post(
        gateway.url + path,
        content=content,
        timeout=20,
        headers={"content-type": "application/json"},
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "request body is not valid JSON"),
        (b"", "request body is empty; expected a JSON object"),
        (b"[1, 2]", "request body must be a JSON object, got a list"),
        (orjson.dumps({"max_tokens": 5, "messages": HELLO}), "model: field required"),
        (orjson.dumps({"model": "m", "messages": HELLO}), "max_tokens: field required"),
        (orjson.dumps({"model": "m", "max_tokens": 5}), "messages: field required"),
        (
            orjson.dumps({"model": "m", "max_tokens": "5", "messages": HELLO}),
            'max_tokens: must be an integer, got string "5"',
        ),
        (
            orjson.dumps(
                {"model": "m", "max_tokens": 5, "messages": [{"role": "bot", "content": "x"}]}
            ),
            "messages.0.role: must be one of user, assistant, system, got 'bot'",
        ),
        (
            orjson.dumps(
                {
                    "model": "m",
                    "max_tokens": 5,
                    "messages": [
                        {"role": "user", "content": "a"},
                        {"role": "assistant", "content": [{"text": "b"}]},
                    ],
                }
            ),
            "messages.1.content.0.type: field required",
        ),
        (
            orjson.dumps({"model": "m", "max_tokens": 5, "messages": HELLO, "stream": "yes"}),
            'stream: must be a boolean, got string "yes"',
        ),
    ],
)
def test_it_rejects_bad_input_without_forwarding_it(
    gateway, fake_upstream, log_rows, body, message
):
    response = post(gateway, body)

    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith(message)
    assert response.headers["x-switchboard-request-id"].startswith("sbreq_")
    assert fake_upstream.requests == []
    [row] = log_rows()
    assert (row.status, row.outcome, row.error_type) == (
        400,
        "client_error",
        "invalid_request_error",
    )
    assert row.error_message.startswith(message)
    assert row.provider == "" and row.attempts == []


def test_it_refuses_a_body_over_the_size_cap_with_413(
    anthropic_provider, start_gateway, fake_upstream, log_rows_for_stopped
):
    gateway = start_gateway(SWITCHBOARD_MAX_BODY_BYTES="4096")
    body = orjson.dumps(
        {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x" * 5000}]}
    )

    response = post(gateway, body)

    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert "at most 4096" in response.json()["error"]["message"]
    assert fake_upstream.requests == []
    [row] = log_rows_for_stopped(gateway)
    assert (row.status, row.outcome) == (413, "client_error")


def test_it_refuses_get_on_the_messages_endpoint(gateway, fake_upstream):
    response = httpx.get(gateway.url + "/v1/messages", timeout=10)

    assert response.status_code == 400
    assert "use POST" in response.json()["error"]["message"]
    assert fake_upstream.requests == []
