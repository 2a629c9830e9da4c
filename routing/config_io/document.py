"""What a validated config file says: one frozen spec per row to write, no YAML, no database.

`where` fields keep `FILE:LINE: path` so that checks against the database,
which happen only when applying, can still point into the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
