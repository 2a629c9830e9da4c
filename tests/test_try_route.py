"""The admin's "try a route" page and the explain() behind it."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from django.contrib.auth.models import User

from requestlog.models import RequestLog
from routing import snapshot
from routing.explain import explain
from routing.models import AgentDefinition, Provider, RoutingRule, SubagentMapping


@pytest.fixture
def config(db):
    anthropic = Provider.objects.get_or_create(
        name="anthropic", defaults={"base_url": "http://127.0.0.1:1", "is_default": True}
    )[0]
    cheap = Provider.objects.create(name="cheap", base_url="http://127.0.0.1:2")
    RoutingRule.objects.create(name="background", priority=10, background="yes", provider=cheap)
    RoutingRule.objects.create(
        name="long",
        priority=20,
        min_input_tokens=10_000,
        thinking="yes",
        provider=cheap,
        target_model="big",
    )
    agent = AgentDefinition.objects.create(
        name="reviewer", body="You review code.", fingerprint="f" * 16
    )
    SubagentMapping.objects.create(agent=agent, provider=cheap, target_model="rev-model")
    return anthropic


@pytest.fixture
def admin_client_logged_in(client, db):
    client.force_login(User.objects.create_superuser("ops", "o@example.com", "pw-tests-only"))
    return client


def test_explain_names_the_rule_that_wins_and_why_the_others_fail(config):
    result = explain({"model": "claude-haiku-4-5", "messages": []}, {}, snapshot.build())

    assert str(result.decision.target) == "cheap:claude-haiku-4-5"
    assert result.decision.route == "rule"
    background, long = result.rules
    assert background.matched and background.detail == "background request"
    assert not long.matched
    assert long.detail == "failed: thinking is off, fewer than 10000 input tokens"


def test_explain_recognises_a_subagent_by_its_prompt(config):
    payload = {
        "model": "claude-sonnet-5",
        "system": [
            {
                "type": "text",
                "text": "x-anthropic-billing-header: cc_version=2.1; cc_is_subagent=true;",
            },
            {"type": "text", "text": "You review code.\n\nNotes:\n- cwd is reset"},
        ],
        "messages": [{"role": "user", "content": "go"}],
    }

    result = explain(payload, {}, snapshot.build())

    assert result.subagent == "reviewer" and result.match.method == "prefix"
    assert str(result.decision.target) == "cheap:rev-model"


def test_the_page_explains_a_pasted_request(admin_client_logged_in, config):
    page = admin_client_logged_in.post(
        "/admin/routing/routingrule/try/",
        {
            "body": orjson.dumps(
                {
                    "model": "claude-haiku-4-5",
                    "max_tokens": 5,
                    "messages": [{"role": "user", "content": "hi"}],
                }
            ).decode(),
            "headers": "x-team: blue",
        },
    )

    text = page.content.decode()
    assert page.status_code == 200
    assert "cheap:claude-haiku-4-5" in text
    assert "rule &#x27;background&#x27; (priority 10)" in text
    assert "fewer than 10000 input tokens" in text


def test_the_page_explains_a_logged_request(admin_client_logged_in, config):
    now = datetime.now(UTC)
    RequestLog.objects.create(
        request_id="sbreq_logged",
        started_at=now,
        finished_at=now,
        endpoint="messages",
        method="POST",
        path="/v1/messages",
        status=200,
        outcome="completed",
        request_body=orjson.dumps(
            {
                "model": "claude-opus-5",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
            }
        ).decode(),
    )

    page = admin_client_logged_in.post(
        "/admin/routing/routingrule/try/", {"request_id": "sbreq_logged"}
    )

    assert "anthropic:claude-opus-5" in page.content.decode()


def test_the_page_says_what_is_wrong_with_bad_input(admin_client_logged_in, config):
    page = admin_client_logged_in.post("/admin/routing/routingrule/try/", {"body": "{oops"})

    assert "request body is not valid JSON" in page.content.decode()


def test_the_page_is_linked_from_the_rule_list(admin_client_logged_in, config):
    page = admin_client_logged_in.get("/admin/routing/routingrule/")
    assert "/admin/routing/routingrule/try/" in page.content.decode()
