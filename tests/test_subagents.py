"""routing.subagents: telling which Claude Code subagent sent a request.

Requests in tests/fixtures/claude_code/ are shaped like what Claude Code 2.1.x
and the Agent SDK send (billing line, identity line, agent body + dynamic tail).
Pure Python: no database, no Django.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from routing.agents import AgentDefinition, fingerprint, parse_agent_file
from routing.subagents import (
    METHOD_LEGACY,
    METHOD_NONE,
    METHOD_PREFIX,
    SubagentMatch,
    SubagentMatcher,
    has_subagent_billing_flag,
    static_prompt_before_notes,
    system_texts,
)

FIXTURES = Path(__file__).parent / "fixtures" / "claude_code"
IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude."
EPHEMERAL = {"type": "ephemeral"}
#: The Go claude-code-proxy's extractStaticPrompt test input and its static part.
GO_VECTOR_SYSTEM_TEXT = "You are an expert engineer.\n\nNotes:\n- Some dynamic content"
GO_VECTOR_STATIC = "You are an expert engineer."
GO_VECTOR_FINGERPRINT = "3feccd88f8f1e57f"  # sha256(GO_VECTOR_STATIC)[:16]
#: Budget per match() for the speed test; it takes a few microseconds on a laptop.
MATCH_BUDGET_SECONDS = 0.001


def load_request(name: str) -> tuple[Any, dict[str, str]]:
    """The `system` and the headers of a fixture request."""
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data["body"]["system"], data["headers"]


def fixture_agents() -> list[AgentDefinition]:
    return [
        parse_agent_file(path.read_text(encoding="utf-8"), source=str(path))
        for path in sorted((FIXTURES / "agents").glob("*.md"))
    ]


def agent(name: str, body: str) -> AgentDefinition:
    return parse_agent_file(f"---\nname: {name}\n---\n{body}\n")


def text_block(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": text, **extra}


@pytest.fixture
def matcher() -> SubagentMatcher:
    """A matcher that knows the fixture agents: code-reviewer and test-runner."""
    return SubagentMatcher(fixture_agents())


# The Claude Code layouts


def test_it_matches_a_claude_code_subagent_call(matcher):
    system, headers = load_request("cc_2_1_subagent_code_reviewer.json")
    match = matcher.match(system, headers)
    assert match.agent is not None
    assert match.agent.name == "code-reviewer"
    assert match.method == METHOD_PREFIX
    assert match.is_subagent_call


def test_it_matches_an_agent_sdk_subagent_call(matcher):
    system, headers = load_request("agent_sdk_subagent_test_runner.json")
    match = matcher.match(system, headers)
    assert match.agent is not None
    assert (match.agent.name, match.method) == ("test-runner", METHOD_PREFIX)


def test_it_does_not_flag_the_main_agent(matcher):
    system, headers = load_request("cc_2_1_main_agent.json")
    assert matcher.match(system, headers) == SubagentMatch(None, METHOD_NONE, False)


def test_it_matches_a_string_system(matcher):
    system, headers = load_request("string_system_code_reviewer.json")
    match = matcher.match(system, headers)
    assert match.agent is not None
    assert (match.agent.name, match.method, match.is_subagent_call) == (
        "code-reviewer",
        METHOD_PREFIX,
        True,
    )


def test_it_matches_crlf_system_blocks(matcher):
    system, _ = load_request("cc_2_1_subagent_code_reviewer.json")
    for block in system:
        block["text"] = block["text"].replace("\n", "\r\n")
    match = matcher.match(system, {})
    assert match.agent is not None
    assert match.agent.name == "code-reviewer"


def test_it_matches_an_agent_read_from_a_crlf_file():
    path = FIXTURES / "agents" / "code-reviewer.md"
    crlf_agent = parse_agent_file(path.read_text().replace("\n", "\r\n"), source=str(path))
    system, headers = load_request("cc_2_1_subagent_code_reviewer.json")
    match = SubagentMatcher([crlf_agent]).match(system, headers)
    assert match.agent == crlf_agent


def test_it_finds_the_agent_in_any_block_among_extra_blocks(matcher):
    system, headers = load_request("cc_2_1_subagent_code_reviewer.json")
    agent_block = system.pop(2)
    system[1:1] = [agent_block]
    system += [text_block("Extra instructions.", cache_control=EPHEMERAL), {"type": "image"}]
    match = matcher.match(system, headers)
    assert match.agent is not None
    assert match.agent.name == "code-reviewer"


def test_it_matches_leading_whitespace_before_the_body(matcher):
    system, headers = load_request("cc_2_1_subagent_code_reviewer.json")
    system[2]["text"] = "\n\n  " + system[2]["text"]
    assert matcher.match(system, headers).method == METHOD_PREFIX


def test_it_prefers_the_longest_matching_body():
    base = "You review Python code for correctness, security and clarity. " * 2
    short = agent("short", "Review it.")
    reviewer = agent("reviewer", base)
    strict = agent("strict-reviewer", base + "\nBe strict: block on any missing test.")
    matcher = SubagentMatcher([short, reviewer, strict])
    for body, winner in [
        (strict.body + "\n\nNotes:\n- x", strict),
        (reviewer.body + "\n\nNotes:\n- x", reviewer),
        ("Review it.\n\nNotes:\n- x", short),
    ]:
        system = [
            text_block("x-anthropic-billing-header: cc_version=2.1.197.abc;"),
            text_block(body),
        ]
        assert matcher.match(system, {}).agent == winner


def test_it_prefers_the_longest_body_across_blocks():
    general = agent("general", "You are a helpful agent.")
    specific = agent("specific", "You are a helpful agent that writes migrations.")
    matcher = SubagentMatcher([general, specific])
    system = [
        text_block("You are a helpful agent.\n\nNotes: x"),
        text_block("You are a helpful agent that writes migrations.\n\nNotes: x"),
    ]
    assert matcher.match(system, {}).agent == specific


def test_it_returns_no_match_for_an_unknown_prompt(matcher):
    system = [text_block("You are a poet.")]
    assert matcher.match(system, {}) == SubagentMatch(None, METHOD_NONE, False)


def test_it_does_not_match_a_block_that_only_contains_the_body(matcher):
    system, _ = load_request("cc_2_1_subagent_code_reviewer.json")
    system[2]["text"] = "Preamble.\n" + system[2]["text"]
    assert matcher.match(system, {}).method == METHOD_NONE


def test_it_ignores_agents_with_an_empty_body():
    matcher = SubagentMatcher([agent("empty", "")])
    assert matcher.agents == ()
    assert matcher.match([text_block("Anything.")], {}).method == METHOD_NONE


def test_it_lets_the_first_of_two_identical_bodies_win():
    first, second = agent("first", "Same body."), agent("second", "Same body.")
    assert SubagentMatcher([first, second]).match("Same body.", {}).agent == first


@pytest.mark.parametrize("system", [None, "", [], {}, [{"type": "image"}], [{"type": "text"}], 3])
def test_it_survives_any_system_shape(matcher, system):
    assert matcher.match(system, {}) == SubagentMatch(None, METHOD_NONE, False)


def test_it_reads_only_text_blocks():
    system = ["loose string", {"type": "image", "text": "no"}, text_block("yes"), {"text": "ok"}]
    assert system_texts(system) == ["yes", "ok"]


# Unknown subagents


def test_it_flags_an_unknown_subagent_by_header_and_billing_line(matcher):
    system, headers = load_request("cc_2_1_unknown_subagent.json")
    assert matcher.match(system, headers) == SubagentMatch(None, METHOD_NONE, True)


def test_it_flags_an_unknown_subagent_by_its_header_alone(matcher):
    system, headers = load_request("cc_2_1_unknown_subagent.json")
    system[0]["text"] = "x-anthropic-billing-header: cc_version=2.1.197.abc; cc_entrypoint=cli;"
    assert matcher.match(system, headers).is_subagent_call


def test_it_flags_an_unknown_subagent_by_its_billing_line_alone(matcher):
    system, headers = load_request("cc_2_1_unknown_subagent.json")
    del headers["x-claude-code-agent-id"]
    assert matcher.match(system, headers).is_subagent_call


def test_it_flags_a_subagent_with_no_agents_known():
    system, headers = load_request("cc_2_1_unknown_subagent.json")
    assert SubagentMatcher([]).match(system, headers) == SubagentMatch(None, METHOD_NONE, True)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Claude-Code-Agent-Id": "a7e3c1d9b2f04e68"},
        {"x-claude-code-parent-agent-id": "main-4f2a"},
    ],
)
def test_it_reads_the_agent_headers_in_any_case(matcher, headers):
    assert matcher.match([text_block("You are a poet.")], headers).is_subagent_call


def test_it_ignores_a_blank_agent_header(matcher):
    assert not matcher.match("You are a poet.", {"x-claude-code-agent-id": "  "}).is_subagent_call


def test_it_reads_the_billing_flag_in_a_string_system():
    text = (
        "x-anthropic-billing-header: cc_version=2.1.197.abc; cc_entrypoint=sdk-cli; "
        "cc_is_subagent=true;\nYou are a Claude agent, built on Anthropic's Claude Agent SDK."
    )
    assert SubagentMatcher([]).match(text, {}).is_subagent_call


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("x-anthropic-billing-header: cc_version=2.1.197.abc; cc_is_subagent=true;", True),
        ("x-anthropic-billing-header: cc_is_subagent=true", True),
        ("x-anthropic-billing-header: cc_version=2.1.197.abc; cc_entrypoint=cli;", False),
        ("x-anthropic-billing-header: cc_is_subagent=false;", False),
        ("Docs: the x-anthropic-billing-header: cc_is_subagent=true; field...", False),
        ("Main prompt.\nSee cc_is_subagent=true in logs.", False),
        ("Intro.\nx-anthropic-billing-header: cc_entrypoint=cli; cc_is_subagent=true;", True),
    ],
)
def test_it_reads_the_subagent_flag_only_on_a_billing_line(text, flagged):
    assert has_subagent_billing_flag(text) is flagged


# The Go claude-code-proxy's rule


def test_it_extracts_the_go_proxy_static_prompt_from_its_test_vector():
    assert static_prompt_before_notes(GO_VECTOR_SYSTEM_TEXT) == GO_VECTOR_STATIC
    assert fingerprint(static_prompt_before_notes(GO_VECTOR_SYSTEM_TEXT)) == GO_VECTOR_FINGERPRINT
    assert static_prompt_before_notes("You are an expert.\nNo notes here.") == (
        "You are an expert.\nNo notes here."
    )
    assert static_prompt_before_notes("") == ""


def test_it_matches_the_go_proxy_two_block_layout_with_the_go_fingerprint():
    expert = agent("expert", GO_VECTOR_STATIC)
    system = [text_block(IDENTITY, cache_control=EPHEMERAL), text_block(GO_VECTOR_SYSTEM_TEXT)]
    match = SubagentMatcher([expert]).match(system, {})
    assert match.agent == expert
    assert match.agent.fingerprint == GO_VECTOR_FINGERPRINT
    assert match.method == METHOD_PREFIX  # the general rule is tried first


def test_it_falls_back_to_the_go_proxy_rule():
    # The agent's own Notes section was edited since; the Go proxy hashed only what precedes it.
    expert = agent("expert", GO_VECTOR_STATIC + "\n\nNotes:\n- Always cite file paths.")
    system = [text_block(IDENTITY), text_block(GO_VECTOR_SYSTEM_TEXT)]
    match = SubagentMatcher([expert]).match(system, {})
    assert match == SubagentMatch(expert, METHOD_LEGACY, True)


def test_it_applies_the_go_proxy_rule_to_exactly_two_blocks():
    expert = agent("expert", GO_VECTOR_STATIC + "\n\nNotes:\n- Always cite file paths.")
    system = [text_block("x-anthropic-billing-header: cc_version=2.1.197.abc;")]
    system += [text_block(IDENTITY), text_block(GO_VECTOR_SYSTEM_TEXT)]
    assert SubagentMatcher([expert]).match(system, {}).method == METHOD_NONE
