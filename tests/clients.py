"""SDK clients for tests, closed after each test (an unclosed pool warns, and warnings fail)."""

from __future__ import annotations

from typing import Any

import anthropic
import openai

_open: list[Any] = []

#: A gateway key for tests that use stored provider credentials: those are only
#: attached to requests that carry a valid key (closed by default).
GATEWAY_KEY = "sb-test-gateway-key"
#: The environment that makes a test gateway require (and accept) GATEWAY_KEY.
KEYED_GATEWAY = {"SWITCHBOARD_API_KEYS": GATEWAY_KEY}
#: The header a client sends it in.
KEY_HEADER = {"x-switchboard-key": GATEWAY_KEY}


def anthropic_client(base_url: str, **kwargs: Any) -> anthropic.Anthropic:
    if "auth_token" not in kwargs:
        kwargs.setdefault("api_key", "sk-ant-test")
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 20)
    client = anthropic.Anthropic(base_url=base_url, **kwargs)
    _open.append(client)
    return client


def openai_client(base_url: str, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("api_key", "sk-test")
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 20)
    client = openai.OpenAI(base_url=base_url, **kwargs)
    _open.append(client)
    return client


def close_all() -> None:
    while _open:
        _open.pop().close()
