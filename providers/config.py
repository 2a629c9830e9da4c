"""What an adapter needs to know of a provider and its credentials (plain, immutable).

`routing` builds these from its models into the config snapshot; `providers`
only reads them, so it needs nothing of routing.
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
    preset: str = ""
