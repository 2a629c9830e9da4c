"""Writing what routes requests: uploaded agents, model aliases, subagent mappings and rules.

Each row is matched by its name. A mapping to an agent with no definition
yet gets a placeholder, which the disk scan fills in when the file appears.
"""

from __future__ import annotations

from typing import Any

from routing.agents import fingerprint
from routing.config_io.document import AliasSpec, ConfigDocument, MappingSpec, RuleSpec
from routing.config_io.report import ApplyReport
from routing.config_io.upsert import upsert
from routing.models import AgentDefinition, ModelAlias, Provider, RoutingRule, SubagentMapping


def apply_agents(doc: ConfigDocument, report: ApplyReport) -> None:
    """Upsert the file's agents as uploaded definitions."""
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
        upsert(report.kinds["agents"], spec.name, existing.get(spec.name), AgentDefinition, wanted)


def apply_aliases(doc: ConfigDocument, report: ApplyReport) -> None:
    """Upsert the file's model aliases."""
    providers = _providers_by_name()
    existing = {a.alias: a for a in ModelAlias.objects.all()}
    for spec in doc.aliases:
        wanted = {"alias": spec.alias, **_routed_fields(spec, providers)}
        upsert(report.kinds["aliases"], spec.alias, existing.get(spec.alias), ModelAlias, wanted)


def apply_mappings(doc: ConfigDocument, report: ApplyReport) -> None:
    """Upsert the file's subagent mappings, with a placeholder for each agent not yet known."""
    providers = _providers_by_name()
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
        wanted = {"agent": agent, **_routed_fields(spec, providers)}
        upsert(
            report.kinds["mappings"], spec.agent, existing.get(spec.agent), SubagentMapping, wanted
        )


def apply_rules(doc: ConfigDocument, report: ApplyReport) -> None:
    """Upsert the file's routing rules."""
    providers = _providers_by_name()
    existing = {r.name: r for r in RoutingRule.objects.all()}
    for spec in doc.rules:
        wanted = {
            "name": spec.name,
            "priority": spec.priority,
            "model_glob": spec.model_glob,
            "subagent": spec.subagent,
            "thinking": spec.thinking,
            "min_input_tokens": spec.min_input_tokens,
            "tool": spec.tool,
            "header_name": spec.header_name,
            "header_value": spec.header_value,
            "background": spec.background,
            "sticky": spec.sticky,
            **_routed_fields(spec, providers),
        }
        upsert(report.kinds["rules"], spec.name, existing.get(spec.name), RoutingRule, wanted)


def _providers_by_name() -> dict[str, Provider]:
    # Read again after providers were written: targets may name ones the file did not define.
    return {p.name: p for p in Provider.objects.all()}


def _routed_fields(
    spec: AliasSpec | MappingSpec | RuleSpec, providers: dict[str, Provider]
) -> dict[str, Any]:
    """The fields every routed row shares: its target, its fallbacks, and whether it is on."""
    return {
        "provider": providers[spec.provider],
        "target_model": spec.model,
        "fallbacks": spec.fallbacks,
        "enabled": spec.enabled,
    }
