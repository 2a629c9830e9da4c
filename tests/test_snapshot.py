"""routing.snapshot: the in-memory RoutingConfig built from the config tables.

Uses the test database. Migrating it seeds an `anthropic` provider (routing.signals),
so the tests that are about the default provider remove or change it first.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from routing import crypto, snapshot
from routing.agents import fingerprint
from routing.config import CredentialConfig, TargetRef
from routing.models import (
    AgentDefinition,
    ConfigVersion,
    Credential,
    ModelAlias,
    Provider,
    RoutingRule,
    SubagentMapping,
)
from routing.subagents import METHOD_NONE, METHOD_PREFIX

REVIEWER_BODY = "You are a senior code reviewer. Find real problems."
GONE_BODY = "You are an agent whose file was deleted."


def make_provider(name: str, wire_format: str = "openai", **kw) -> Provider:
    return Provider.objects.create(
        name=name, wire_format=wire_format, base_url=f"https://{name}.example", **kw
    )


def credential(provider: Provider, label: str, secret: str, **kw) -> Credential:
    cred = Credential(provider=provider, label=label, **kw)
    cred.set_secret(secret)
    cred.save()
    return cred


def config_version() -> int:
    return ConfigVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def system_for(body: str) -> list[dict[str, str]]:
    return [
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
        {"type": "text", "text": f"{body}\n\nNotes:\n- Agent threads always have their cwd reset."},
    ]


@pytest.fixture
def anthropic(db) -> Provider:
    """The provider the migration seeded."""
    return Provider.objects.get(name="anthropic")


@pytest.fixture
def openai(db) -> Provider:
    return make_provider("openai")


@pytest.fixture
def reviewer(db) -> AgentDefinition:
    return AgentDefinition.objects.create(
        name="code-reviewer",
        body=REVIEWER_BODY,
        fingerprint=fingerprint(REVIEWER_BODY),
        source=AgentDefinition.SOURCE_DISCOVERED,
    )


# --- providers -------------------------------------------------------------------------------


def test_it_reads_enabled_providers_with_their_settings(anthropic: Provider) -> None:
    make_provider(
        "groq",
        preset="groq",
        connect_timeout=2.5,
        read_timeout=30.0,
        extra_headers={"x-team": "a", "x-app": "switchboard"},
    )
    config = snapshot.build()
    groq = config.providers["groq"]
    assert groq.wire_format == "openai"
    assert groq.base_url == "https://groq.example"
    assert groq.preset == "groq"
    assert (groq.connect_timeout, groq.read_timeout) == (2.5, 30.0)
    assert groq.extra_headers == (("x-app", "switchboard"), ("x-team", "a"))
    assert set(config.providers) == {"anthropic", "groq"}


def test_it_uses_the_default_timeouts_when_a_provider_has_none(anthropic: Provider) -> None:
    config = snapshot.build()
    assert config.providers["anthropic"].connect_timeout == settings.SWITCHBOARD_CONNECT_TIMEOUT
    assert config.providers["anthropic"].read_timeout == settings.SWITCHBOARD_READ_TIMEOUT


def test_it_leaves_out_disabled_providers(anthropic: Provider) -> None:
    make_provider("groq", enabled=False)
    assert "groq" not in snapshot.build().providers


def test_it_carries_the_stored_config_version(anthropic: Provider) -> None:
    ConfigVersion.objects.filter(pk=1).update(version=41)
    assert snapshot.build().version == 41


def test_it_takes_background_models_from_settings(anthropic: Provider) -> None:
    assert snapshot.build().background_models == tuple(settings.SWITCHBOARD_BACKGROUND_MODELS)


# --- credentials ---------------------------------------------------------------------------


def test_it_decrypts_credentials_in_label_order(openai: Provider) -> None:
    credential(openai, "team-b", "sk-bbbbbbbbbbbb")
    credential(openai, "team-a", "sk-aaaaaaaaaaaa", weight=2)
    assert snapshot.build().providers["openai"].credentials == (
        CredentialConfig("team-a", "sk-aaaaaaaaaaaa", 2),
        CredentialConfig("team-b", "sk-bbbbbbbbbbbb", 1),
    )


def test_it_stores_credentials_encrypted(openai: Provider) -> None:
    cred = credential(openai, "team-a", "sk-secret-value")
    assert "sk-secret-value" not in cred.encrypted_secret
    assert crypto.decrypt(cred.encrypted_secret) == "sk-secret-value"


def test_it_leaves_out_disabled_credentials(openai: Provider) -> None:
    credential(openai, "off", "sk-off", enabled=False)
    credential(openai, "on", "sk-on")
    labels = [c.label for c in snapshot.build().providers["openai"].credentials]
    assert labels == ["on"]


def test_it_gives_a_zero_weight_credential_weight_one(openai: Provider) -> None:
    credential(openai, "team-a", "sk-a", weight=0)
    assert snapshot.build().providers["openai"].credentials[0].weight == 1


def test_it_skips_a_credential_it_cannot_decrypt(openai: Provider, caplog) -> None:
    Credential.objects.create(provider=openai, label="broken", encrypted_secret="garbage")
    credential(openai, "good", "sk-good")
    config = snapshot.build()
    assert config.providers["openai"].credentials == (CredentialConfig("good", "sk-good", 1),)
    assert "broken" in caplog.text
    assert "garbage" not in caplog.text


def test_it_keeps_the_provider_when_its_only_credential_is_unreadable(openai: Provider) -> None:
    Credential.objects.create(provider=openai, label="broken", encrypted_secret="garbage")
    assert snapshot.build().providers["openai"].credentials == ()


# --- aliases, mappings, rules ---------------------------------------------------------------


def test_it_reads_enabled_aliases_and_leaves_out_disabled_ones(openai: Provider) -> None:
    ModelAlias.objects.create(alias="fast", provider=openai, target_model="gpt-4o-mini")
    ModelAlias.objects.create(alias="off", provider=openai, target_model="x", enabled=False)
    aliases = snapshot.build().aliases
    assert set(aliases) == {"fast"}
    assert (aliases["fast"].provider, aliases["fast"].model) == ("openai", "gpt-4o-mini")


def test_it_reads_enabled_mappings_and_leaves_out_disabled_ones(
    openai: Provider, reviewer: AgentDefinition
) -> None:
    planner = AgentDefinition.objects.create(name="planner", body="Plan.", fingerprint="x")
    SubagentMapping.objects.create(agent=reviewer, provider=openai, target_model="gpt-4o")
    SubagentMapping.objects.create(agent=planner, provider=openai, target_model="o3", enabled=False)
    mappings = snapshot.build().mappings
    assert set(mappings) == {"code-reviewer"}
    assert (mappings["code-reviewer"].provider, mappings["code-reviewer"].model) == (
        "openai",
        "gpt-4o",
    )


def test_it_reads_enabled_rules_sorted_by_priority_then_name(openai: Provider) -> None:
    for name, priority in [("zeta", 10), ("beta", 20), ("alpha", 10), ("first", 1)]:
        RoutingRule.objects.create(name=name, priority=priority, provider=openai)
    RoutingRule.objects.create(name="off", priority=0, provider=openai, enabled=False)
    assert [r.name for r in snapshot.build().rules] == ["first", "alpha", "zeta", "beta"]


def test_it_reads_every_rule_condition(openai: Provider) -> None:
    RoutingRule.objects.create(
        name="all",
        priority=5,
        provider=openai,
        target_model="gpt-4.1",
        model_glob="claude-*",
        subagent="*",
        thinking="yes",
        min_input_tokens=60_000,
        tool="web_search*",
        header_name="x-team",
        header_value="blue*",
        background="no",
        sticky=False,
    )
    RoutingRule.objects.create(name="blank", provider=openai)
    all_, blank = snapshot.build().rules
    assert (all_.provider, all_.model, all_.model_glob, all_.subagent) == (
        "openai",
        "gpt-4.1",
        "claude-*",
        "*",
    )
    assert (all_.thinking, all_.background, all_.min_input_tokens) == (True, False, 60_000)
    assert (all_.tool, all_.header_name, all_.header_value) == ("web_search*", "x-team", "blue*")
    assert all_.sticky is False
    assert (blank.model, blank.thinking, blank.background, blank.min_input_tokens) == (
        "",
        None,
        None,
        None,
    )


def test_it_parses_fallbacks_into_target_refs(
    anthropic: Provider, openai: Provider, reviewer: AgentDefinition
) -> None:
    fallbacks = ["anthropic:claude-sonnet-4-5", " groq : llama-3.3-70b "]
    expected = (TargetRef("anthropic", "claude-sonnet-4-5"), TargetRef("groq", "llama-3.3-70b"))
    ModelAlias.objects.create(alias="a", provider=openai, target_model="m", fallbacks=fallbacks)
    SubagentMapping.objects.create(
        agent=reviewer, provider=openai, target_model="m", fallbacks=fallbacks
    )
    RoutingRule.objects.create(name="r", provider=openai, fallbacks=fallbacks)
    config = snapshot.build()
    assert config.aliases["a"].fallbacks == expected
    assert config.mappings["code-reviewer"].fallbacks == expected
    assert config.rules[0].fallbacks == expected


def test_it_ignores_malformed_fallbacks_without_failing(openai: Provider) -> None:
    RoutingRule.objects.create(name="bad", provider=openai, fallbacks=["no-colon"])
    RoutingRule.objects.create(name="worse", provider=openai, fallbacks={"not": "a list"})
    assert [r.fallbacks for r in snapshot.build().rules] == [(), ()]


# --- the subagent matcher ---------------------------------------------------------------


def test_it_matches_agents_that_are_present(reviewer: AgentDefinition) -> None:
    match = snapshot.build().matcher.match(system_for(REVIEWER_BODY), {})
    assert match.method == METHOD_PREFIX
    assert match.agent is not None and match.agent.name == "code-reviewer"


def test_it_ignores_agents_that_are_not_present(db) -> None:
    AgentDefinition.objects.create(
        name="gone", body=GONE_BODY, fingerprint=fingerprint(GONE_BODY), present=False
    )
    match = snapshot.build().matcher.match(system_for(GONE_BODY), {})
    assert match.agent is None
    assert match.method == METHOD_NONE


# --- the default provider ----------------------------------------------------------------


def test_it_uses_the_provider_marked_default(anthropic: Provider) -> None:
    make_provider("openai", is_default=True)
    assert snapshot.build().default_provider == "openai"


def test_it_falls_back_to_anthropic_without_a_marked_default(anthropic: Provider) -> None:
    Provider.objects.update(is_default=False)
    make_provider("aaa-anthropic-format", wire_format="anthropic")
    assert snapshot.build().default_provider == "anthropic"


def test_it_ignores_a_default_mark_on_a_disabled_provider(anthropic: Provider) -> None:
    Provider.objects.filter(pk=anthropic.pk).update(is_default=False)
    make_provider("openai", is_default=True, enabled=False)
    assert snapshot.build().default_provider == "anthropic"


def test_it_falls_back_to_the_first_anthropic_format_provider(anthropic: Provider) -> None:
    anthropic.delete()
    make_provider("openai")
    make_provider("zz-claude", wire_format="anthropic")
    make_provider("bedrock-proxy", wire_format="anthropic")
    assert snapshot.build().default_provider == "bedrock-proxy"


def test_it_has_no_default_with_only_openai_format_providers(anthropic: Provider) -> None:
    anthropic.delete()
    make_provider("openai")
    assert snapshot.build().default_provider is None


def test_it_does_not_fall_back_to_a_disabled_anthropic(anthropic: Provider) -> None:
    Provider.objects.filter(pk=anthropic.pk).update(is_default=False, enabled=False)
    make_provider("other", wire_format="anthropic")
    assert snapshot.build().default_provider == "other"


# --- config version and reload -------------------------------------------------------------


def test_it_bumps_the_config_version_when_a_provider_is_saved(anthropic: Provider) -> None:
    before = config_version()
    anthropic.base_url = "https://elsewhere.example"
    anthropic.save()
    assert config_version() == before + 1
    make_provider("openai")
    assert config_version() == before + 2


def test_it_bumps_the_config_version_when_a_provider_is_deleted(anthropic: Provider) -> None:
    before = config_version()
    make_provider("openai").delete()
    assert config_version() == before + 2


@pytest.mark.parametrize("kind", ["rule", "alias", "credential"])
def test_it_bumps_the_config_version_for_other_config_rows(openai: Provider, kind: str) -> None:
    before = config_version()
    if kind == "rule":
        RoutingRule.objects.create(name="r", provider=openai)
    elif kind == "alias":
        ModelAlias.objects.create(alias="a", provider=openai, target_model="m")
    else:
        credential(openai, "team-a", "sk-a")
    assert config_version() == before + 1


@pytest.fixture
def fresh_snapshot(monkeypatch) -> None:
    """Start with no loaded copy; the module's copy is put back afterwards."""
    monkeypatch.setattr(snapshot, "_current", None)


def test_it_reloads_the_snapshot_after_a_save_commits(transactional_db, fresh_snapshot) -> None:
    first = snapshot.load()
    assert snapshot.current() is first
    assert "openai" not in first.providers
    make_provider("openai")
    reloaded = snapshot.current()
    assert reloaded is not first
    assert "openai" in reloaded.providers
    assert reloaded.version == config_version() > first.version


def test_it_reloads_the_snapshot_after_a_provider_is_disabled(
    transactional_db, fresh_snapshot
) -> None:
    provider = make_provider("openai")
    assert "openai" in snapshot.current().providers
    provider.enabled = False
    provider.save()
    assert "openai" not in snapshot.current().providers


def test_it_does_not_reload_before_the_transaction_commits(
    transactional_db, fresh_snapshot
) -> None:
    from django.db import transaction

    first = snapshot.load()
    with transaction.atomic():
        make_provider("openai")
        assert snapshot.current() is first
    assert "openai" in snapshot.current().providers
