"""routing.router: decide() in SPEC order (explicit, subagent, rules, alias, default).

Pure Python: hand-made RoutingConfigs, no database.
"""

from __future__ import annotations

import pytest

from routing.agents import parse_agent_file
from routing.config import (
    AliasConfig,
    MappingConfig,
    ProviderConfig,
    RoutingConfig,
    RuleConfig,
    TargetRef,
)
from routing.router import (
    NoRoute,
    RequestSummary,
    RouteDecision,
    Target,
    decide,
    is_background,
    rule_matches,
)
from routing.subagents import SubagentMatcher

IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude."


def provider(name: str) -> ProviderConfig:
    return ProviderConfig(
        name=name,
        wire_format="anthropic",
        base_url=f"https://{name}.example",
        connect_timeout=5.0,
        read_timeout=600.0,
    )


ANTHROPIC = provider("anthropic")
OPENROUTER = provider("openrouter")
GROQ = provider("groq")


def config(
    *providers: ProviderConfig,
    aliases: tuple[AliasConfig, ...] = (),
    default: str | None = "anthropic",
) -> RoutingConfig:
    return RoutingConfig(
        version=1,
        providers={p.name: p for p in providers},
        aliases={a.alias: a for a in aliases},
        default_provider=default,
    )


FULL = config(
    ANTHROPIC,
    OPENROUTER,
    GROQ,
    aliases=(
        AliasConfig("fast", "groq", "llama-3.3-70b"),
        AliasConfig("gone", "deleted-provider", "some-model"),
        AliasConfig("openrouter,x", "groq", "llama-3.3-70b"),
    ),
)


def route(model: str, cfg: RoutingConfig = FULL):
    return decide(RequestSummary(model=model), cfg)


def test_it_routes_provider_comma_model_to_that_provider() -> None:
    decision = route("openrouter,anthropic/claude-sonnet-4.5")
    assert decision.target == Target(OPENROUTER, "anthropic/claude-sonnet-4.5")
    assert decision.route == "explicit"
    assert decision.reason == "model field names provider 'openrouter'"
    assert decision.fallbacks == ()


def test_it_strips_spaces_around_the_provider_and_model() -> None:
    assert route(" openrouter , some/model ").target == Target(OPENROUTER, "some/model")


def test_it_splits_provider_and_model_at_the_first_comma() -> None:
    assert route("openrouter,a,b").target == Target(OPENROUTER, "a,b")


def test_it_prefers_an_explicit_provider_to_an_alias_of_the_same_name() -> None:
    decision = route("openrouter,x")
    assert decision.route == "explicit"
    assert decision.target == Target(OPENROUTER, "x")


def test_it_routes_explicitly_even_without_a_default_provider() -> None:
    decision = route("groq,llama", config(GROQ, default=None))
    assert decision.target == Target(GROQ, "llama")


def test_it_falls_through_to_the_default_when_the_named_provider_is_unknown() -> None:
    decision = route("nowhere,some-model")
    assert decision.route == "default"
    assert decision.target == Target(ANTHROPIC, "nowhere,some-model")
    assert decision.reason == "default provider 'anthropic'"


@pytest.mark.parametrize("model", ["openrouter,", "openrouter,   "])
def test_it_falls_through_to_the_default_when_the_model_part_is_empty(model: str) -> None:
    decision = route(model)
    assert decision.route == "default"
    assert decision.target == Target(ANTHROPIC, model)


def test_it_does_not_treat_an_empty_provider_part_as_a_provider() -> None:
    decision = route(",claude-x")
    assert decision.route == "default"
    assert decision.target == Target(ANTHROPIC, ",claude-x")


def test_it_prefers_an_alias_to_the_default_provider() -> None:
    decision = route("fast")
    assert decision.target == Target(GROQ, "llama-3.3-70b")
    assert decision.route == "alias"
    assert decision.reason == "alias 'fast' -> groq:llama-3.3-70b"


def test_it_routes_an_alias_even_without_a_default_provider() -> None:
    cfg = config(GROQ, aliases=(AliasConfig("fast", "groq", "llama"),), default=None)
    assert route("fast", cfg).target == Target(GROQ, "llama")


def test_it_falls_to_the_default_when_the_alias_provider_is_missing() -> None:
    decision = route("gone")
    assert decision.route == "default"
    assert decision.target == Target(ANTHROPIC, "gone")
    assert decision.reason == "default provider 'anthropic'"


def test_it_matches_aliases_exactly() -> None:
    assert route("Fast").route == "default"
    assert route("fast ").route == "default"


def test_it_sends_the_requested_model_to_the_default_provider() -> None:
    decision = route("claude-sonnet-4-5-20250929")
    assert decision.target == Target(ANTHROPIC, "claude-sonnet-4-5-20250929")
    assert decision.route == "default"
    assert decision.reason == "default provider 'anthropic'"


def test_it_names_whichever_provider_is_the_default() -> None:
    decision = route("m", config(ANTHROPIC, GROQ, default="groq"))
    assert decision.target == Target(GROQ, "m")
    assert decision.reason == "default provider 'groq'"


@pytest.mark.parametrize(
    "cfg",
    [
        config(ANTHROPIC, GROQ, default=None),
        config(ANTHROPIC, GROQ, default=""),
        config(GROQ, default="anthropic"),
        config(default="anthropic"),
    ],
    ids=["no_default", "empty_default", "default_not_enabled", "no_providers"],
)
def test_it_raises_no_route_without_a_usable_default(cfg: RoutingConfig) -> None:
    with pytest.raises(NoRoute, match=r"^no enabled default provider is configured$"):
        route("claude-x", cfg)


def test_it_raises_no_route_for_an_unknown_explicit_provider_without_a_default() -> None:
    with pytest.raises(NoRoute):
        route("nowhere,m", config(GROQ, default=None))


# --- the whole order: explicit -> subagent -> rules -> alias -> default --------------------

OPENAI = provider("openai")
LOCAL = provider("localllm")


def rule(name: str, provider_name: str = "openai", priority: int = 100, **kw) -> RuleConfig:
    return RuleConfig(name=name, priority=priority, provider=provider_name, **kw)


def routing(
    *providers: ProviderConfig,
    rules: tuple[RuleConfig, ...] = (),
    mappings: tuple[MappingConfig, ...] = (),
    aliases: tuple[AliasConfig, ...] = (),
    default: str | None = "anthropic",
    background_models: tuple[str, ...] = ("*haiku*",),
) -> RoutingConfig:
    return RoutingConfig(
        version=7,
        providers={p.name: p for p in providers or (ANTHROPIC, OPENAI, GROQ, LOCAL)},
        aliases={a.alias: a for a in aliases},
        default_provider=default,
        mappings={m.agent: m for m in mappings},
        rules=rules,
        background_models=background_models,
    )


def ask(cfg: RoutingConfig, model: str = "claude-sonnet-4-5", **kw) -> RouteDecision:
    return decide(RequestSummary(model=model, **kw), cfg)


#: Every step has a candidate; the tests take steps away from the top.
EVERY_STEP = routing(
    mappings=(MappingConfig("code-reviewer", "openai", "gpt-4o"),),
    rules=(rule("everything", "groq", model="llama-3.3-70b"),),
    aliases=(AliasConfig("claude-sonnet-4-5", "localllm", "qwen"),),
)


def test_it_prefers_an_explicit_provider_to_a_subagent_mapping_and_rules() -> None:
    decision = ask(EVERY_STEP, "localllm,my-model", subagent="code-reviewer", is_subagent_call=True)
    assert decision.route == "explicit"
    assert decision.target == Target(LOCAL, "my-model")


def test_it_prefers_a_subagent_mapping_to_rules_aliases_and_the_default() -> None:
    decision = ask(EVERY_STEP, subagent="code-reviewer", is_subagent_call=True)
    assert decision.route == "subagent"
    assert decision.target == Target(OPENAI, "gpt-4o")
    assert decision.rule == ""
    assert "code-reviewer" in decision.reason
    assert "openai:gpt-4o" in decision.reason


def test_it_prefers_a_matching_rule_to_an_alias() -> None:
    decision = ask(EVERY_STEP)
    assert decision.route == "rule"
    assert decision.target == Target(GROQ, "llama-3.3-70b")
    assert decision.rule == "everything"


def test_it_uses_the_alias_when_no_rule_matches() -> None:
    cfg = routing(
        rules=(rule("never", model_glob="gpt-*"),),
        aliases=(AliasConfig("claude-sonnet-4-5", "localllm", "qwen"),),
    )
    decision = ask(cfg)
    assert decision.route == "alias"
    assert decision.target == Target(LOCAL, "qwen")
    assert "'claude-sonnet-4-5'" in decision.reason


def test_it_uses_the_default_when_nothing_else_applies() -> None:
    cfg = routing(
        mappings=(MappingConfig("code-reviewer", "openai", "gpt-4o"),),
        rules=(rule("never", model_glob="gpt-*"),),
        aliases=(AliasConfig("fast", "groq", "llama"),),
    )
    decision = ask(cfg, subagent="planner", is_subagent_call=True)
    assert decision.route == "default"
    assert decision.target == Target(ANTHROPIC, "claude-sonnet-4-5")
    assert decision.fallbacks == ()
    assert decision.targets == (decision.target,)


def test_it_does_not_route_the_main_agent_by_a_subagent_mapping() -> None:
    assert ask(EVERY_STEP, subagent=None).route == "rule"


def test_it_skips_a_mapping_whose_provider_is_disabled() -> None:
    cfg = routing(
        ANTHROPIC,
        GROQ,
        mappings=(MappingConfig("code-reviewer", "openai", "gpt-4o"),),
        rules=(rule("reviewers", "groq", subagent="code-reviewer"),),
    )
    decision = ask(cfg, subagent="code-reviewer", is_subagent_call=True)
    assert decision.route == "rule"
    assert decision.target == Target(GROQ, "claude-sonnet-4-5")


def test_it_falls_to_the_default_when_a_mapped_provider_is_disabled() -> None:
    cfg = routing(ANTHROPIC, mappings=(MappingConfig("code-reviewer", "openai", "gpt-4o"),))
    decision = ask(cfg, subagent="code-reviewer", is_subagent_call=True)
    assert decision.route == "default"
    assert decision.target == Target(ANTHROPIC, "claude-sonnet-4-5")


def test_it_skips_a_rule_whose_provider_is_disabled_and_tries_the_next() -> None:
    cfg = routing(
        ANTHROPIC,
        GROQ,
        rules=(rule("first", "openai", priority=1), rule("second", "groq", priority=2)),
    )
    decision = ask(cfg)
    assert decision.rule == "second"
    assert decision.target.provider == GROQ


def test_it_skips_an_alias_whose_provider_is_disabled() -> None:
    cfg = routing(ANTHROPIC, aliases=(AliasConfig("fast", "openai", "gpt-4o-mini"),))
    decision = ask(cfg, "fast")
    assert decision.route == "default"
    assert decision.target == Target(ANTHROPIC, "fast")


# --- subagent mappings, adapted from the Go claude-code-proxy's model_router_test.go -----
# Its router hashed system block [1] of a two-block Claude Code request (before
# "\nNotes:") and routed a known agent to its mapped model; anything else kept
# the requested model at its provider. Here the matcher names the agent and the
# router maps it; "anything else" is the default provider with the requested model.

GO_AGENT_BODY = "You are an expert engineer."
GO_MAPPINGS = routing(
    ANTHROPIC,
    OPENAI,
    mappings=(MappingConfig("streaming-systems-engineer", "openai", "gpt-4o"),),
)
GO_MATCHER = SubagentMatcher(
    [parse_agent_file(f"---\nname: streaming-systems-engineer\n---\n{GO_AGENT_BODY}\n")]
)


def summarise(model: str, system: object, headers: dict[str, str] | None = None):
    """What gateway.route.choose_target builds from a request, for the subagent step."""
    headers = headers or {}
    match = GO_MATCHER.match(system, headers)
    return RequestSummary(
        model=model,
        headers=headers,
        subagent=match.agent.name if match.agent else None,
        is_subagent_call=match.is_subagent_call,
    )


def blocks(*texts: str) -> list[dict[str, str]]:
    return [{"type": "text", "text": text} for text in texts]


def test_it_routes_the_go_proxys_two_block_subagent_request_to_its_mapping() -> None:
    system = blocks(IDENTITY, f"{GO_AGENT_BODY}\n\nNotes:\n- Some dynamic content\n- More notes")
    decision = decide(summarise("claude-3-opus-20240229", system), GO_MAPPINGS)
    assert decision.route == "subagent"
    assert decision.target == Target(OPENAI, "gpt-4o")
    assert "streaming-systems-engineer" in decision.reason


@pytest.mark.parametrize(
    "system",
    [
        blocks(
            IDENTITY,
            "You are an interactive CLI tool that helps users with software engineering "
            "tasks. Use the instructions below and the tools available to you to assist "
            "the user.",
        ),
        blocks("You are a helpful assistant."),
        [],
        None,
    ],
    ids=["regular_claude_code", "not_claude_code", "no_system_blocks", "no_system"],
)
def test_it_keeps_the_requested_model_when_no_subagent_is_known(system: object) -> None:
    decision = decide(summarise("claude-3-opus-20240229", system), GO_MAPPINGS)
    assert decision.route == "default"
    assert decision.target == Target(ANTHROPIC, "claude-3-opus-20240229")


def test_it_routes_a_current_three_block_subagent_request_to_its_mapping() -> None:
    system = blocks(
        "x-anthropic-billing-header: cc_version=2.1.0; cc_entrypoint=cli; cc_is_subagent=true;",
        IDENTITY,
        f"{GO_AGENT_BODY}\n\nNotes:\n- Agent threads always have their cwd reset.",
    )
    decision = decide(summarise("claude-sonnet-4-5", system), GO_MAPPINGS)
    assert decision.target == Target(OPENAI, "gpt-4o")


def test_it_sends_an_unmapped_subagent_to_the_default() -> None:
    system = blocks(IDENTITY, "You are someone else entirely.")
    summary = summarise("claude-sonnet-4-5", system, {"x-claude-code-agent-id": "a1"})
    assert summary.is_subagent_call and summary.subagent is None
    decision = decide(summary, GO_MAPPINGS)
    assert decision.route == "default"
    assert decision.target == Target(ANTHROPIC, "claude-sonnet-4-5")


# --- fallbacks -------------------------------------------------------------------------


def test_it_resolves_a_mappings_fallbacks_in_order() -> None:
    cfg = routing(
        mappings=(
            MappingConfig(
                "code-reviewer",
                "openai",
                "gpt-4o",
                fallbacks=(TargetRef("groq", "llama"), TargetRef("anthropic", "claude-x")),
            ),
        ),
    )
    decision = ask(cfg, subagent="code-reviewer", is_subagent_call=True)
    assert decision.fallbacks == (Target(GROQ, "llama"), Target(ANTHROPIC, "claude-x"))
    assert decision.targets == (
        Target(OPENAI, "gpt-4o"),
        Target(GROQ, "llama"),
        Target(ANTHROPIC, "claude-x"),
    )
    assert "skipped" not in decision.reason


def test_it_leaves_out_fallbacks_to_missing_providers_and_says_so() -> None:
    cfg = routing(
        ANTHROPIC,
        OPENAI,
        rules=(
            rule(
                "long-context",
                model="gpt-4.1",
                min_input_tokens=10,
                fallbacks=(
                    TargetRef("gone", "m1"),
                    TargetRef("anthropic", "claude-sonnet-4-5"),
                    TargetRef("groq", "llama"),
                ),
            ),
        ),
    )
    decision = ask(cfg, input_tokens=10)
    assert decision.fallbacks == (Target(ANTHROPIC, "claude-sonnet-4-5"),)
    assert decision.reason.endswith(
        " (fallbacks skipped, provider missing or disabled: gone:m1, groq:llama)"
    )


def test_it_leaves_out_an_aliass_fallbacks_to_missing_providers() -> None:
    cfg = routing(
        ANTHROPIC,
        GROQ,
        aliases=(
            AliasConfig("fast", "groq", "llama", fallbacks=(TargetRef("openai", "gpt-4o-mini"),)),
        ),
    )
    decision = ask(cfg, "fast")
    assert decision.fallbacks == ()
    assert "openai:gpt-4o-mini" in decision.reason


# --- rules: order, targets, reasons ------------------------------------------------------


def test_it_uses_the_first_matching_rule_in_the_order_given() -> None:
    cfg = routing(
        rules=(
            rule("a-first", "groq", priority=10, model_glob="claude-*"),
            rule("b-second", "openai", priority=10, model_glob="claude-*"),
        )
    )
    assert ask(cfg).rule == "a-first"


def test_it_trusts_the_given_order_rather_than_resorting_by_priority() -> None:
    # The snapshot builder sorts; the router takes config.rules as it comes.
    cfg = routing(rules=(rule("listed-first", "groq", 50), rule("lower-number", "openai", 1)))
    assert ask(cfg).rule == "listed-first"


def test_it_moves_past_a_rule_whose_conditions_fail() -> None:
    cfg = routing(
        rules=(
            rule("thinking", "groq", priority=1, thinking=True),
            rule("catch-all", "openai", priority=2),
        )
    )
    assert ask(cfg).rule == "catch-all"
    assert ask(cfg, thinking=True).rule == "thinking"


def test_it_keeps_the_requested_model_when_a_rule_names_none() -> None:
    decision = ask(routing(rules=(rule("to-openai", model=""),)), "claude-opus-4-1")
    assert decision.target == Target(OPENAI, "claude-opus-4-1")


def test_it_uses_the_rules_model_when_it_names_one() -> None:
    decision = ask(routing(rules=(rule("to-openai", model="gpt-4o"),)), "claude-opus-4-1")
    assert decision.target == Target(OPENAI, "gpt-4o")


def test_it_names_the_rule_its_priority_and_conditions_in_the_reason() -> None:
    cfg = routing(rules=(rule("background", priority=20, model_glob="*haiku*", model="mini"),))
    decision = ask(cfg, "claude-haiku-4-5")
    assert decision.reason == "rule 'background' (priority 20): model matches '*haiku*'"


def test_it_says_a_rule_without_conditions_matches_everything() -> None:
    decision = ask(routing(rules=(rule("all"),)))
    assert decision.reason == "rule 'all' (priority 100): no conditions"


def test_it_joins_every_condition_that_held_in_the_reason() -> None:
    cfg = routing(
        rules=(
            rule(
                "combo",
                model_glob="claude-*",
                subagent="*",
                thinking=False,
                min_input_tokens=100,
                tool="web_search*",
                header_name="X-Team",
                header_value="blue",
                background=False,
            ),
        )
    )
    decision = ask(
        cfg,
        is_subagent_call=True,
        input_tokens=150,
        tools=("web_search", "web_search_20250305"),
        headers={"x-team": "blue"},
    )
    assert decision.reason == (
        "rule 'combo' (priority 100): model matches 'claude-*', a subagent call, "
        "thinking off, ~150 input tokens >= 100, tool 'web_search*' offered, "
        "header X-Team=blue, not a background request"
    )


def test_it_takes_stickiness_from_the_rule() -> None:
    assert ask(routing(rules=(rule("pinned"),))).sticky is True
    assert ask(routing(rules=(rule("loose", sticky=False),))).sticky is False


def test_it_makes_non_rule_decisions_sticky() -> None:
    assert ask(EVERY_STEP, subagent="code-reviewer", is_subagent_call=True).sticky is True
    assert ask(routing()).sticky is True


# --- rule conditions, one at a time ----------------------------------------------------


def matches(rule_: RuleConfig, cfg: RoutingConfig | None = None, **kw) -> bool:
    summary = RequestSummary(**{"model": "claude-sonnet-4-5", **kw})
    return rule_matches(rule_, summary, cfg or routing()) is not None


@pytest.mark.parametrize(
    ("glob", "model", "expected"),
    [
        ("*haiku*", "claude-haiku-4-5", True),
        ("*HAIKU*", "claude-haiku-4-5", True),
        ("*haiku*", "Claude-Haiku-4-5", True),
        ("claude-sonnet-*", "claude-sonnet-4-5-20250929", True),
        ("claude-sonnet-*", "claude-opus-4-1", False),
        ("gpt-4o", "gpt-4o-mini", False),
        ("gpt-4o?mini", "gpt-4o-mini", True),
    ],
)
def test_it_matches_the_requested_model_by_a_case_insensitive_glob(
    glob: str, model: str, expected: bool
) -> None:
    assert matches(rule("r", model_glob=glob), model=model) is expected


def test_it_matches_a_subagent_by_name() -> None:
    r = rule("r", subagent="code-reviewer")
    assert matches(r, subagent="code-reviewer", is_subagent_call=True)
    assert not matches(r, subagent="planner", is_subagent_call=True)
    assert not matches(r, subagent=None, is_subagent_call=True)
    assert not matches(r)


def test_it_matches_any_subagent_call_with_a_star_including_unknown_ones() -> None:
    r = rule("r", subagent="*")
    assert matches(r, subagent="code-reviewer", is_subagent_call=True)
    assert matches(r, subagent=None, is_subagent_call=True)
    assert not matches(r, subagent=None, is_subagent_call=False)


def test_it_matches_thinking_on_and_off() -> None:
    assert matches(rule("r", thinking=True), thinking=True)
    assert not matches(rule("r", thinking=True), thinking=False)
    assert matches(rule("r", thinking=False), thinking=False)
    assert not matches(rule("r", thinking=False), thinking=True)
    assert matches(rule("r", thinking=None), thinking=True)
    assert matches(rule("r", thinking=None), thinking=False)


@pytest.mark.parametrize(("tokens", "expected"), [(59_999, False), (60_000, True), (60_001, True)])
def test_it_matches_input_tokens_at_or_above_the_threshold(tokens: int, expected: bool) -> None:
    assert matches(rule("r", min_input_tokens=60_000), input_tokens=tokens) is expected


def test_it_treats_a_zero_token_threshold_as_always_true() -> None:
    assert matches(rule("r", min_input_tokens=0), input_tokens=0)


@pytest.mark.parametrize(
    ("pattern", "tools", "expected"),
    [
        ("web_search", ("Bash", "web_search", "web_search_20250305"), True),
        ("web_search*", ("web_search_20250305",), True),
        ("WEB_SEARCH*", ("web_search", "web_search_20250305"), True),
        ("Bash", ("bash",), True),
        ("web_search", ("Bash", "Read"), False),
        ("web_search", (), False),
        ("Read", ("ReadFile",), False),
    ],
)
def test_it_matches_a_tool_by_name_or_type_glob(
    pattern: str, tools: tuple[str, ...], expected: bool
) -> None:
    assert matches(rule("r", tool=pattern), tools=tools) is expected


def test_it_matches_a_header_that_is_present() -> None:
    r = rule("r", header_name="X-Team")
    assert matches(r, headers={"x-team": "anything"})
    assert matches(r, headers={"x-team": ""})
    assert not matches(r, headers={"x-other": "blue"})
    assert not matches(r)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("blue", True), ("blue-2", True), ("green", False), ("", False)],
)
def test_it_matches_a_header_value_by_glob(value: str, expected: bool) -> None:
    r = rule("r", header_name="x-team", header_value="blue*")
    assert matches(r, headers={"x-team": value}) is expected


def test_it_says_a_header_is_present_in_the_reason() -> None:
    cfg = routing(rules=(rule("r", header_name="x-priority"),))
    assert ask(cfg, headers={"x-priority": "1"}).reason.endswith("header x-priority present")


def test_it_matches_background_requests_by_the_configured_globs() -> None:
    background, foreground = rule("r", background=True), rule("r", background=False)
    assert matches(background, model="claude-haiku-4-5")
    assert matches(background, model="claude-3-5-HAIKU-latest")
    assert not matches(background, model="claude-sonnet-4-5")
    assert matches(foreground, model="claude-sonnet-4-5")
    assert not matches(foreground, model="claude-haiku-4-5")


def test_it_uses_the_configs_own_background_models() -> None:
    cfg = routing(background_models=("gpt-4o-mini", "small-*"))
    assert is_background(RequestSummary(model="GPT-4o-mini"), cfg)
    assert is_background(RequestSummary(model="small-fast"), cfg)
    assert not is_background(RequestSummary(model="claude-haiku-4-5"), cfg)
    assert matches(rule("r", background=True), cfg, model="small-fast")


def test_it_needs_every_condition_of_a_rule_to_hold() -> None:
    r = rule("r", model_glob="*haiku*", thinking=True)
    assert matches(r, model="claude-haiku-4-5", thinking=True)
    assert not matches(r, model="claude-haiku-4-5", thinking=False)
    assert not matches(r, model="claude-sonnet-4-5", thinking=True)
