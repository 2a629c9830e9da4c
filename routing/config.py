"""Immutable routing configuration: what the router and the views read.

Plain dataclasses with no Django imports, so the router is a pure function
that tests can call with hand-made configs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Re-exported: routing code and tests read the provider types from here too.
from providers.config import CredentialConfig as CredentialConfig
from providers.config import ProviderConfig as ProviderConfig


@dataclass(frozen=True)
class TargetRef:
    """provider:model as configured (the provider may be missing or disabled)."""

    provider: str
    model: str


@dataclass(frozen=True)
class AliasConfig:
    alias: str
    provider: str
    model: str
    fallbacks: tuple[TargetRef, ...] = ()


@dataclass(frozen=True)
class MappingConfig:
    agent: str
    provider: str
    model: str
    fallbacks: tuple[TargetRef, ...] = ()


@dataclass(frozen=True)
class RuleConfig:
    """Conditions (None/"" = not a condition) and the target of one routing rule."""

    #: The condition fields (as on the RoutingRule model): all that are set must hold.
    CONDITION_FIELDS = (
        "model_glob",
        "subagent",
        "thinking",
        "min_input_tokens",
        "tool",
        "header_name",
        "header_value",
        "background",
    )

    name: str
    priority: int
    provider: str
    model: str = ""  # "" keeps the requested model
    model_glob: str = ""
    subagent: str = ""  # agent name, or "*" for any subagent call
    thinking: bool | None = None
    min_input_tokens: int | None = None
    tool: str = ""
    header_name: str = ""
    header_value: str = ""
    background: bool | None = None
    fallbacks: tuple[TargetRef, ...] = ()
    sticky: bool = True


@dataclass(frozen=True)
class RoutingConfig:
    """Every enabled provider, alias, mapping and rule, as one consistent version."""

    version: int = 0
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    aliases: dict[str, AliasConfig] = field(default_factory=dict)
    default_provider: str | None = None
    mappings: dict[str, MappingConfig] = field(default_factory=dict)
    rules: tuple[RuleConfig, ...] = ()
    #: Matches system prompts to known subagents (routing.subagents.SubagentMatcher).
    matcher: Any = None
    #: Model name globs that mark a background (small fast model) request.
    background_models: tuple[str, ...] = ("*haiku*",)

    def provider(self, name: str | None) -> ProviderConfig | None:
        return self.providers.get(name) if name else None
