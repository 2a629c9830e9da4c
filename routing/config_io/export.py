"""Exporting: the database's routing config as a superset-format file, in a stable order.

Lost: API keys unless asked for, the bodies of agents discovered on disk
(they come back from disk), and row timestamps. `${` in values is written
as `$${` so the next import keeps it literal.
"""

from __future__ import annotations

from typing import Any

import yaml

from routing.config_io.env import escape_env
from routing.config_io.export_rows import (
    export_agent,
    export_provider,
    export_rule,
    export_target_entry,
)
from routing.models import AgentDefinition, ModelAlias, Provider, RoutingRule, SubagentMapping

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
        p.name: export_provider(p, with_secrets)
        for p in Provider.objects.order_by("name").prefetch_related("credentials")
    }
    aliases = ModelAlias.objects.select_related("provider").order_by("alias")
    if aliases:
        data["aliases"] = {a.alias: export_target_entry(a, a.enabled) for a in aliases}
    mappings = list(
        SubagentMapping.objects.select_related("agent", "provider").order_by("agent__name")
    )
    if mappings:
        enable = any(m.enabled for m in mappings)
        data["subagents"] = {
            "enable": enable,
            "mappings": {
                m.agent.name: export_target_entry(m, m.enabled or not enable) for m in mappings
            },
        }
    rules = RoutingRule.objects.select_related("provider").order_by("priority", "name")
    if rules:
        data["rules"] = [export_rule(r) for r in rules]
    agents = AgentDefinition.objects.filter(
        source=AgentDefinition.SOURCE_UPLOADED, present=True
    ).order_by("name")
    if agents:
        data["agents"] = [export_agent(a) for a in agents]
    header = EXPORT_HEADER + ("" if with_secrets else EXPORT_HEADER_NO_SECRETS)
    return header + yaml.dump(
        escape_env(data), Dumper=_ExportDumper, sort_keys=False, allow_unicode=True, width=100
    )


class _ExportDumper(yaml.SafeDumper):
    """Block style, with multi-line strings (agent bodies) as `|` literals."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ExportDumper.add_representer(str, _represent_str)
