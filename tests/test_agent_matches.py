"""routing.agent_matches: the log writer stamps the agents that logged requests matched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from routing.agent_matches import latest_match_per_agent, note_agent_matches
from routing.agents import parse_agent_file
from routing.models import AgentDefinition

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
AGENT_FILE = """---
name: stamp-checker
description: Checks stamps.
---
You check that every logged subagent call stamps its agent definition.
"""


def test_it_keeps_the_latest_start_per_agent_and_skips_placeholders():
    rows = [
        {"subagent": "a", "started_at": T0},
        {"subagent": "a", "started_at": T0 + timedelta(seconds=5)},
        {"subagent": "a", "started_at": T0 - timedelta(seconds=5)},
        {"subagent": "(unknown subagent)", "started_at": T0},
        {"subagent": "", "started_at": T0},
        {"started_at": T0},
    ]

    assert latest_match_per_agent(rows) == {"a": T0 + timedelta(seconds=5)}


def test_it_stamps_only_the_agents_matched(db):
    matched = AgentDefinition.objects.create(name="a", body="A", fingerprint="1" * 16)
    other = AgentDefinition.objects.create(name="b", body="B", fingerprint="2" * 16)

    note_agent_matches([{"subagent": "a", "started_at": T0}])

    matched.refresh_from_db()
    other.refresh_from_db()
    assert matched.last_matched_at == T0
    assert other.last_matched_at is None


def test_a_subagent_request_through_the_gateway_stamps_its_agent(
    anthropic_provider, start_gateway, log_rows_for_stopped
):
    agent = parse_agent_file(AGENT_FILE, source="stamp-checker.md")
    definition = AgentDefinition.objects.create(
        name=agent.name, body=agent.body, fingerprint=agent.fingerprint
    )
    gateway = start_gateway()
    system = [
        {
            "type": "text",
            "text": "x-anthropic-billing-header: cc_version=2.1.1; cc_is_subagent=true;",
        },
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
        {"type": "text", "text": agent.body + "\n\nNotes:\n- more text"},
    ]
    body = {
        "model": "m",
        "max_tokens": 5,
        "system": system,
        "messages": [{"role": "user", "content": "hi"}],
    }

    httpx.post(gateway.url + "/v1/messages", json=body, timeout=20).raise_for_status()

    [row] = log_rows_for_stopped(gateway)  # stopping flushes the writer and runs its hooks
    definition.refresh_from_db()
    assert row.subagent == "stamp-checker"
    assert definition.last_matched_at == row.started_at
