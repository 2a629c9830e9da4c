"""Routing end to end: subagents, rules, fallbacks, account rotation, stickiness, hot reload."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
from django.contrib.auth.models import User
from django.test import Client

from requestlog.models import RequestLog
from routing.agents import parse_agent_file
from routing.models import (
    AgentDefinition,
    ConfigVersion,
    Credential,
    ModelAlias,
    Provider,
    RoutingRule,
    SubagentMapping,
)
from tests.clients import KEY_HEADER, KEYED_GATEWAY
from tests.fakes.upstream import anthropic_error, anthropic_message, sse_raw

REVIEWER_FILE = """---
name: code-reviewer
description: Reviews code for bugs.
tools: Read, Grep
model: sonnet
---
You are a meticulous code reviewer. Point out bugs, risky patterns and missing tests.

Always answer with a numbered list.
"""
BILLING = "x-anthropic-billing-header: cc_version=2.1.197.d51; cc_entrypoint=cli;"
IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude."


def subagent_request(body: str, *, model="claude-sonnet-5") -> dict:
    """What Claude Code 2.1 sends for a subagent: three system blocks, the body first in [2]."""
    return {
        "model": model,
        "max_tokens": 64,
        "system": [
            {"type": "text", "text": BILLING + " cc_is_subagent=true;"},
            {"type": "text", "text": IDENTITY, "cache_control": {"type": "ephemeral"}},
            {
                "type": "text",
                "text": body + "\n\nNotes:\n- Agent threads always have their cwd "
                "reset between bash calls.\n\nHere is useful information about the environment",
            },
        ],
        "messages": [{"role": "user", "content": "Review hello.py"}],
    }


def post(gateway, body: dict, headers: dict | None = None) -> httpx.Response:
    """POST /v1/messages, with the test gateway key (ignored by a gateway without keys)."""
    headers = {**KEY_HEADER, **(headers or {})}
    return httpx.post(gateway.url + "/v1/messages", json=body, headers=headers, timeout=20)


def rows() -> list[RequestLog]:
    return list(RequestLog.objects.order_by("started_at", "id"))


@pytest.fixture
def backup(transactional_db, second_upstream) -> Provider:
    return Provider.objects.create(
        name="backup", wire_format="anthropic", base_url=second_upstream.url
    )


@pytest.fixture
def reviewer(transactional_db) -> AgentDefinition:
    agent = parse_agent_file(REVIEWER_FILE, source="code-reviewer.md")
    return AgentDefinition.objects.create(
        name=agent.name,
        description=agent.description,
        declared_model=agent.model or "",
        tools=list(agent.tools),
        body=agent.body,
        fingerprint=agent.fingerprint,
        source="uploaded",
    )


# --- subagents ------------------------------------------------------------------------
def test_a_subagent_request_reaches_its_mapped_provider_with_the_mapped_model(
    anthropic_provider, backup, reviewer, start_gateway, fake_upstream, second_upstream
):
    SubagentMapping.objects.create(agent=reviewer, provider=backup, target_model="review-model")
    gateway = start_gateway()

    response = post(
        gateway, subagent_request(reviewer.body), headers={"x-claude-code-agent-id": "a1b2c3"}
    )

    assert response.status_code == 200
    assert response.headers["x-switchboard-route"] == "subagent"
    assert response.headers["x-switchboard-provider"] == "backup"
    assert second_upstream.requests[0].json()["model"] == "review-model"
    assert fake_upstream.requests == []
    gateway.stop()
    [row] = rows()
    assert (row.subagent, row.route, row.provider) == ("code-reviewer", "subagent", "backup")
    assert "code-reviewer" in row.route_reason


def test_a_crlf_agent_file_still_matches_the_prompt_claude_code_sends(
    anthropic_provider, backup, start_gateway, second_upstream
):
    agent = parse_agent_file(REVIEWER_FILE.replace("\n", "\r\n"), source="win.md")
    definition = AgentDefinition.objects.create(
        name=agent.name, body=agent.body, fingerprint=agent.fingerprint
    )
    SubagentMapping.objects.create(agent=definition, provider=backup, target_model="m2")
    gateway = start_gateway()

    body = REVIEWER_FILE.split("---\n", 2)[2].strip()
    response = post(gateway, subagent_request(body))

    assert response.headers["x-switchboard-route"] == "subagent"


def test_a_matched_subagent_without_a_mapping_is_logged_and_served_by_default(
    reviewer, gateway, fake_upstream, log_rows
):
    response = post(gateway, subagent_request(reviewer.body))

    assert response.headers["x-switchboard-route"] == "default"
    [row] = log_rows()
    assert row.subagent == "code-reviewer" and row.route == "default"


def test_a_subagent_call_no_definition_matches_is_logged_as_unknown(gateway, log_rows):
    post(
        gateway,
        subagent_request("You are a brand new agent nobody told us about."),
        headers={"x-claude-code-agent-id": "ffee"},
    )

    [row] = log_rows()
    assert row.subagent == "(unknown subagent)"


def test_the_main_agent_is_not_taken_for_a_subagent(reviewer, gateway, log_rows):
    body = subagent_request("You are an interactive CLI tool that helps users.")
    body["system"][0]["text"] = BILLING
    post(gateway, body)

    [row] = log_rows()
    assert row.subagent == ""


def test_editing_the_mapping_in_the_admin_reroutes_the_next_request(
    anthropic_provider, backup, reviewer, start_gateway, second_upstream
):
    mapping = SubagentMapping.objects.create(agent=reviewer, provider=backup, target_model="before")
    gateway = start_gateway()
    post(gateway, subagent_request(reviewer.body))
    admin = User.objects.create_superuser("ops", "ops@example.com", "pw-for-tests-only")
    browser = Client()
    browser.force_login(admin)

    saved = browser.post(
        f"/admin/routing/subagentmapping/{mapping.pk}/change/",
        {
            "agent": reviewer.pk,
            "provider": backup.pk,
            "target_model": "after",
            "fallbacks": "[]",
            "enabled": "on",
        },
    )
    assert saved.status_code == 302
    gateway.wait_for_config(ConfigVersion.objects.get().version)
    post(gateway, subagent_request(reviewer.body))

    assert [r.json()["model"] for r in second_upstream.requests] == ["before", "after"]


# --- rules and aliases ----------------------------------------------------------------------
def test_a_rule_sends_background_requests_elsewhere(
    anthropic_provider, backup, start_gateway, second_upstream, fake_upstream
):
    RoutingRule.objects.create(
        name="background",
        priority=10,
        background="yes",
        provider=backup,
        target_model="cheap-model",
    )
    gateway = start_gateway()

    post(
        gateway,
        {
            "model": "claude-haiku-4-5",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "title please"}],
        },
    )
    post(
        gateway,
        {
            "model": "claude-opus-5",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "real work"}],
        },
    )

    assert [r.json()["model"] for r in second_upstream.requests] == ["cheap-model"]
    assert [r.json()["model"] for r in fake_upstream.requests] == ["claude-opus-5"]


def test_a_long_context_rule_wins_only_above_its_threshold(
    anthropic_provider, backup, start_gateway, second_upstream
):
    RoutingRule.objects.create(name="long", priority=5, min_input_tokens=2000, provider=backup)
    gateway = start_gateway()

    short = post(
        gateway, {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "short"}]}
    )
    long = post(
        gateway,
        {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "word " * 3000}]},
    )

    assert short.headers["x-switchboard-provider"] == "anthropic"
    assert long.headers["x-switchboard-provider"] == "backup"
    assert long.headers["x-switchboard-route"] == "rule"


# --- fallbacks -------------------------------------------------------------------------------
def test_a_500_from_the_first_target_falls_back_to_the_second_and_logs_both(
    anthropic_provider, backup, start_gateway, fake_upstream, second_upstream
):
    ModelAlias.objects.create(
        alias="smart",
        provider=anthropic_provider,
        target_model="model-a",
        fallbacks=["backup:model-b"],
    )
    gateway = start_gateway()
    fake_upstream.queue(anthropic_error(500, "api_error", "boom"))

    response = post(
        gateway, {"model": "smart", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    )

    assert response.status_code == 200
    assert response.headers["x-switchboard-provider"] == "backup"
    assert second_upstream.requests[0].json()["model"] == "model-b"
    gateway.stop()
    [row] = rows()
    assert [(a["provider"], a["model"], a["status"]) for a in row.attempts] == [
        ("anthropic", "model-a", 500),
        ("backup", "model-b", 200),
    ]
    assert row.status == 200 and row.outcome == "completed"


def test_a_refused_connection_falls_back_too(
    anthropic_provider, backup, start_gateway, second_upstream
):
    dead = Provider.objects.create(name="dead", base_url="http://127.0.0.1:9")
    ModelAlias.objects.create(alias="x", provider=dead, target_model="m", fallbacks=["backup:m"])
    gateway = start_gateway()

    response = post(
        gateway, {"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    )

    assert response.status_code == 200 and len(second_upstream.requests) == 1


def test_a_bad_request_is_not_retried_on_the_fallback(
    anthropic_provider, backup, start_gateway, fake_upstream, second_upstream
):
    ModelAlias.objects.create(
        alias="smart", provider=anthropic_provider, target_model="a", fallbacks=["backup:b"]
    )
    gateway = start_gateway()
    fake_upstream.queue(anthropic_error(400, "invalid_request_error", "bad field"))

    response = post(
        gateway, {"model": "smart", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    )

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "bad field"
    assert second_upstream.requests == []


def test_a_stream_that_fails_before_its_first_event_falls_back(
    anthropic_provider, backup, start_gateway, fake_upstream, second_upstream
):
    ModelAlias.objects.create(
        alias="smart", provider=anthropic_provider, target_model="a", fallbacks=["backup:b"]
    )
    gateway = start_gateway()
    fake_upstream.queue(
        sse_raw(
            [
                b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
                b'"message":"Overloaded"}}\n\n'
            ]
        )
    )

    response = post(
        gateway,
        {
            "model": "smart",
            "max_tokens": 5,
            "stream": True,
            "messages": [{"role": "user", "content": "x"}],
        },
    )

    assert response.status_code == 200
    assert response.text.rstrip().endswith('data: {"type": "message_stop"}')
    assert response.headers["x-switchboard-provider"] == "backup"
    assert second_upstream.requests[0].json()["model"] == "b"


def test_when_every_target_fails_the_client_gets_the_last_error(
    anthropic_provider, backup, start_gateway, fake_upstream, second_upstream
):
    ModelAlias.objects.create(
        alias="smart", provider=anthropic_provider, target_model="a", fallbacks=["backup:b"]
    )
    gateway = start_gateway()
    fake_upstream.queue(anthropic_error(529, "overloaded_error", "first busy"))
    second_upstream.queue(anthropic_error(503, "overloaded_error", "second busy"))

    response = post(
        gateway, {"model": "smart", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    )

    assert response.status_code == 503
    assert response.json()["error"]["message"] == "second busy"


# --- accounts --------------------------------------------------------------------------------
def test_a_429_on_account_a_moves_traffic_to_b_and_back_after_the_cooldown(
    anthropic_provider, start_gateway, fake_upstream
):
    for label, key in (("a", "sk-account-a"), ("b", "sk-account-b")):
        credential = Credential(provider=anthropic_provider, label=label)
        credential.set_secret(key)
        credential.save()
    gateway = start_gateway(**KEYED_GATEWAY)
    fake_upstream.queue(
        anthropic_error(429, "rate_limit_error", "slow down", headers={"retry-after": "1"})
    )
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}

    first = post(gateway, body)
    second = post(gateway, body)
    keys = [r.headers["x-api-key"] for r in fake_upstream.requests]
    assert first.status_code == second.status_code == 200
    assert keys == ["sk-account-a", "sk-account-b", "sk-account-b"]

    time.sleep(1.2)
    for _ in range(3):
        post(gateway, body)
    keys = [r.headers["x-api-key"] for r in fake_upstream.requests[3:]]
    assert "sk-account-a" in keys

    gateway.stop()
    first_row = rows()[0]
    assert [(a["account"], a["status"]) for a in first_row.attempts] == [("a", 429), ("b", 200)]
    assert (
        "sk-account"
        not in orjson.dumps(
            [r.request_headers for r in rows()] + [r.attempts for r in rows()]
        ).decode()
    )


# --- stickiness ------------------------------------------------------------------------------
def test_a_turn_that_continues_with_tool_results_stays_on_its_first_target(
    anthropic_provider, backup, start_gateway, fake_upstream, second_upstream
):
    RoutingRule.objects.create(name="long", priority=5, min_input_tokens=2000, provider=backup)
    gateway = start_gateway()
    session = {"x-claude-code-session-id": "sess-1"}
    fake_upstream.set_default(anthropic_message("calling a tool"))
    opening = [{"role": "user", "content": "list the files"}]

    post(gateway, {"model": "m", "max_tokens": 5, "messages": opening}, session)
    big_result = [
        *opening,
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "file\n" * 3000},
                {"type": "text", "text": "<system-reminder>be careful</system-reminder>"},
            ],
        },
    ]
    continued = post(gateway, {"model": "m", "max_tokens": 5, "messages": big_result}, session)
    new_turn = [
        *big_result,
        {"role": "assistant", "content": "done"},
        {"role": "user", "content": "now summarise all that"},
    ]
    rerouted = post(gateway, {"model": "m", "max_tokens": 5, "messages": new_turn}, session)

    assert continued.headers["x-switchboard-route"] == "sticky"
    assert continued.headers["x-switchboard-provider"] == "anthropic"
    assert rerouted.headers["x-switchboard-route"] == "rule"
    assert rerouted.headers["x-switchboard-provider"] == "backup"


def test_a_providers_only_account_is_not_benched_by_a_429(
    anthropic_provider, start_gateway, fake_upstream
):
    credential = Credential(provider=anthropic_provider, label="only")
    credential.set_secret("sk-only-account")
    credential.save()
    gateway = start_gateway(**KEYED_GATEWAY)
    fake_upstream.queue(anthropic_error(429, "rate_limit_error", "slow down"))
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}

    first = post(gateway, body)
    second = post(gateway, body)

    assert first.status_code == 429
    assert second.status_code == 200  # asked the upstream again, no 529 from the gateway
    assert len(fake_upstream.requests) == 2
