"""The other gateway endpoints: preflight, health, count_tokens, models, other /v1/* paths."""

from __future__ import annotations

import httpx

from routing.models import ModelAlias
from tests.clients import anthropic_client
from tests.fakes.upstream import json_response

HELLO = [{"role": "user", "content": "Hello"}]


def test_it_answers_claude_codes_preflight(gateway, fake_upstream):
    assert httpx.head(gateway.url + "/", timeout=5).status_code == 200
    assert httpx.head(gateway.url + "/api/hello", timeout=5).status_code == 200
    assert fake_upstream.requests == []


def test_healthz_and_readyz_report_ok(gateway):
    assert httpx.get(gateway.url + "/healthz", timeout=5).json() == {"status": "ok"}
    ready = httpx.get(gateway.url + "/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "routing_config": "ok", "credentials": "ok"}


def test_count_tokens_is_forwarded_to_an_anthropic_target(gateway, fake_upstream, log_rows):
    fake_upstream.queue(json_response({"input_tokens": 42}))
    client = anthropic_client(gateway.url, api_key="k", max_retries=0)

    count = client.messages.count_tokens(model="claude-x", messages=HELLO)

    assert count.input_tokens == 42
    received = fake_upstream.requests[0]
    assert received.path == "/v1/messages/count_tokens"
    assert received.json() == {"model": "claude-x", "messages": HELLO}
    [row] = log_rows()
    assert row.endpoint == "count_tokens" and row.status == 200


def test_models_lists_aliases_then_the_upstream_models(
    anthropic_provider, start_gateway, fake_upstream
):
    ModelAlias.objects.create(alias="fast", provider=anthropic_provider, target_model="claude-h")
    gateway = start_gateway()
    fake_upstream.queue(
        json_response(
            {
                "data": [
                    {
                        "type": "model",
                        "id": "claude-sonnet-x",
                        "display_name": "Sonnet X",
                        "created_at": "2026-01-01T00:00:00Z",
                    },
                ],
                "has_more": False,
            }
        )
    )
    client = anthropic_client(gateway.url, api_key="k", max_retries=0)

    ids = [m.id for m in client.models.list()]

    assert ids == ["fast", "claude-sonnet-x"]
    assert fake_upstream.requests[0].path == "/v1/models"


def test_other_v1_paths_pass_through_to_the_default_provider(gateway, fake_upstream, log_rows):
    fake_upstream.queue(json_response({"data": [], "has_more": False}, status=200))
    response = httpx.post(
        gateway.url + "/v1/messages/batches?limit=2",
        content=b'{"requests": []}',
        timeout=10,
        headers={"x-api-key": "k", "anthropic-beta": "message-batches-2024-09-24"},
    )

    assert response.status_code == 200
    assert response.json() == {"data": [], "has_more": False}
    received = fake_upstream.requests[0]
    assert (received.method, received.path, received.query_string) == (
        "POST",
        "/v1/messages/batches",
        "limit=2",
    )
    assert received.body == b'{"requests": []}'
    assert received.headers["anthropic-beta"] == "message-batches-2024-09-24"
    [row] = log_rows()
    assert row.endpoint == "passthrough" and row.status == 200
