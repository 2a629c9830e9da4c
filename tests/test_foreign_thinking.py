"""Thinking blocks from another provider are removed before a request goes to Anthropic."""

from __future__ import annotations

import httpx

from providers.anthropic.foreign_thinking import PLACEHOLDER, strip_foreign_thinking

SIGNED = {"type": "thinking", "thinking": "mine", "signature": "EqQBCkYIBRgCKkA..."}
UNSIGNED = {"type": "thinking", "thinking": "from deepseek", "signature": ""}
REDACTED = {"type": "redacted_thinking", "data": "abc"}


def conversation(*assistant_blocks) -> dict:
    return {
        "model": "claude-x",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": list(assistant_blocks)},
            {"role": "user", "content": "go on"},
        ],
    }


def test_it_removes_unsigned_thinking_and_keeps_the_rest():
    payload = conversation(UNSIGNED, {"type": "text", "text": "answer"})

    cleaned, removed = strip_foreign_thinking(payload)

    assert removed == 1
    assert cleaned["messages"][1]["content"] == [{"type": "text", "text": "answer"}]
    assert payload["messages"][1]["content"][0] is UNSIGNED  # the input is not changed


def test_it_keeps_anthropics_own_signed_and_redacted_blocks():
    payload = conversation(SIGNED, REDACTED, {"type": "text", "text": "answer"})

    cleaned, removed = strip_foreign_thinking(payload)

    assert removed == 0 and cleaned is payload


def test_a_turn_of_only_foreign_thinking_keeps_a_placeholder():
    cleaned, removed = strip_foreign_thinking(conversation(UNSIGNED))

    assert removed == 1
    assert cleaned["messages"][1]["content"] == [{"type": "text", "text": PLACEHOLDER}]


def test_the_gateway_strips_them_on_the_way_to_anthropic(gateway, fake_upstream, log_rows):
    body = conversation(UNSIGNED, SIGNED, {"type": "text", "text": "answer"})

    response = httpx.post(gateway.url + "/v1/messages", json=body, timeout=10)

    assert response.status_code == 200
    sent = fake_upstream.requests[0].json()
    assert sent["messages"][1]["content"] == [SIGNED, {"type": "text", "text": "answer"}]
    assert {k: v for k, v in sent.items() if k != "messages"} == {
        k: v for k, v in body.items() if k != "messages"
    }
    [row] = log_rows()
    assert any("thinking block" in note for note in row.notes)
