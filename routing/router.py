"""The router: a pure function from a request summary and a config to a decision.

Order (SPEC section 4), first that applies wins:
1. `provider,model` in the model field, when that provider exists;
2. the subagent that sent the request, when it has an enabled mapping;
3. rules, lowest priority number first, first whose conditions all hold;
4. a model alias;
5. the default provider with the requested model.

Each target may name fallbacks; those whose provider is missing or disabled
are left out of the decision (and said so in its reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from routing.config import ProviderConfig, RoutingConfig, RuleConfig, TargetRef


@dataclass(frozen=True)
class RequestSummary:
    """What the router may look at; built once per request by the view."""

    model: str
    headers: dict[str, str] = field(default_factory=dict)
    subagent: str | None = None  # name of the matched agent definition
    is_subagent_call: bool = False  # also True for subagents no definition matched
    thinking: bool = False
    input_tokens: int = 0  # estimated
    tools: tuple[str, ...] = ()  # names and types of the tools offered


@dataclass(frozen=True)
class Target:
    provider: ProviderConfig
    model: str

    def __str__(self) -> str:
        return f"{self.provider.name}:{self.model}"


@dataclass(frozen=True)
class RouteDecision:
    target: Target
    route: str  # short kind: explicit / subagent / rule / alias / default / sticky
    reason: str  # what an operator reads: why this target won
    fallbacks: tuple[Target, ...] = ()
    rule: str = ""  # name of the rule that won, if one did
    sticky: bool = True  # may later requests of the same turn reuse this decision

    @property
    def targets(self) -> tuple[Target, ...]:
        return (self.target, *self.fallbacks)


class NoRoute(Exception):
    """No enabled provider can serve the request; the message says why."""


def decide(request: RequestSummary, config: RoutingConfig) -> RouteDecision:
    """Pick the provider and model for a request. Raises NoRoute."""
    for step in (_explicit, _subagent, _rules, _alias):
        decision = step(request, config)
        if decision is not None:
            return decision
    provider = config.provider(config.default_provider)
    if provider is None:
        raise NoRoute("no enabled default provider is configured")
    return RouteDecision(
        target=Target(provider, request.model),
        route="default",
        reason=f"default provider {provider.name!r}",
    )


def _explicit(request: RequestSummary, config: RoutingConfig) -> RouteDecision | None:
    """claude-code-router's `provider,model` syntax, when the provider exists."""
    if "," not in request.model:
        return None
    name, _, model = request.model.partition(",")
    provider = config.provider(name.strip())
    if provider is None or not model.strip():
        return None
    return RouteDecision(
        target=Target(provider, model.strip()),
        route="explicit",
        reason=f"model field names provider {provider.name!r}",
    )


def _subagent(request: RequestSummary, config: RoutingConfig) -> RouteDecision | None:
    if request.subagent is None:
        return None
    mapping = config.mappings.get(request.subagent)
    if mapping is None:
        return None
    provider = config.provider(mapping.provider)
    if provider is None:
        return None
    fallbacks, skipped = _resolve(mapping.fallbacks, config)
    return RouteDecision(
        target=Target(provider, mapping.model),
        route="subagent",
        reason=f"subagent {request.subagent!r} is mapped to {provider.name}:{mapping.model}"
        + skipped,
        fallbacks=fallbacks,
    )


def _rules(request: RequestSummary, config: RoutingConfig) -> RouteDecision | None:
    for rule in config.rules:
        provider = config.provider(rule.provider)
        if provider is None:
            continue
        matched = rule_matches(rule, request, config)
        if matched is None:
            continue
        fallbacks, skipped = _resolve(rule.fallbacks, config)
        return RouteDecision(
            target=Target(provider, rule.model or request.model),
            route="rule",
            reason=f"rule {rule.name!r} (priority {rule.priority}): {matched}" + skipped,
            fallbacks=fallbacks,
            rule=rule.name,
            sticky=rule.sticky,
        )
    return None


def _alias(request: RequestSummary, config: RoutingConfig) -> RouteDecision | None:
    alias = config.aliases.get(request.model)
    if alias is None:
        return None
    provider = config.provider(alias.provider)
    if provider is None:
        return None
    fallbacks, skipped = _resolve(alias.fallbacks, config)
    return RouteDecision(
        target=Target(provider, alias.model),
        route="alias",
        reason=f"alias {alias.alias!r} -> {alias.provider}:{alias.model}" + skipped,
        fallbacks=fallbacks,
    )


def rule_matches(rule: RuleConfig, request: RequestSummary, config: RoutingConfig) -> str | None:
    """None if a condition fails, else a description of the conditions that held."""
    held: list[str] = []
    if rule.model_glob:
        if not fnmatchcase(request.model.lower(), rule.model_glob.lower()):
            return None
        held.append(f"model matches {rule.model_glob!r}")
    if rule.subagent:
        if rule.subagent == "*":
            if not request.is_subagent_call:
                return None
            held.append("a subagent call")
        elif request.subagent != rule.subagent:
            return None
        else:
            held.append(f"subagent is {rule.subagent!r}")
    if rule.thinking is not None:
        if request.thinking != rule.thinking:
            return None
        held.append("thinking on" if rule.thinking else "thinking off")
    if rule.min_input_tokens is not None:
        if request.input_tokens < rule.min_input_tokens:
            return None
        held.append(f"~{request.input_tokens} input tokens >= {rule.min_input_tokens}")
    if rule.tool:
        pattern = rule.tool.lower()
        if not any(fnmatchcase(t.lower(), pattern) for t in request.tools):
            return None
        held.append(f"tool {rule.tool!r} offered")
    if rule.header_name:
        value = request.headers.get(rule.header_name.lower())
        if value is None or (rule.header_value and not fnmatchcase(value, rule.header_value)):
            return None
        held.append(
            f"header {rule.header_name}"
            + (f"={rule.header_value}" if rule.header_value else " present")
        )
    if rule.background is not None:
        if is_background(request, config) != rule.background:
            return None
        held.append("background request" if rule.background else "not a background request")
    return ", ".join(held) if held else "no conditions"


def is_background(request: RequestSummary, config: RoutingConfig) -> bool:
    """A small-fast-model request (titles, summaries): by model family or configured names."""
    model = request.model.lower()
    return any(fnmatchcase(model, pattern.lower()) for pattern in config.background_models)


def _resolve(refs: tuple[TargetRef, ...], config: RoutingConfig) -> tuple[tuple[Target, ...], str]:
    targets: list[Target] = []
    missing: list[str] = []
    for ref in refs:
        provider = config.provider(ref.provider)
        if provider is None:
            missing.append(f"{ref.provider}:{ref.model}")
        else:
            targets.append(Target(provider, ref.model))
    note = (
        f" (fallbacks skipped, provider missing or disabled: {', '.join(missing)})"
        if missing
        else ""
    )
    return tuple(targets), note
