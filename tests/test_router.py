"""decide(): explicit `provider,model`, then alias, then default provider."""

from __future__ import annotations

import pytest

from routing.config import AliasConfig, ProviderConfig, RoutingConfig
from routing.router import NoRoute, RequestSummary, Target, decide


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
