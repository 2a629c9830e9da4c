"""Config files: `importconfig` / `exportconfig` and routing.config_io behind them."""

from __future__ import annotations

import os
import re
import stat
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from routing.agent_sync import sync_agents
from routing.agents import ScanResult, parse_agent_file
from routing.config_io import ConfigError, apply_config, export_config, load_config_document
from routing.models import (
    AgentDefinition,
    ConfigVersion,
    Credential,
    ModelAlias,
    Provider,
    RoutingRule,
    SubagentMapping,
)

FIXTURES = Path(__file__).parent / "fixtures" / "config"
KEY_A = "sk-team-a-0000111122223333"
KEY_B = "sk-team-b-4444555566667777"
GO_PROXY_KEY = "sk-go-proxy-test-0123456789"


@pytest.fixture
def openai_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables tests/fixtures/config/switchboard.yaml references."""
    monkeypatch.setenv("OPENAI_KEY_A", KEY_A)
    monkeypatch.setenv("OPENAI_KEY_B", KEY_B)
    monkeypatch.delenv("GEMINI_KEY", raising=False)


def run(command: str, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def import_file(path: Path | str, *args: str) -> tuple[str, str]:
    return run("importconfig", str(path), *args)


def import_text(tmp_path: Path, text: str, *args: str) -> tuple[str, str]:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return import_file(path, *args)


def failed_import(tmp_path: Path, text: str, *args: str) -> str:
    """stderr of an import that must fail."""
    err = StringIO()
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("importconfig", str(path), *args, stdout=StringIO(), stderr=err)
    return err.getvalue()


def config_version() -> int:
    row = ConfigVersion.objects.order_by("pk").first()
    return row.version if row else 0


def database_state() -> dict[str, Any]:
    """Every config row as plain values (no ids, timestamps or ciphertexts)."""
    return {
        "providers": sorted(
            Provider.objects.values_list(
                "name",
                "wire_format",
                "preset",
                "base_url",
                "enabled",
                "is_default",
                "connect_timeout",
                "read_timeout",
                "extra_headers",
            )
        ),
        "credentials": sorted(
            (c.provider.name, c.label, c.secret(), c.weight, c.enabled)
            for c in Credential.objects.select_related("provider")
        ),
        "aliases": sorted(
            ModelAlias.objects.values_list(
                "alias", "provider__name", "target_model", "fallbacks", "enabled"
            )
        ),
        "agents": sorted(
            AgentDefinition.objects.values_list(
                "name",
                "description",
                "declared_model",
                "tools",
                "body",
                "fingerprint",
                "source",
                "present",
            )
        ),
        "mappings": sorted(
            SubagentMapping.objects.values_list(
                "agent__name", "provider__name", "target_model", "fallbacks", "enabled"
            )
        ),
        "rules": sorted(
            RoutingRule.objects.values_list(
                "name",
                "priority",
                "enabled",
                "model_glob",
                "subagent",
                "thinking",
                "min_input_tokens",
                "tool",
                "header_name",
                "header_value",
                "background",
                "provider__name",
                "target_model",
                "fallbacks",
                "sticky",
            )
        ),
    }


def target_of(row: ModelAlias | SubagentMapping | RoutingRule) -> str:
    return f"{row.provider.name}:{row.target_model}"


# --- The Go proxy's format ---------------------------------------------------------


def test_it_imports_the_go_proxy_sample_config(db) -> None:
    out, err = import_file(FIXTURES / "go_proxy.yaml")

    openai = Provider.objects.get(name="openai")
    assert (openai.wire_format, openai.base_url) == ("openai", "https://api.openai.com")
    assert Provider.objects.get(name="anthropic").wire_format == "anthropic"
    [credential] = openai.credentials.all()
    assert (credential.label, credential.secret()) == ("default", GO_PROXY_KEY)
    mappings = {m.agent.name: m for m in SubagentMapping.objects.select_related("agent")}
    assert {name: target_of(m) for name, m in mappings.items()} == {
        "code-reviewer": "openai:gpt-4o",
        "data-analyst": "openai:o3",
        "doc-writer": "anthropic:claude-3-5-haiku-20241022",
    }
    assert all(m.enabled for m in mappings.values())
    assert "waiting for agent file: code-reviewer, data-analyst, doc-writer" in out
    assert "go_proxy.yaml:5: server: ignored" in err
    assert "go_proxy.yaml:24: storage: ignored" in err
    assert "go_proxy.yaml:17: providers.anthropic.max_retries: ignored" in err
    assert "go_proxy.yaml:33: subagents.mappings.code-reviewer: 'gpt-4o' names no provider" in err


def test_it_imports_the_go_proxy_example_with_formats_and_a_fallback_provider(db) -> None:
    import_file(FIXTURES / "go_proxy_formats.yaml")

    localllm = Provider.objects.get(name="localllm")
    assert (localllm.wire_format, localllm.base_url) == ("openai", "http://localhost:1234")
    assert list(Provider.objects.filter(is_default=True).values_list("name", flat=True)) == [
        "anthropic"
    ]
    planner = SubagentMapping.objects.get(agent__name="planner")
    assert target_of(planner) == "localllm:my-local-agent"


def test_it_creates_placeholder_agents_that_the_disk_scan_fills_in(db) -> None:
    import_file(FIXTURES / "go_proxy.yaml")
    placeholder = AgentDefinition.objects.get(name="code-reviewer")
    assert (placeholder.present, placeholder.body, placeholder.fingerprint) == (False, "", "")

    agent = parse_agent_file("---\nname: code-reviewer\n---\nReview code.\n", "code-reviewer.md")
    sync_agents(ScanResult(agents={"code-reviewer": agent}, errors=[], changed=True))

    placeholder.refresh_from_db()
    assert (placeholder.present, placeholder.body) == (True, "Review code.")
    assert SubagentMapping.objects.get(agent=placeholder).enabled


def test_it_imports_mappings_disabled_when_subagent_routing_is_off(db, tmp_path) -> None:
    _, err = import_text(
        tmp_path,
        "providers:\n  openai: {api_key: sk-x}\n"
        "subagents:\n  mappings:\n    code-reviewer: gpt-4o\n",
    )

    assert not SubagentMapping.objects.get(agent__name="code-reviewer").enabled
    assert "config.yaml:3: subagents: no 'enable'" in err


# --- Our format -------------------------------------------------------------------


def test_it_imports_the_switchboard_sample_config(db, openai_keys) -> None:
    out, _ = import_file(FIXTURES / "switchboard.yaml")

    openai = Provider.objects.get(name="openai")
    assert (openai.preset, openai.base_url) == ("openai", "https://api.openai.com/v1")
    assert (openai.connect_timeout, openai.read_timeout) == (5.0, 600.0)
    assert openai.extra_headers == {"x-team": "platform"}
    assert [(c.label, c.secret(), c.weight) for c in openai.credentials.order_by("label")] == [
        ("team-a", KEY_A, 2),
        ("team-b", KEY_B, 1),
    ]
    gemini = Provider.objects.get(name="gemini")
    assert not gemini.enabled
    assert gemini.base_url == "https://generativelanguage.googleapis.com/v1beta/openai/"
    assert Provider.objects.get(is_default=True).name == "anthropic"

    smart = ModelAlias.objects.get(alias="smart")
    assert (target_of(smart), smart.fallbacks) == ("anthropic:claude-opus-4-5", ["openai:gpt-4.1"])
    assert target_of(ModelAlias.objects.get(alias="fast")) == "openai:gpt-4o-mini"

    planner = SubagentMapping.objects.get(agent__name="planner")
    assert (planner.enabled, planner.fallbacks) == (False, ["anthropic:claude-sonnet-4-5"])
    reviewer = AgentDefinition.objects.get(name="code-reviewer")
    assert (reviewer.source, reviewer.present, reviewer.tools) == (
        "uploaded",
        True,
        ["Read", "Grep"],
    )
    assert reviewer.body == "You are a meticulous code reviewer.\nPoint out bugs first."

    rules = {r.name: r for r in RoutingRule.objects.select_related("provider")}
    assert [r.name for r in RoutingRule.objects.all()] == [
        "long-context",
        "background",
        "team-header",
    ]
    assert rules["long-context"].min_input_tokens == 60000
    assert rules["long-context"].fallbacks == ["anthropic:claude-sonnet-5-5"]
    assert rules["background"].model_glob == "*haiku*"
    header = rules["team-header"]
    assert (header.header_name, header.header_value) == ("x-team", "research*")
    assert (header.thinking, header.background, header.sticky) == ("yes", "no", False)
    assert (header.provider.name, header.target_model) == ("anthropic", "")
    assert "waiting for agent file: planner" in out
    assert "rules:       3 created" in out


def test_it_expands_environment_variables_and_their_defaults(db, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("UPSTREAM_HOST", "llm.internal")
    monkeypatch.setenv("EMPTY_VAR", "")
    import_text(
        tmp_path,
        "providers:\n"
        "  local:\n"
        "    format: openai\n"
        '    base_url: "http://${UPSTREAM_HOST}:${UPSTREAM_PORT:-8080}/v1"\n'
        "    api_key: ${EMPTY_VAR:-sk-fallback}\n"
        '    extra_headers: {x-literal: "$${NOT_EXPANDED}"}\n',
    )

    local = Provider.objects.get(name="local")
    assert local.base_url == "http://llm.internal:8080/v1"
    assert local.credentials.get().secret() == "sk-fallback"
    assert local.extra_headers == {"x-literal": "${NOT_EXPANDED}"}


def test_it_reports_a_missing_environment_variable_with_its_line(db, tmp_path) -> None:
    text = "providers:\n  openai:\n    format: openai\n    api_key: ${NO_SUCH_KEY}\n"

    with pytest.raises(ConfigError) as caught:
        load_config_document(text, env={})
    assert caught.value.errors == [
        "config.yaml:4: providers.openai.api_key: environment variable NO_SUCH_KEY is not set"
    ]
    assert "config.yaml:4: providers.openai.api_key: environment variable NO_SUCH_KEY" in (
        failed_import(tmp_path, text)
    )


def test_it_accepts_yaml_anchors_kept_under_x_keys(db, tmp_path) -> None:
    import_text(
        tmp_path,
        "x-local: &local {format: openai, timeouts: {read: 1m30s}}\n"
        "providers:\n"
        "  ollama: {<<: *local, base_url: 'http://localhost:11434/v1'}\n"
        "  vllm: {<<: *local, base_url: 'http://localhost:8000/v1'}\n",
    )

    assert list(
        Provider.objects.filter(name__in=["ollama", "vllm"]).values_list("name", "read_timeout")
    ) == [("ollama", 90.0), ("vllm", 90.0)]


def test_it_allows_targets_to_providers_already_in_the_database(db, tmp_path) -> None:
    import_text(tmp_path, 'aliases:\n  big: "anthropic:claude-opus-4-5"\n')

    assert target_of(ModelAlias.objects.get(alias="big")) == "anthropic:claude-opus-4-5"


# --- Invalid files ------------------------------------------------------------------

INVALID_FILES = {
    "a bad format value": (
        "providers:\n  openai:\n    base_url: https://api.openai.com\n    format: openapi\n",
        "config.yaml:4: providers.openai.format: must be anthropic or openai",
    ),
    "an unknown key": (
        "providers:\n  openai:\n    format: openai\n    apikey: sk-typo\n",
        "config.yaml:4: providers.openai.apikey: unknown key 'apikey'",
    ),
    "a target to an unknown provider": (
        'providers:\n  openai: {format: openai}\naliases:\n  fast: "opneai:gpt-4o-mini"\n',
        "config.yaml:4: aliases.fast: unknown provider 'opneai'",
    ),
    "bad YAML": (
        "providers:\n  openai:\n    format: openai\n  base_url: [unclosed\n",
        "config.yaml:5: invalid YAML",
    ),
    "a fallback to an unknown provider": (
        "providers:\n  openai: {format: openai}\nrules:\n  - name: r\n    target: openai\n"
        "    fallbacks:\n      - nowhere:model\n",
        "config.yaml:7: rules[0].fallbacks[0]: unknown provider 'nowhere'",
    ),
    "a duplicate key": (
        "providers:\n  openai: {format: openai}\n  openai: {format: anthropic}\n",
        "config.yaml:3: duplicate key 'openai'",
    ),
    "a file that is not a mapping": ("- providers\n", "config.yaml:1: must be a mapping"),
}


@pytest.mark.parametrize("text, error", INVALID_FILES.values(), ids=INVALID_FILES.keys())
def test_it_rejects_an_invalid_file_with_line_numbers_and_changes_nothing(
    db, tmp_path, text: str, error: str
) -> None:
    state, version = database_state(), config_version()

    assert error in failed_import(tmp_path, text)
    assert database_state() == state
    assert config_version() == version


def test_it_reports_every_error_of_a_file_at_once(db, tmp_path) -> None:
    text = (
        "providers:\n"  # 1
        "  openai:\n"  # 2
        "    format: openapi\n"  # 3
        "    timeouts: {connect: soon}\n"  # 4
        "    accounts:\n"  # 5
        "      - {api_key: sk-1, weight: 0}\n"  # 6
        "aliases:\n"  # 7
        "  fast: gpt-4o-mini\n"  # 8
        "rules:\n"  # 9
        "  - name: r\n"  # 10
        "    when: {thinking: maybe, colour: red}\n"  # 11
        "    target: openai:gpt-4o\n"  # 12
        "extras: true\n"  # 13
    )

    with pytest.raises(ConfigError) as caught:
        load_config_document(text, env={})

    assert [error.split(": ")[0:2] for error in caught.value.errors] == [
        ["config.yaml:3", "providers.openai.format"],
        ["config.yaml:4", "providers.openai.timeouts.connect"],
        ["config.yaml:6", "providers.openai.accounts[0].label"],
        ["config.yaml:6", "providers.openai.accounts[0].weight"],
        ["config.yaml:8", "aliases.fast"],
        ["config.yaml:11", "rules[0].when.colour"],
        ["config.yaml:11", "rules[0].when.thinking"],
        ["config.yaml:13", "extras"],
    ]


def test_it_changes_nothing_when_a_new_account_has_no_key(db, tmp_path) -> None:
    state, version = database_state(), config_version()
    text = "providers:\n  openai:\n    format: openai\n    accounts:\n      - {label: a}\n"

    assert "config.yaml:5: providers.openai.accounts[0]: api_key: required for a new account" in (
        failed_import(tmp_path, text)
    )
    assert database_state() == state
    assert config_version() == version


def test_it_rejects_an_empty_file(db, tmp_path) -> None:
    assert "config.yaml:1: the file is empty" in failed_import(tmp_path, "# nothing\n")


# --- Replace and dry run ------------------------------------------------------------


def test_it_keeps_what_the_file_does_not_mention_without_replace(db, openai_keys, tmp_path) -> None:
    import_file(FIXTURES / "switchboard.yaml")

    import_text(tmp_path, "providers:\n  openai:\n    format: openai\n    api_key: sk-new\n")

    assert Provider.objects.filter(name="gemini").exists()
    assert RoutingRule.objects.count() == 3
    labels = set(Credential.objects.filter(provider__name="openai").values_list("label", flat=True))
    assert labels == {"default", "team-a", "team-b"}


def test_it_deletes_what_the_file_does_not_mention_with_replace(db, openai_keys, tmp_path) -> None:
    import_file(FIXTURES / "switchboard.yaml")

    out, _ = import_text(
        tmp_path,
        "default_provider: openai\n"
        "providers:\n  openai:\n    format: openai\n    accounts: [{label: team-a, weight: 2}]\n"
        'aliases:\n  fast: "openai:gpt-4o-mini"\n',
        "--replace",
    )

    assert list(Provider.objects.values_list("name", "is_default")) == [("openai", True)]
    assert list(Credential.objects.values_list("label", flat=True)) == ["team-a"]
    assert Credential.objects.get().secret() == KEY_A  # kept: the file gives no key
    assert list(ModelAlias.objects.values_list("alias", flat=True)) == ["fast"]
    assert not RoutingRule.objects.exists()
    assert not SubagentMapping.objects.exists()
    assert AgentDefinition.objects.filter(name="code-reviewer").exists()  # agents stay
    assert "providers:   0 created, 1 updated, 0 unchanged, 2 deleted" in out
    assert "credentials: 0 created, 0 updated, 1 unchanged, 2 deleted" in out
    assert "rules:       0 created, 0 updated, 0 unchanged, 3 deleted" in out


def test_it_refuses_to_replace_away_a_provider_the_file_targets(db, tmp_path) -> None:
    err = failed_import(tmp_path, 'aliases:\n  big: "anthropic:claude-opus-4-5"\n', "--replace")

    assert "config.yaml:2: aliases.big: unknown provider 'anthropic'" in err
    assert Provider.objects.filter(name="anthropic").exists()


def test_it_changes_nothing_on_a_dry_run(db, openai_keys) -> None:
    state, version = database_state(), config_version()

    out, _ = import_file(FIXTURES / "switchboard.yaml", "--dry-run", "--replace")

    assert "Dry run of" in out
    assert "rules:       3 created" in out
    assert database_state() == state
    assert config_version() == version


def test_it_validates_on_a_dry_run(db, tmp_path) -> None:
    err = failed_import(tmp_path, "providers:\n  x: {format: grpc}\n", "--dry-run")

    assert "config.yaml:2: providers.x.format: must be anthropic or openai" in err


# --- Export ---------------------------------------------------------------------------


def test_it_exports_without_secrets_by_default(db, openai_keys) -> None:
    import_file(FIXTURES / "switchboard.yaml")
    ciphertexts = list(Credential.objects.values_list("encrypted_secret", flat=True))

    out, _ = run("exportconfig")

    assert "api_key" not in out
    for secret in (KEY_A, KEY_B, "gm-default-key", KEY_A[-4:]):
        assert secret not in out
    assert not any(token in out for token in ciphertexts)
    assert "label: team-a" in out


def test_it_exports_secrets_only_when_asked(db, openai_keys) -> None:
    import_file(FIXTURES / "switchboard.yaml")

    out, _ = run("exportconfig", "--with-secrets")

    assert f"api_key: {KEY_A}" in out
    assert f"api_key: {KEY_B}" in out


def test_it_writes_an_export_with_secrets_readable_by_its_owner_only(
    db, openai_keys, tmp_path
) -> None:
    import_file(FIXTURES / "switchboard.yaml")
    path = tmp_path / "export.yaml"

    out, _ = run("exportconfig", "--with-secrets", "-o", str(path))

    assert out == ""
    assert KEY_A in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_it_exports_in_a_stable_order(db, openai_keys) -> None:
    import_file(FIXTURES / "switchboard.yaml")

    assert export_config() == export_config()
    text = export_config()
    assert text.index("  anthropic:") < text.index("  gemini:") < text.index("  openai:")
    assert text.index("long-context") < text.index("name: background")


def test_it_round_trips_export_and_import_to_the_same_database(db, openai_keys, tmp_path) -> None:
    import_file(FIXTURES / "switchboard.yaml")
    AgentDefinition.objects.create(
        name="shell-helper", body="Use ${HOME} in paths.", fingerprint="f" * 16
    )
    RoutingRule.objects.create(
        name="subagents-to-local",
        priority=5,
        enabled=False,
        subagent="*",
        tool="web_search*",
        provider=Provider.objects.get(name="openai"),
        target_model="gpt-4o",
    )
    before = database_state()
    exported = tmp_path / "export.yaml"
    run("exportconfig", "--with-secrets", "-o", str(exported))

    Provider.objects.all().delete()
    AgentDefinition.objects.all().delete()
    import_file(exported, "--replace")

    after = database_state()
    # The test created shell-helper with a made-up fingerprint; import computes the real one.
    before["agents"] = [a for a in before["agents"] if a[0] != "shell-helper"]
    shell_helper = AgentDefinition.objects.get(name="shell-helper")
    assert shell_helper.body == "Use ${HOME} in paths."
    after["agents"] = [a for a in after["agents"] if a[0] != "shell-helper"]
    assert after == before


def test_it_reports_a_reimported_export_as_unchanged(db, openai_keys, tmp_path) -> None:
    import_file(FIXTURES / "switchboard.yaml")
    state, version = database_state(), config_version()
    exported = tmp_path / "export.yaml"
    run("exportconfig", "-o", str(exported))

    out, _ = import_file(exported, "--replace")

    counts = [line for line in out.splitlines() if " created, " in line]
    assert len(counts) == 6
    assert all(re.search(r": +0 created, 0 updated, \d+ unchanged, 0 deleted$", c) for c in counts)
    assert database_state() == state
    assert config_version() == version


def test_it_round_trips_the_go_proxy_config(db, tmp_path) -> None:
    import_file(FIXTURES / "go_proxy.yaml")
    before = database_state()
    exported = tmp_path / "export.yaml"
    run("exportconfig", "--with-secrets", "-o", str(exported))

    Provider.objects.all().delete()
    AgentDefinition.objects.all().delete()
    import_file(exported, "--replace")

    assert database_state() == before


# --- Config version -------------------------------------------------------------------


def test_it_bumps_the_config_version_on_import(db, openai_keys) -> None:
    version = config_version()

    import_file(FIXTURES / "switchboard.yaml")

    assert config_version() > version


def test_it_applies_a_document_in_one_call(db) -> None:
    doc = load_config_document(
        "providers:\n  openai: {format: openai, api_key: sk-1}\n", env={}, source="inline.yaml"
    )

    report = apply_config(doc)

    assert report.counts()["providers"] == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
    }
    assert report.counts()["credentials"]["created"] == 1
