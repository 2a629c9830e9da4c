"""Immutable routing configuration: what the router and the views read.

Plain dataclasses with no Django imports, so the router is a pure function
that tests can call with hand-made configs.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CredentialConfig:
    label: str
    secret: str = field(repr=False)
    weight: int = 1


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    wire_format: str
    base_url: str
    connect_timeout: float
    read_timeout: float
    extra_headers: tuple[tuple[str, str], ...] = ()
    credentials: tuple[CredentialConfig, ...] = ()


@dataclass(frozen=True)
class AliasConfig:
    alias: str
    provider: str
    model: str


@dataclass(frozen=True)
class RoutingConfig:
    """Every enabled provider and alias, as one consistent version."""

    version: int = 0
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    aliases: dict[str, AliasConfig] = field(default_factory=dict)
    default_provider: str | None = None

    def provider(self, name: str | None) -> ProviderConfig | None:
        return self.providers.get(name) if name else None
