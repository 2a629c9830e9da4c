"""The router: a pure function from a request summary and a config to a decision.

Order (SPEC section 4; the subagent and rule steps arrive with the routing issue):
1. `provider,model` in the model field, when that provider exists;
2. a model alias;
3. the default provider with the requested model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from routing.config import ProviderConfig, RoutingConfig


@dataclass(frozen=True)
class RequestSummary:
    """What the router may look at; built once per request by the view."""

    model: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    provider: ProviderConfig
    model: str


@dataclass(frozen=True)
class RouteDecision:
    target: Target
    route: str  # short machine-readable kind: explicit / alias / default
    reason: str  # what an operator reads: why this target won
    fallbacks: tuple[Target, ...] = ()


class NoRoute(Exception):
    """No enabled provider can serve the request; the message says why."""


def decide(request: RequestSummary, config: RoutingConfig) -> RouteDecision:
    """Pick the provider and model for a request. Raises NoRoute."""
    explicit = _explicit_target(request.model, config)
    if explicit is not None:
        return RouteDecision(
            target=explicit,
            route="explicit",
            reason=f"model field names provider {explicit.provider.name!r}",
        )
    alias = config.aliases.get(request.model)
    if alias is not None:
        provider = config.provider(alias.provider)
        if provider is not None:
            return RouteDecision(
                target=Target(provider, alias.model),
                route="alias",
                reason=f"alias {alias.alias!r} -> {alias.provider}:{alias.model}",
            )
    provider = config.provider(config.default_provider)
    if provider is None:
        raise NoRoute("no enabled default provider is configured")
    return RouteDecision(
        target=Target(provider, request.model),
        route="default",
        reason=f"default provider {provider.name!r}",
    )


def _explicit_target(model: str, config: RoutingConfig) -> Target | None:
    """claude-code-router's `provider,model` syntax, when the provider exists."""
    if "," not in model:
        return None
    name, _, target_model = model.partition(",")
    provider = config.provider(name.strip())
    if provider is None or not target_model.strip():
        return None
    return Target(provider, target_model.strip())
