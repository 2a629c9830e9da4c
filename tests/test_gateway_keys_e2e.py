"""Gateway keys (SWITCHBOARD_API_KEYS) and the Prometheus endpoint."""

from __future__ import annotations

import time

import httpx

from routing.models import Credential

BODY = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}


def test_without_a_gateway_key_the_request_is_refused_and_logged(
    anthropic_provider, start_gateway, fake_upstream, log_rows_for_stopped
):
    gateway = start_gateway(SWITCHBOARD_API_KEYS="gw-key-1,gw-key-2")

    response = httpx.post(
        gateway.url + "/v1/messages", json=BODY, timeout=10, headers={"x-api-key": "sk-ant-someone"}
    )

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert fake_upstream.requests == []
    [row] = log_rows_for_stopped(gateway)
    assert (row.status, row.outcome) == (401, "client_error")
    assert row.request_headers["x-api-key"] == "[redacted]"


def test_the_key_in_its_own_header_lets_the_clients_anthropic_key_through(
    anthropic_provider, start_gateway, fake_upstream
):
    gateway = start_gateway(SWITCHBOARD_API_KEYS="gw-key-1,gw-key-2")

    response = httpx.post(
        gateway.url + "/v1/messages",
        json=BODY,
        timeout=10,
        headers={
            "x-switchboard-key": "gw-key-2",
            "x-api-key": "sk-ant-someone",
        },
    )

    assert response.status_code == 200
    received = fake_upstream.requests[0].headers
    assert received["x-api-key"] == "sk-ant-someone"
    assert "x-switchboard-key" not in received


def test_a_gateway_key_sent_as_the_api_key_is_not_forwarded(
    anthropic_provider, start_gateway, fake_upstream
):
    credential = Credential(provider=anthropic_provider, label="house")
    credential.set_secret("sk-ant-house-key")
    credential.save()
    gateway = start_gateway(SWITCHBOARD_API_KEYS="gw-key-1")

    response = httpx.post(
        gateway.url + "/v1/messages",
        json=BODY,
        timeout=10,
        headers={"authorization": "Bearer gw-key-1"},
    )

    assert response.status_code == 200
    received = fake_upstream.requests[0].headers
    assert received["x-api-key"] == "sk-ant-house-key"
    assert "authorization" not in received


def test_metrics_count_requests_tokens_and_attempts(gateway):
    httpx.post(gateway.url + "/v1/messages", json=BODY, timeout=10)

    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline:
        text = httpx.get(gateway.url + "/metrics", timeout=5).text
        if "switchboard_requests_total{" in text:
            break
        time.sleep(0.1)

    assert (
        'switchboard_requests_total{endpoint="messages",outcome="completed",'
        'provider="anthropic",route="default",status="200"} 1.0'
    ) in text
    assert 'switchboard_tokens_total{kind="input",model="m",provider="anthropic"} 12.0' in text
    assert (
        'switchboard_upstream_attempts_total{account="client",provider="anthropic",'
        'status="200"} 1.0' in text
    )
    assert "switchboard_request_duration_seconds_bucket" in text


def test_metrics_from_a_proxied_client_needs_the_metrics_token(anthropic_provider, start_gateway):
    gateway = start_gateway(SWITCHBOARD_METRICS_TOKEN="scrape-me")
    relayed = {"x-forwarded-for": "203.0.113.7"}

    without = httpx.get(gateway.url + "/metrics", headers=relayed, timeout=5)
    with_token = httpx.get(
        gateway.url + "/metrics",
        headers={**relayed, "authorization": "Bearer scrape-me"},
        timeout=5,
    )
    ready = httpx.get(gateway.url + "/readyz", headers=relayed, timeout=5)

    assert without.status_code == 401
    assert without.json()["error"]["type"] == "authentication_error"
    assert with_token.status_code == 200
    assert "switchboard_" in with_token.text
    assert ready.json() == {"status": "ok"}


def test_metrics_without_a_token_setting_is_refused_to_a_proxied_client(gateway):
    relayed = httpx.get(gateway.url + "/metrics", headers={"forwarded": "for=1.2.3.4"}, timeout=5)
    assert relayed.status_code == 403
    assert relayed.json()["error"]["type"] == "permission_error"


def test_the_probes_refuse_a_host_that_is_not_allowed(gateway):
    for path in ("/healthz", "/readyz", "/metrics"):
        answer = httpx.get(gateway.url + path, headers={"host": "attacker.example"}, timeout=5)
        assert answer.status_code == 400, path
        assert answer.json()["error"]["type"] == "invalid_request_error"
        assert "attacker.example" in answer.json()["error"]["message"]
