"""One database row to its entry in the superset format, leaving out what equals the default.

Lost: row timestamps, and API keys unless `with_secrets`.
"""

from __future__ import annotations

from typing import Any

from routing.config_io.errors import ConfigError
from routing.config_io.schema import DEFAULT_WEIGHT
from routing.models import AgentDefinition, ModelAlias, Provider, RoutingRule, SubagentMapping


def export_provider(row: Provider, with_secrets: bool) -> dict[str, Any]:
    """A provider with its accounts (by label); ConfigError when a key cannot be decrypted."""
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


def export_target_entry(row: ModelAlias | SubagentMapping, enabled: bool) -> Any:
    """An alias or mapping: "provider:model", or {target, fallbacks, enabled} when it needs more."""
    target = f"{row.provider.name}:{row.target_model}"
    if enabled and not row.fallbacks:
        return target
    entry: dict[str, Any] = {"target": target}
    if row.fallbacks:
        entry["fallbacks"] = list(row.fallbacks)
    if not enabled:
        entry["enabled"] = False
    return entry


def export_rule(row: RoutingRule) -> dict[str, Any]:
    """A rule, with only the conditions it sets under `when`."""
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


def export_agent(row: AgentDefinition) -> dict[str, Any]:
    """An uploaded agent, field by field."""
    entry: dict[str, Any] = {"name": row.name}
    if row.description:
        entry["description"] = row.description
    if row.declared_model:
        entry["model"] = row.declared_model
    if row.tools:
        entry["tools"] = list(row.tools)
    entry["body"] = row.body
    return entry
