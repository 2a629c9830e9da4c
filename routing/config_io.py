"""Routing config files: read the Go claude-code-proxy's `config.yaml` or our superset, write ours.

Three steps, each usable alone:

- `load_config_document(text, env=...)` parses YAML, expands `${NAME}` and
  `${NAME:-default}`, and validates everything into a `ConfigDocument`. It
  does not touch the database and reports every problem at once, each as
  `FILE:LINE: path.to.key: message`.
- `apply_config(doc)` writes a document in one transaction (upserts by name;
  `replace=True` also deletes what the file does not mention).
- `export_config()` writes the database back in the superset format.

What is lost on import: the Go proxy's `server` and `storage` sections and
its providers' `version` and `max_retries` (settings of the Go process; each
is reported as a warning), and its environment overrides such as
OPENAI_API_KEY (write `api_key: ${OPENAI_API_KEY}` instead). What is lost on
export: API keys unless asked for, the bodies of agents discovered on disk
(they come back from disk), and row timestamps.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml
from django.db import transaction
from django.db.models import Model

from providers.openai.presets import PRESETS
from routing.agents import AgentFileError, fingerprint, normalise, parse_agent_file
from routing.models import (
    AgentDefinition,
    Credential,
    ModelAlias,
    Provider,
    RoutingRule,
    SubagentMapping,
)

# --- File format ---------------------------------------------------------------

WIRE_FORMAT_NAMES = ("anthropic", "openai")
#: A provider with one `api_key` and no `accounts` gets one credential of this label.
DEFAULT_CREDENTIAL_LABEL = "default"
DEFAULT_RULE_PRIORITY: int = RoutingRule._meta.get_field("priority").default
DEFAULT_WEIGHT: int = Credential._meta.get_field("weight").default
#: Go proxy defaults for the two providers it knows by name.
GO_PROXY_BASE_URLS = {
    "anthropic": "https://api.anthropic.com",
    "openai": "https://api.openai.com",
}
#: The Go proxy sent a mapping's bare model to the provider whose prefix it has; else anthropic.
GO_PROXY_MODEL_PREFIXES = (
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("claude-", "anthropic"),
)
GO_PROXY_DEFAULT_PROVIDER = "anthropic"

TOP_KEYS = (
    "default_provider",
    "fallback_provider",
    "providers",
    "aliases",
    "subagents",
    "rules",
    "agents",
)
PROVIDER_KEYS = (
    "format",
    "base_url",
    "preset",
    "api_key",
    "accounts",
    "timeouts",
    "extra_headers",
    "enabled",
)
ACCOUNT_KEYS = ("label", "api_key", "weight", "enabled")
TIMEOUT_KEYS = ("connect", "read")
TARGET_KEYS = ("target", "fallbacks", "enabled")
SUBAGENT_KEYS = ("enable", "mappings")
RULE_KEYS = ("name", "priority", "enabled", "when", "target", "fallbacks", "sticky")
WHEN_KEYS = ("model", "subagent", "thinking", "min_input_tokens", "tool", "header", "background")
HEADER_KEYS = ("name", "value")
AGENT_KEYS = ("name", "description", "model", "tools", "body", "file")

#: Top-level keys with this prefix are skipped: a place for YAML anchors (`x-common: &common`).
EXTENSION_PREFIX = "x-"
#: Go proxy keys that mean nothing here: accepted, skipped, and reported.
IGNORED_TOP_KEYS = {
    "server": "the Go proxy's own HTTP server settings; see SWITCHBOARD_* settings",
    "storage": "the Go proxy's request database; Switchboard logs to its own",
}
IGNORED_PROVIDER_KEYS = {
    "version": "clients send their own anthropic-version header",
    "max_retries": "Switchboard retries through fallbacks instead",
}

ENV_REFERENCE = re.compile(r"\$(\$?)\{([^}]*)\}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENV_DEFAULT_SEPARATOR = ":-"
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
SLUG = re.compile(r"[-a-zA-Z0-9_]+")
TRUE_WORDS = ("true", "yes", "on")
FALSE_WORDS = ("false", "no", "off")

KINDS = ("providers", "credentials", "agents", "aliases", "mappings", "rules")


class ConfigError(Exception):
    """A config file that cannot be imported; `errors` are `FILE:LINE: path: message` lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


# --- What a file says ----------------------------------------------------------


@dataclass(frozen=True)
class AccountSpec:
    label: str
    api_key: str | None  # None: keep the stored key (an exported file has none)
    weight: int
    enabled: bool
    where: str


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    wire_format: str
    base_url: str
    preset: str
    enabled: bool
    connect_timeout: float | None
    read_timeout: float | None
    extra_headers: dict[str, str]
    accounts: tuple[AccountSpec, ...]
    where: str


@dataclass(frozen=True)
class AliasSpec:
    alias: str
    provider: str
    model: str
    fallbacks: list[str]
    enabled: bool


@dataclass(frozen=True)
class MappingSpec:
    agent: str
    provider: str
    model: str
    fallbacks: list[str]
    enabled: bool


@dataclass(frozen=True)
class RuleSpec:
    name: str
    priority: int
    enabled: bool
    model_glob: str
    subagent: str
    thinking: str
    min_input_tokens: int | None
    tool: str
    header_name: str
    header_value: str
    background: str
    provider: str
    model: str
    fallbacks: list[str]
    sticky: bool


@dataclass(frozen=True)
class AgentSpec:
    name: str
    description: str
    declared_model: str
    tools: list[str]
    body: str


@dataclass
class ConfigDocument:
    """A validated config file. `external_providers`: providers it names but does not define."""

    source: str
    default_provider: str | None = None
    providers: list[ProviderSpec] = field(default_factory=list)
    aliases: list[AliasSpec] = field(default_factory=list)
    mappings: list[MappingSpec] = field(default_factory=list)
    rules: list[RuleSpec] = field(default_factory=list)
    agents: list[AgentSpec] = field(default_factory=list)
    #: (provider name, where it is named) for providers expected in the database.
    external_providers: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --- YAML with line numbers -----------------------------------------------------


class _LineDict(dict):
    """A YAML mapping that remembers its line and the line of each key (1-based)."""

    line: int = 1
    key_lines: dict[Any, int]


def _empty_mapping(line: int) -> _LineDict:
    empty = _LineDict()
    empty.line, empty.key_lines = line, {}
    return empty


class _LineList(list):
    """A YAML sequence that remembers its line and the line of each item (1-based)."""

    line: int = 1
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[tuple[int, str]] = []


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[_LineDict]:
    data = _LineDict()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    seen: set[str] = set()
    for key_node, _ in node.value:  # before merging: `<<` may legitimately be overridden
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            if key_node.value in seen:
                loader.duplicate_keys.append((key_node.start_mark.line + 1, key_node.value))
            seen.add(key_node.value)
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        data[key] = loader.construct_object(value_node)
        data.key_lines[key] = key_node.start_mark.line + 1


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[_LineList]:
    data = _LineList()
    data.line = node.start_mark.line + 1
    data.item_lines = [child.start_mark.line + 1 for child in node.value]
    yield data
    data.extend(loader.construct_object(child) for child in node.value)


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


@dataclass(frozen=True)
class _At:
    """Where a value is: its dotted path and line."""

    path: str
    line: int

    def key(self, mapping: _LineDict, key: Any) -> _At:
        path = f"{self.path}.{key}" if self.path else str(key)
        return _At(path, mapping.key_lines.get(key, mapping.line))

    def item(self, sequence: _LineList, index: int) -> _At:
        return _At(f"{self.path}[{index}]", sequence.item_lines[index])


# --- Validation -------------------------------------------------------------------


class _Reader:
    """Turns the parsed YAML into specs, collecting errors instead of stopping at the first."""

    def __init__(self, source: str, known_providers: Collection[str]) -> None:
        self.source = source
        self.known_providers = set(known_providers)
        self.defined_providers: set[str] = set()
        self.errors: list[str] = []
        self.doc = ConfigDocument(source=source)

    # Reporting

    def where(self, at: _At) -> str:
        return f"{self.source}:{at.line}: {at.path}" if at.path else f"{self.source}:{at.line}"

    def fail(self, at: _At, message: str) -> None:
        self.errors.append(f"{self.where(at)}: {message}")

    def warn(self, at: _At, message: str) -> None:
        self.doc.warnings.append(f"{self.where(at)}: {message}")

    # Shapes

    def mapping(
        self,
        value: Any,
        at: _At,
        allowed: tuple[str, ...] | None,
        ignored: Mapping[str, str] | None = None,
    ) -> _LineDict | None:
        """`value` as a mapping (null is empty); unknown keys are errors, ignored ones warnings."""
        if value is None:
            return _empty_mapping(at.line)
        if not isinstance(value, _LineDict):
            self.fail(at, f"must be a mapping, not {_type_name(value)}")
            return None
        for key in value:
            if not isinstance(key, str):
                self.fail(at.key(value, key), f"keys must be strings, not {_type_name(key)}")
            elif allowed is TOP_KEYS and key.startswith(EXTENSION_PREFIX):
                continue
            elif ignored and key in ignored:
                self.warn(at.key(value, key), f"ignored: {ignored[key]}")
            elif allowed is not None and key not in allowed:
                self.fail(
                    at.key(value, key),
                    f"unknown key {key!r} (expected one of: {', '.join(allowed)})",
                )
        return value

    def entries(self, mapping: _LineDict, at: _At) -> Iterator[tuple[str, Any, _At]]:
        for key, value in mapping.items():
            if isinstance(key, str):
                yield key, value, at.key(mapping, key)

    def items(self, value: Any, at: _At) -> Iterator[tuple[int, Any, _At]]:
        if value is None:
            return
        if not isinstance(value, _LineList):
            self.fail(at, f"must be a list, not {_type_name(value)}")
            return
        for index, item in enumerate(value):
            yield index, item, at.item(value, index)

    # Scalars (strings from `${NAME}` are accepted where numbers or booleans are expected)

    def string(
        self,
        value: Any,
        at: _At,
        *,
        required: bool = False,
        model_field: tuple[type[Model], str] | None = None,
    ) -> str:
        if value is None or value == "":
            if required:
                self.fail(at, "required")
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(at, f"must be a string, not {_type_name(value)}")
            return ""
        text = str(value).strip()
        if model_field is not None:
            limit = model_field[0]._meta.get_field(model_field[1]).max_length
            if limit is not None and len(text) > limit:
                self.fail(at, f"longer than {limit} characters")
        return text

    def boolean(self, value: Any, at: _At, default: bool) -> bool:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        self.fail(at, f"must be true or false, not {value!r}")
        return default

    def tri_state(self, value: Any, at: _At) -> str:
        if value is None or value == "":
            return ""
        return "yes" if self.boolean(value, at, default=False) else "no"

    def integer(self, value: Any, at: _At, *, minimum: int | None = None) -> int | None:
        if value is None:
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            number = int(value)
        if number is None:
            self.fail(at, f"must be a whole number, not {value!r}")
            return None
        if minimum is not None and number < minimum:
            self.fail(at, f"must be at least {minimum}, not {number}")
            return None
        return number

    def seconds(self, value: Any, at: _At) -> float | None:
        """Seconds as a number, or a Go duration such as `90s`, `10m`, `1m30s`."""
        if value is None:
            return None
        seconds: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str):
            text = value.strip()
            try:
                seconds = float(text)
            except ValueError:
                parts = DURATION_PART.findall(text)
                if parts and "".join(n + u for n, u in parts) == text:
                    seconds = sum(float(n) * DURATION_UNITS[u] for n, u in parts)
        if seconds is None or seconds <= 0:
            self.fail(
                at, f"must be a positive number of seconds or a duration like 30s, not {value!r}"
            )
            return None
        return seconds

    # Targets

    def provider_reference(self, name: str, at: _At) -> bool:
        if name in self.defined_providers:
            return True
        if name in self.known_providers:
            self.doc.external_providers.append((name, self.where(at)))
            return True
        defined = ", ".join(sorted(self.defined_providers | self.known_providers)) or "none"
        self.fail(at, f"unknown provider {name!r} (defined: {defined})")
        return False

    def target(
        self, value: Any, at: _At, *, model_optional: bool = False, go_bare_model: bool = False
    ) -> tuple[str, str] | None:
        """`provider:model` -> (provider, model); a rule may give just a provider (same model)."""
        text = self.string(value, at, required=True)
        if not text:
            return None
        provider, colon, model = (part.strip() for part in text.partition(":"))
        if not colon and go_bare_model:
            # The Go proxy's mappings name only a model and pick the provider by its prefix.
            model, provider = text, _go_proxy_provider_for(text)
            self.warn(at, f"{text!r} names no provider; using {provider!r}, as the Go proxy did")
        elif not colon and model_optional:
            provider, model = text, ""
        elif not provider or (not model and not model_optional):
            self.fail(at, f"{text!r} is not a target; write provider:model")
            return None
        if not self.provider_reference(provider, at):
            return None
        return provider, model

    def fallbacks(self, value: Any, at: _At) -> list[str]:
        result: list[str] = []
        for _, item, item_at in self.items(value, at):
            parsed = self.target(item, item_at)
            if parsed is not None:
                result.append(f"{parsed[0]}:{parsed[1]}")
        return result

    # Sections

    def read(self, data: Any) -> None:
        top = _At("", getattr(data, "line", 1))
        root = self.mapping(data, top, TOP_KEYS, IGNORED_TOP_KEYS)
        if root is None:
            return
        providers_value = root.get("providers")
        providers_at = top.key(root, "providers")
        providers = self.mapping(providers_value, providers_at, None)
        if providers is not None:
            # Every name counts as defined, even with errors inside, so targets don't cascade.
            self.defined_providers = {key for key in providers if isinstance(key, str)}
            for name, value, at in self.entries(providers, providers_at):
                self.provider(name, value, at)
        self.default_provider(root, top)
        if "aliases" in root:
            self.aliases(root["aliases"], top.key(root, "aliases"))
        if "subagents" in root:
            self.subagents(root["subagents"], top.key(root, "subagents"))
        if "rules" in root:
            self.rules(root["rules"], top.key(root, "rules"))
        if "agents" in root:
            self.agents(root["agents"], top.key(root, "agents"))

    def default_provider(self, root: _LineDict, top: _At) -> None:
        """`default_provider`, or the Go-style `fallback_provider`; both must agree."""
        named = [
            (self.string(root[key], top.key(root, key), required=True), top.key(root, key))
            for key in ("default_provider", "fallback_provider")
            if key in root
        ]
        if len({name for name, _ in named}) > 1:
            self.fail(named[1][1], "differs from default_provider; keep one of the two")
            return
        if not named or not named[0][0]:
            return
        name, at = named[0]
        if not self.provider_reference(name, at):
            return
        self.doc.default_provider = name
        spec = next((p for p in self.doc.providers if p.name == name), None)
        if spec is not None and not spec.enabled:
            self.fail(at, f"provider {name!r} is disabled and cannot be the default")

    def provider(self, name: str, value: Any, at: _At) -> None:
        data = self.mapping(value, at, PROVIDER_KEYS, IGNORED_PROVIDER_KEYS)
        if data is None:
            return
        errors_before = len(self.errors)
        if not SLUG.fullmatch(name) or len(name) > Provider._meta.get_field("name").max_length:
            self.fail(at, "a provider name may use only letters, digits, '-' and '_'")
        preset = self.string(data.get("preset"), at.key(data, "preset"))
        if preset and preset not in PRESETS:
            self.fail(
                at.key(data, "preset"), f"unknown preset {preset!r} (one of: {', '.join(PRESETS)})"
            )
        wire_format = self.string(data.get("format"), at.key(data, "format"))
        if not wire_format:
            wire_format = "openai" if preset else name if name in WIRE_FORMAT_NAMES else ""
            if not wire_format:
                self.fail(at, "format: required: anthropic or openai")
        elif wire_format not in WIRE_FORMAT_NAMES:
            self.fail(at.key(data, "format"), "must be anthropic or openai")
        if preset and wire_format == "anthropic":
            self.fail(at.key(data, "preset"), "presets apply to openai-format providers only")
        base_url = self.base_url(data, at, name, preset)
        timeouts_at = at.key(data, "timeouts")
        timeouts = self.mapping(data.get("timeouts"), timeouts_at, TIMEOUT_KEYS)
        if timeouts is None:  # reported; go on without
            timeouts = _empty_mapping(timeouts_at.line)
        connect_timeout = self.seconds(
            timeouts.get("connect"), timeouts_at.key(timeouts, "connect")
        )
        read_timeout = self.seconds(timeouts.get("read"), timeouts_at.key(timeouts, "read"))
        enabled = self.boolean(data.get("enabled"), at.key(data, "enabled"), True)
        headers = self.headers(data.get("extra_headers"), at.key(data, "extra_headers"))
        accounts = self.accounts(data, at)
        if name == "openai" and "api_key" not in data and "accounts" not in data:
            self.warn(
                at, "no api_key: the Go proxy read OPENAI_API_KEY; write api_key: ${OPENAI_API_KEY}"
            )
        if len(self.errors) > errors_before:
            return  # the file is rejected anyway; keep later checks from tripping on this one
        self.doc.providers.append(
            ProviderSpec(
                name=name,
                wire_format=wire_format,
                base_url=base_url,
                preset=preset,
                enabled=enabled,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                extra_headers=headers,
                accounts=tuple(accounts),
                where=self.where(at),
            )
        )

    def base_url(self, data: _LineDict, at: _At, name: str, preset: str) -> str:
        url_at = at.key(data, "base_url")
        url = self.string(data.get("base_url"), url_at, model_field=(Provider, "base_url"))
        if not url:
            url = PRESETS[preset].default_base_url if preset in PRESETS else ""
            url = url or GO_PROXY_BASE_URLS.get(name, "")
            if not url:
                self.fail(at, "base_url: required (no preset or known provider name gives one)")
            return url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.fail(url_at, f"{url!r} is not an http(s) URL")
        return url

    def headers(self, value: Any, at: _At) -> dict[str, str]:
        data = self.mapping(value, at, None)
        headers: dict[str, str] = {}
        if data is None:
            return headers
        for key, header_value, header_at in self.entries(data, at):
            if isinstance(header_value, bool) or not isinstance(header_value, str | int | float):
                self.fail(header_at, f"must be a string, not {_type_name(header_value)}")
            else:
                headers[key] = str(header_value)
        return headers

    def accounts(self, data: _LineDict, at: _At) -> list[AccountSpec]:
        key_at = at.key(data, "api_key")
        api_key = self.string(data.get("api_key"), key_at)
        if "accounts" not in data:
            if not api_key:
                return []
            where = self.where(key_at)
            return [AccountSpec(DEFAULT_CREDENTIAL_LABEL, api_key, DEFAULT_WEIGHT, True, where)]
        accounts_at = at.key(data, "accounts")
        if api_key:
            self.fail(key_at, "give api_key or accounts, not both")
        result: list[AccountSpec] = []
        labels: set[str] = set()
        for _, item, item_at in self.items(data["accounts"], accounts_at):
            account = self.mapping(item, item_at, ACCOUNT_KEYS)
            if account is None:
                continue
            label_at = item_at.key(account, "label")
            label = self.string(
                account.get("label"), label_at, required=True, model_field=(Credential, "label")
            )
            if label and label in labels:
                self.fail(label_at, f"duplicate account label {label!r}")
            labels.add(label)
            weight = self.integer(account.get("weight"), item_at.key(account, "weight"), minimum=1)
            result.append(
                AccountSpec(
                    label=label,
                    api_key=self.string(account.get("api_key"), item_at.key(account, "api_key"))
                    or None,
                    weight=DEFAULT_WEIGHT if weight is None else weight,
                    enabled=self.boolean(
                        account.get("enabled"), item_at.key(account, "enabled"), True
                    ),
                    where=self.where(item_at),
                )
            )
        return result

    def target_entry(
        self, value: Any, at: _At, *, go_bare_model: bool = False
    ) -> tuple[str, str, list[str], bool] | None:
        """An alias or mapping value: "provider:model" or {target, fallbacks, enabled}."""
        if isinstance(value, _LineDict):
            data = self.mapping(value, at, TARGET_KEYS)
            if data is None:
                return None
            target = self.target(
                data.get("target"), at.key(data, "target"), go_bare_model=go_bare_model
            )
            fallbacks = self.fallbacks(data.get("fallbacks"), at.key(data, "fallbacks"))
            enabled = self.boolean(data.get("enabled"), at.key(data, "enabled"), True)
        else:
            target = self.target(value, at, go_bare_model=go_bare_model)
            fallbacks, enabled = [], True
        if target is None:
            return None
        return target[0], target[1], fallbacks, enabled

    def aliases(self, value: Any, at: _At) -> None:
        data = self.mapping(value, at, None)
        if data is None:
            return
        for alias, entry, entry_at in self.entries(data, at):
            self.string(alias, entry_at, model_field=(ModelAlias, "alias"))
            parsed = self.target_entry(entry, entry_at)
            if parsed is not None:
                self.doc.aliases.append(AliasSpec(alias, *parsed))

    def subagents(self, value: Any, at: _At) -> None:
        data = self.mapping(value, at, SUBAGENT_KEYS)
        if data is None:
            return
        mappings_at = at.key(data, "mappings")
        mappings = self.mapping(data.get("mappings"), mappings_at, None)
        if "enable" not in data and mappings:
            self.warn(at, "no 'enable': mappings imported disabled, as the Go proxy defaults")
        enable = self.boolean(data.get("enable"), at.key(data, "enable"), False)
        if mappings is None:
            return
        for agent, entry, entry_at in self.entries(mappings, mappings_at):
            self.string(agent, entry_at, model_field=(AgentDefinition, "name"))
            parsed = self.target_entry(entry, entry_at, go_bare_model=True)
            if parsed is not None:
                provider, model, fallbacks, enabled = parsed
                self.doc.mappings.append(
                    MappingSpec(agent, provider, model, fallbacks, enable and enabled)
                )

    def rules(self, value: Any, at: _At) -> None:
        names: set[str] = set()
        for _, item, item_at in self.items(value, at):
            data = self.mapping(item, item_at, RULE_KEYS)
            if data is None:
                continue
            name_at = item_at.key(data, "name")
            name = self.string(
                data.get("name"), name_at, required=True, model_field=(RoutingRule, "name")
            )
            if name and name in names:
                self.fail(name_at, f"duplicate rule name {name!r}")
            names.add(name)
            when_at = item_at.key(data, "when")
            when = self.mapping(data.get("when"), when_at, WHEN_KEYS)
            target = self.target(
                data.get("target"), item_at.key(data, "target"), model_optional=True
            )
            priority = self.integer(data.get("priority"), item_at.key(data, "priority"))
            if when is None or target is None:
                continue
            header_name, header_value = self.header_condition(when, when_at)
            self.doc.rules.append(
                RuleSpec(
                    name=name,
                    priority=DEFAULT_RULE_PRIORITY if priority is None else priority,
                    enabled=self.boolean(data.get("enabled"), item_at.key(data, "enabled"), True),
                    model_glob=self.condition(when, when_at, "model"),
                    subagent=self.condition(when, when_at, "subagent"),
                    thinking=self.tri_state(when.get("thinking"), when_at.key(when, "thinking")),
                    min_input_tokens=self.integer(
                        when.get("min_input_tokens"),
                        when_at.key(when, "min_input_tokens"),
                        minimum=0,
                    ),
                    tool=self.condition(when, when_at, "tool"),
                    header_name=header_name,
                    header_value=header_value,
                    background=self.tri_state(
                        when.get("background"), when_at.key(when, "background")
                    ),
                    provider=target[0],
                    model=target[1],
                    fallbacks=self.fallbacks(data.get("fallbacks"), item_at.key(data, "fallbacks")),
                    sticky=self.boolean(data.get("sticky"), item_at.key(data, "sticky"), True),
                )
            )

    def condition(self, when: _LineDict, when_at: _At, key: str) -> str:
        model_field = {"model": "model_glob"}.get(key, key)
        return self.string(
            when.get(key), when_at.key(when, key), model_field=(RoutingRule, model_field)
        )

    def header_condition(self, when: _LineDict, when_at: _At) -> tuple[str, str]:
        """`header: NAME` (present) or `header: {name, value}` (value is a glob)."""
        value, at = when.get("header"), when_at.key(when, "header")
        if not isinstance(value, _LineDict):
            return self.string(value, at, model_field=(RoutingRule, "header_name")), ""
        data = self.mapping(value, at, HEADER_KEYS)
        if data is None:
            return "", ""
        name = self.string(
            data.get("name"),
            at.key(data, "name"),
            required=True,
            model_field=(RoutingRule, "header_name"),
        )
        header_value = self.string(
            data.get("value"), at.key(data, "value"), model_field=(RoutingRule, "header_value")
        )
        return name, header_value

    def agents(self, value: Any, at: _At) -> None:
        names: set[str] = set()
        for _, item, item_at in self.items(value, at):
            data = self.mapping(item, item_at, AGENT_KEYS)
            if data is None:
                continue
            agent = self.agent(data, item_at)
            if agent is None:
                continue
            if agent.name in names:
                self.fail(item_at, f"duplicate agent {agent.name!r}")
            names.add(agent.name)
            self.doc.agents.append(agent)

    def agent(self, data: _LineDict, at: _At) -> AgentSpec | None:
        name_at = at.key(data, "name")
        name = self.string(data.get("name"), name_at, model_field=(AgentDefinition, "name"))
        if "file" in data:
            if any(key in data for key in ("body", "description", "model", "tools")):
                self.fail(at, "give file (the whole agent file) or body and its fields, not both")
                return None
            return self.agent_from_file(data["file"], at.key(data, "file"), name)
        if not name:
            self.fail(name_at, "required")
        body = normalise(self.string(data.get("body"), at.key(data, "body"), required=True))
        tools_at = at.key(data, "tools")
        tools_value = data.get("tools")
        if isinstance(tools_value, str):  # `tools: Read, Grep`, as in agent files
            tools = [tool.strip() for tool in tools_value.split(",") if tool.strip()]
        else:
            tools = [
                self.string(tool, tool_at, required=True)
                for _, tool, tool_at in self.items(tools_value, tools_at)
            ]
        description = self.string(data.get("description"), at.key(data, "description"))
        declared_model = self.string(
            data.get("model"),
            at.key(data, "model"),
            model_field=(AgentDefinition, "declared_model"),
        )
        if not name or not body:
            return None
        return AgentSpec(name, description, declared_model, tools, body)

    def agent_from_file(self, value: Any, at: _At, name: str) -> AgentSpec | None:
        text = self.string(value, at, required=True)
        if not text:
            return None
        source = f"{name}.md" if name else ""
        try:
            parsed = parse_agent_file(text, source=source)
        except AgentFileError as exc:
            message = str(exc).removeprefix(f"{source or '<agent file>'}: ")
            if not text.startswith("---"):
                message += " (file: is the agent file's text, not its path)"
            self.fail(at, message)
            return None
        if name and parsed.name != name:
            self.fail(at, f"the file's frontmatter names {parsed.name!r}, not {name!r}")
            return None
        return AgentSpec(
            parsed.name, parsed.description, parsed.model or "", list(parsed.tools), parsed.body
        )


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), type(value).__name__
    )


def _go_proxy_provider_for(model: str) -> str:
    for prefix, provider in GO_PROXY_MODEL_PREFIXES:
        if model.startswith(prefix):
            return provider
    return GO_PROXY_DEFAULT_PROVIDER


# --- Environment variables ------------------------------------------------------


def _expand_env(value: Any, at: _At, env: Mapping[str, str], fail: Any) -> Any:
    """`value` with `${NAME}` and `${NAME:-default}` replaced in every string; `$${` -> `${`."""
    if isinstance(value, _LineDict):
        for key in list(value):
            value[key] = _expand_env(value[key], at.key(value, key), env, fail)
        return value
    if isinstance(value, _LineList):
        for index in range(len(value)):
            value[index] = _expand_env(value[index], at.item(value, index), env, fail)
        return value
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        escaped, inner = match.group(1), match.group(2)
        if escaped:
            return "${" + inner + "}"
        name, separator, default = inner.partition(ENV_DEFAULT_SEPARATOR)
        if not ENV_NAME.fullmatch(name):
            fail(
                at,
                f"${{{inner}}} is not a variable reference; write ${{NAME}} or ${{NAME:-default}}",
            )
            return ""
        if env.get(name):
            return env[name]
        if separator:
            return default
        if name in env:
            return ""
        fail(at, f"environment variable {name} is not set")
        return ""

    return ENV_REFERENCE.sub(substitute, value)


# --- Loading ---------------------------------------------------------------------


def load_config_document(
    text: str,
    *,
    source: str = "config.yaml",
    env: Mapping[str, str],
    known_providers: Collection[str] = (),
) -> ConfigDocument:
    """Parse and validate a config file (either format). Raises ConfigError listing every problem.

    `known_providers` are provider names that targets may use without the file
    defining them (the database's, when the import does not replace).
    """
    reader = _Reader(source, known_providers)
    loader = _LineLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_error(exc, source)]) from None
    finally:
        loader.dispose()
    reader.errors.extend(
        f"{source}:{line}: duplicate key {key!r}" for line, key in loader.duplicate_keys
    )
    if data is None:
        raise ConfigError([f"{source}:1: the file is empty"])
    data = _expand_env(data, _At("", getattr(data, "line", 1)), env, reader.fail)
    reader.read(data)
    if reader.errors:
        raise ConfigError(sorted(reader.errors, key=_error_line))
    reader.doc.warnings.sort(key=_error_line)
    return reader.doc


def _yaml_error(exc: yaml.YAMLError, source: str) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"{problem} ({context})" if context else problem
    if mark is None:
        return f"{source}: invalid YAML: {detail}"
    return f"{source}:{mark.line + 1}: invalid YAML at column {mark.column + 1}: {detail}"


def _error_line(error: str) -> int:
    match = re.match(r"[^:]*:(\d+):", error)
    return int(match.group(1)) if match else 0


# --- Applying ---------------------------------------------------------------------


@dataclass
class KindReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "deleted": len(self.deleted),
        }


@dataclass
class ApplyReport:
    """What an import did (or would do, on a dry run), by kind of row."""

    kinds: dict[str, KindReport] = field(default_factory=lambda: {k: KindReport() for k in KINDS})
    #: Mapped agents with no definition yet: routed once discovered on disk or uploaded.
    waiting_for_agent_file: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    def counts(self) -> dict[str, dict[str, int]]:
        return {kind: report.counts() for kind, report in self.kinds.items()}

    def __str__(self) -> str:
        lines = []
        for kind, report in self.kinds.items():
            counts = ", ".join(f"{n} {what}" for what, n in report.counts().items())
            lines.append(f"{kind + ':':<13}{counts}")
        if self.waiting_for_agent_file:
            lines.append("waiting for agent file: " + ", ".join(self.waiting_for_agent_file))
        return "\n".join(lines)


def apply_config(
    doc: ConfigDocument, *, replace: bool = False, dry_run: bool = False
) -> ApplyReport:
    """Write `doc` to the database in one transaction. Raises ConfigError, changing nothing.

    Rows are matched by name (credentials by provider and label). Without
    `replace`, rows the file does not mention are kept; with it, they are
    deleted (agent definitions excepted: they come from disk). `dry_run`
    rolls everything back and reports what would have happened.
    """
    report = ApplyReport(warnings=list(doc.warnings), dry_run=dry_run)
    with transaction.atomic():
        _check_against_database(doc, replace)
        providers = _apply_providers(doc, report)
        _apply_credentials(doc, providers, replace, report)
        _apply_agents(doc, report)
        _apply_aliases(doc, report)
        _apply_mappings(doc, report)
        _apply_rules(doc, report)
        if replace:
            _delete_unmentioned(doc, report)
        if dry_run:
            transaction.set_rollback(True)
    return report


def _check_against_database(doc: ConfigDocument, replace: bool) -> None:
    errors: list[str] = []
    in_database = set(Provider.objects.values_list("name", flat=True))
    for name, where in doc.external_providers:
        if replace:
            errors.append(
                f"{where}: provider {name!r} is not in the file, and --replace deletes it"
            )
        elif name not in in_database:
            errors.append(f"{where}: unknown provider {name!r}")
    stored = {
        (provider, label)
        for provider, label in Credential.objects.values_list("provider__name", "label")
    }
    for spec in doc.providers:
        for account in spec.accounts:
            if account.api_key is None and (spec.name, account.label) not in stored:
                errors.append(f"{account.where}: api_key: required for a new account")
    if errors:
        raise ConfigError(errors)


def _upsert(
    report: KindReport, label: str, row: Model | None, create: Any, wanted: dict[str, Any]
) -> Model:
    """Save `row` only when a field differs, so unchanged rows don't bump the config version."""
    if row is None:
        row = create(**wanted)
        row.save()
        report.created.append(label)
        return row
    if any(getattr(row, key) != value for key, value in wanted.items()):
        for key, value in wanted.items():
            setattr(row, key, value)
        row.save()
        report.updated.append(label)
    else:
        report.unchanged.append(label)
    return row


def _apply_providers(doc: ConfigDocument, report: ApplyReport) -> dict[str, Provider]:
    existing = {p.name: p for p in Provider.objects.all()}
    rows: dict[str, Provider] = {}
    for spec in doc.providers:
        wanted: dict[str, Any] = {
            "name": spec.name,
            "wire_format": spec.wire_format,
            "base_url": spec.base_url,
            "preset": spec.preset,
            "enabled": spec.enabled,
            "connect_timeout": spec.connect_timeout,
            "read_timeout": spec.read_timeout,
            "extra_headers": spec.extra_headers,
        }
        if doc.default_provider is not None:
            wanted["is_default"] = spec.name == doc.default_provider
        row = _upsert(
            report.kinds["providers"], spec.name, existing.get(spec.name), Provider, wanted
        )
        rows[spec.name] = row  # type: ignore[assignment]
    if doc.default_provider is not None and doc.default_provider not in rows:
        row = existing[doc.default_provider]
        if not row.is_default:
            row.is_default = True
            row.save()  # clears the flag elsewhere
            report.kinds["providers"].updated.append(row.name)
    return rows


def _apply_credentials(
    doc: ConfigDocument, providers: dict[str, Provider], replace: bool, report: ApplyReport
) -> None:
    kind = report.kinds["credentials"]
    for spec in doc.providers:
        provider = providers[spec.name]
        existing = {c.label: c for c in provider.credentials.all()}
        for account in spec.accounts:
            label = f"{spec.name}/{account.label}"
            row = existing.pop(account.label, None)
            if row is None:
                row = Credential(provider=provider, label=account.label)
                kind.created.append(label)
            elif (
                row.weight == account.weight
                and row.enabled == account.enabled
                and (account.api_key is None or _stored_secret(row) == account.api_key)
            ):
                kind.unchanged.append(label)
                continue
            else:
                kind.updated.append(label)
            row.weight, row.enabled = account.weight, account.enabled
            if account.api_key is not None:
                row.set_secret(account.api_key)
            row.save()
        if replace:
            for row in existing.values():
                kind.deleted.append(f"{spec.name}/{row.label}")
                row.delete()


def _stored_secret(row: Credential) -> str | None:
    try:
        return row.secret()
    except ValueError:
        return None  # unreadable: overwrite it


def _apply_agents(doc: ConfigDocument, report: ApplyReport) -> None:
    existing = {
        a.name: a for a in AgentDefinition.objects.filter(name__in=[a.name for a in doc.agents])
    }
    for spec in doc.agents:
        wanted = {
            "name": spec.name,
            "description": spec.description,
            "declared_model": spec.declared_model,
            "tools": spec.tools,
            "body": spec.body,
            "fingerprint": fingerprint(spec.body),
            "source": AgentDefinition.SOURCE_UPLOADED,
            "path": "",
            "present": True,
        }
        _upsert(report.kinds["agents"], spec.name, existing.get(spec.name), AgentDefinition, wanted)


def _apply_aliases(doc: ConfigDocument, report: ApplyReport) -> None:
    providers = {p.name: p for p in Provider.objects.all()}
    existing = {a.alias: a for a in ModelAlias.objects.all()}
    for spec in doc.aliases:
        wanted = {
            "alias": spec.alias,
            "provider": providers[spec.provider],
            "target_model": spec.model,
            "fallbacks": spec.fallbacks,
            "enabled": spec.enabled,
        }
        _upsert(report.kinds["aliases"], spec.alias, existing.get(spec.alias), ModelAlias, wanted)


def _apply_mappings(doc: ConfigDocument, report: ApplyReport) -> None:
    providers = {p.name: p for p in Provider.objects.all()}
    agents = {a.name: a for a in AgentDefinition.objects.all()}
    existing = {m.agent.name: m for m in SubagentMapping.objects.select_related("agent")}
    for spec in doc.mappings:
        agent = agents.get(spec.agent)
        if agent is None:
            # A placeholder that the disk scan fills in (it updates discovered rows only).
            agent = AgentDefinition.objects.create(
                name=spec.agent,
                body="",
                fingerprint="",
                source=AgentDefinition.SOURCE_DISCOVERED,
                present=False,
            )
            report.kinds["agents"].created.append(spec.agent)
        if not agent.present:
            report.waiting_for_agent_file.append(spec.agent)
        wanted = {
            "agent": agent,
            "provider": providers[spec.provider],
            "target_model": spec.model,
            "fallbacks": spec.fallbacks,
            "enabled": spec.enabled,
        }
        _upsert(
            report.kinds["mappings"], spec.agent, existing.get(spec.agent), SubagentMapping, wanted
        )


def _apply_rules(doc: ConfigDocument, report: ApplyReport) -> None:
    providers = {p.name: p for p in Provider.objects.all()}
    existing = {r.name: r for r in RoutingRule.objects.all()}
    for spec in doc.rules:
        wanted = {
            "name": spec.name,
            "priority": spec.priority,
            "enabled": spec.enabled,
            "model_glob": spec.model_glob,
            "subagent": spec.subagent,
            "thinking": spec.thinking,
            "min_input_tokens": spec.min_input_tokens,
            "tool": spec.tool,
            "header_name": spec.header_name,
            "header_value": spec.header_value,
            "background": spec.background,
            "provider": providers[spec.provider],
            "target_model": spec.model,
            "fallbacks": spec.fallbacks,
            "sticky": spec.sticky,
        }
        _upsert(report.kinds["rules"], spec.name, existing.get(spec.name), RoutingRule, wanted)


def _delete_unmentioned(doc: ConfigDocument, report: ApplyReport) -> None:
    """Dependants first, so each deletion is counted under its own kind, not cascaded."""
    kinds = report.kinds
    for row in RoutingRule.objects.exclude(name__in=[r.name for r in doc.rules]):
        kinds["rules"].deleted.append(row.name)
        row.delete()
    for row in ModelAlias.objects.exclude(alias__in=[a.alias for a in doc.aliases]):
        kinds["aliases"].deleted.append(row.alias)
        row.delete()
    mapped = [m.agent for m in doc.mappings]
    for row in SubagentMapping.objects.exclude(agent__name__in=mapped).select_related("agent"):
        kinds["mappings"].deleted.append(row.agent.name)
        row.delete()
    for row in Provider.objects.exclude(name__in=[p.name for p in doc.providers]):
        for credential in row.credentials.all():
            kinds["credentials"].deleted.append(f"{row.name}/{credential.label}")
            credential.delete()
        kinds["providers"].deleted.append(row.name)
        row.delete()


# --- Exporting --------------------------------------------------------------------

EXPORT_HEADER = "# Switchboard routing config, written by `manage.py exportconfig`.\n"
EXPORT_HEADER_NO_SECRETS = "# API keys are left out: accounts keep their stored keys on import.\n"


def export_config(*, with_secrets: bool = False) -> str:
    """The database's routing config in the superset format, in a stable order.

    API keys are written (decrypted) only `with_secrets`; ConfigError when one
    cannot be decrypted. Agents are written only when uploaded: discovered ones
    come back from disk, and a mapping to one recreates its placeholder.
    """
    data: dict[str, Any] = {}
    default = Provider.objects.filter(is_default=True).order_by("name").first()
    if default is not None:
        data["default_provider"] = default.name
    data["providers"] = {
        p.name: _export_provider(p, with_secrets)
        for p in Provider.objects.order_by("name").prefetch_related("credentials")
    }
    aliases = ModelAlias.objects.select_related("provider").order_by("alias")
    if aliases:
        data["aliases"] = {a.alias: _export_target_entry(a, a.enabled) for a in aliases}
    mappings = list(
        SubagentMapping.objects.select_related("agent", "provider").order_by("agent__name")
    )
    if mappings:
        enable = any(m.enabled for m in mappings)
        data["subagents"] = {
            "enable": enable,
            "mappings": {
                m.agent.name: _export_target_entry(m, m.enabled or not enable) for m in mappings
            },
        }
    rules = RoutingRule.objects.select_related("provider").order_by("priority", "name")
    if rules:
        data["rules"] = [_export_rule(r) for r in rules]
    agents = AgentDefinition.objects.filter(
        source=AgentDefinition.SOURCE_UPLOADED, present=True
    ).order_by("name")
    if agents:
        data["agents"] = [_export_agent(a) for a in agents]
    header = EXPORT_HEADER + ("" if with_secrets else EXPORT_HEADER_NO_SECRETS)
    return header + yaml.dump(
        _escape_env(data), Dumper=_ExportDumper, sort_keys=False, allow_unicode=True, width=100
    )


def _export_provider(row: Provider, with_secrets: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"format": row.wire_format, "base_url": row.base_url}
    if row.preset:
        entry["preset"] = row.preset
    if not row.enabled:
        entry["enabled"] = False
    timeouts = {
        key: value
        for key, value in (("connect", row.connect_timeout), ("read", row.read_timeout))
        if value is not None
    }
    if timeouts:
        entry["timeouts"] = timeouts
    if row.extra_headers:
        entry["extra_headers"] = dict(sorted(row.extra_headers.items()))
    accounts = []
    for credential in sorted(row.credentials.all(), key=lambda c: c.label):
        account: dict[str, Any] = {"label": credential.label}
        if with_secrets:
            try:
                account["api_key"] = credential.secret()
            except ValueError as exc:
                raise ConfigError([f"credential {row.name}/{credential.label}: {exc}"]) from None
        if credential.weight != DEFAULT_WEIGHT:
            account["weight"] = credential.weight
        if not credential.enabled:
            account["enabled"] = False
        accounts.append(account)
    if accounts:
        entry["accounts"] = accounts
    return entry


def _export_target_entry(row: ModelAlias | SubagentMapping, enabled: bool) -> Any:
    target = f"{row.provider.name}:{row.target_model}"
    if enabled and not row.fallbacks:
        return target
    entry: dict[str, Any] = {"target": target}
    if row.fallbacks:
        entry["fallbacks"] = list(row.fallbacks)
    if not enabled:
        entry["enabled"] = False
    return entry


def _export_rule(row: RoutingRule) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": row.name, "priority": row.priority}
    if not row.enabled:
        entry["enabled"] = False
    when: dict[str, Any] = {}
    for key, value in (("model", row.model_glob), ("subagent", row.subagent)):
        if value:
            when[key] = value
    if row.thinking:
        when["thinking"] = row.thinking == "yes"
    if row.min_input_tokens is not None:
        when["min_input_tokens"] = row.min_input_tokens
    if row.tool:
        when["tool"] = row.tool
    if row.header_name:
        when["header"] = {
            "name": row.header_name,
            **({"value": row.header_value} if row.header_value else {}),
        }
    if row.background:
        when["background"] = row.background == "yes"
    if when:
        entry["when"] = when
    entry["target"] = (
        f"{row.provider.name}:{row.target_model}" if row.target_model else row.provider.name
    )
    if row.fallbacks:
        entry["fallbacks"] = list(row.fallbacks)
    if not row.sticky:
        entry["sticky"] = False
    return entry


def _export_agent(row: AgentDefinition) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": row.name}
    if row.description:
        entry["description"] = row.description
    if row.declared_model:
        entry["model"] = row.declared_model
    if row.tools:
        entry["tools"] = list(row.tools)
    entry["body"] = row.body
    return entry


def _escape_env(value: Any) -> Any:
    """Keep `${` literal through the next import's expansion."""
    if isinstance(value, dict):
        return {key: _escape_env(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escape_env(item) for item in value]
    if isinstance(value, str):
        return value.replace("${", "$${")
    return value


class _ExportDumper(yaml.SafeDumper):
    """Block style, with multi-line strings (agent bodies) as `|` literals."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ExportDumper.add_representer(str, _represent_str)
