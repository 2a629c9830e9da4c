"""GET /v1/models: the model names a client may ask for, in Anthropic's list format.

Aliases, then `provider,model` for every target an alias, mapping, rule or
fallback sends to a translated (non-Anthropic) provider, then the default
Anthropic-format provider's own list (nothing from it if it fails).
"""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpResponse

from gateway.credentials import NeedsGatewayKey, account_label, pick_credential
from gateway.exchange import Exchange
from gateway.responses import json_response
from gateway.route import routing_config
from providers.accounts import AccountsCoolingDown
from providers.anthropic import adapter as anthropic
from providers.errors import UpstreamError
from providers.transport import get_transport
from routing.config import AliasConfig, MappingConfig, RoutingConfig, RuleConfig

#: Anthropic's list entries carry a creation time; ours have none.
NO_CREATION_TIME = "1970-01-01T00:00:00Z"


async def list_models(exchange: Exchange) -> HttpResponse | None:
    config = await routing_config()
    listed = [
        model_entry(alias, f"{a.provider}:{a.model}") for alias, a in sorted(config.aliases.items())
    ]
    for name, provider in sorted(config.providers.items()):
        if provider.wire_format != "anthropic":
            for model in models_routed_to(config, name):
                listed.append(model_entry(f"{name},{model}", f"{name}:{model}"))
    listed.extend(await default_provider_models(exchange, config))
    data: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry in listed:  # the first of each id wins
        if entry["id"] not in seen:
            seen.add(entry["id"])
            data.append(entry)
    body = {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
    exchange.answered(200, b"", None)
    return json_response(body, status=200, exchange=exchange)


def models_routed_to(config: RoutingConfig, provider: str) -> list[str]:
    """Every model some alias, mapping, rule or fallback sends to `provider`."""
    refs = [(a.provider, a.model) for a in config.aliases.values()]
    refs += [(m.provider, m.model) for m in config.mappings.values()]
    refs += [(r.provider, r.model) for r in config.rules if r.model]
    owners: list[AliasConfig | MappingConfig | RuleConfig] = [
        *config.aliases.values(),
        *config.mappings.values(),
        *config.rules,
    ]
    for owner in owners:
        refs += [(f.provider, f.model) for f in owner.fallbacks]
    return sorted({model for name, model in refs if name == provider})


def model_entry(model_id: str, display_name: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": display_name,
        "created_at": NO_CREATION_TIME,
    }


async def default_provider_models(
    exchange: Exchange, config: RoutingConfig
) -> list[dict[str, Any]]:
    """The default Anthropic-format provider's /v1/models, or nothing if it fails."""
    provider = config.provider(config.default_provider)
    if provider is None or provider.wire_format != "anthropic":
        return []
    try:
        credential = pick_credential(exchange, provider)
    except AccountsCoolingDown:
        return []
    except NeedsGatewayKey as exc:
        exchange.attempt_skipped(provider.name, "", exc.message)
        return []
    attempt = exchange.attempt_started(provider.name, account_label(credential), "")
    upstream_request = anthropic.build_request(
        method="GET",
        path="/v1/models",
        query=exchange.query,
        body=b"",
        client_headers=exchange.headers,
        provider=provider,
        credential=credential,
    )
    try:
        upstream = await get_transport().send(upstream_request)
        try:
            body = await upstream.aread()
        finally:
            await upstream.aclose()
    except UpstreamError as exc:
        exchange.attempt_ended(attempt, status=None, error=exc.message)
        return []
    exchange.attempt_ended(attempt, status=upstream.status)
    if upstream.status != 200:
        return []
    try:
        data = orjson.loads(body).get("data")
    except (orjson.JSONDecodeError, AttributeError):
        return []
    if not isinstance(data, list):
        return []
    return [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
