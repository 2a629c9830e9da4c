"""`manage.py serve --access-log`: one line per request, credential-like query values redacted."""

from __future__ import annotations

import httpx

from tests.live_gateway import LiveGateway

HELLO = {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}


def test_the_access_log_redacts_a_key_in_the_query_string(anthropic_provider, tmp_path):
    access_log = tmp_path / "access.log"
    gateway = LiveGateway(
        log_dir=tmp_path, server="serve", args=["--access-log", str(access_log)]
    ).start()
    try:
        response = httpx.post(
            gateway.url + "/v1/messages?beta=true&api_key=sk-in-the-url", json=HELLO, timeout=20
        )
    finally:
        gateway.stop()

    assert response.status_code == 200
    text = access_log.read_text()
    assert "POST /v1/messages?beta=true&api_key=%5Bredacted%5D" in text
    assert "sk-in-the-url" not in text
    assert "sk-in-the-url" not in gateway.output()
