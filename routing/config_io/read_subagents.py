"""The `subagents` section: Claude Code subagents, by name, each routed to a provider's model.

As in the Go proxy, mappings are off unless `enable` says otherwise, and a
mapping may name a bare model whose prefix picks the provider.
"""

from __future__ import annotations

from typing import Any

from routing.config_io.document import MappingSpec
from routing.config_io.read_targets import read_target_entry
from routing.config_io.reader import Reader
from routing.config_io.schema import SUBAGENT_KEYS
from routing.config_io.yaml_lines import At
from routing.models import AgentDefinition


def read_subagents(reader: Reader, value: Any, at: At) -> None:
    """Each mapping onto `reader.doc.mappings`, enabled only when the section is."""
    data = reader.mapping(value, at, SUBAGENT_KEYS)
    if data is None:
        return
    mappings_at = at.key(data, "mappings")
    mappings = reader.mapping(data.get("mappings"), mappings_at, None)
    if "enable" not in data and mappings:
        reader.warn(at, "no 'enable': mappings imported disabled, as the Go proxy defaults")
    enable = reader.boolean(data.get("enable"), at.key(data, "enable"), False)
    if mappings is None:
        return
    for agent, entry, entry_at in reader.entries(mappings, mappings_at):
        reader.string(agent, entry_at, model_field=(AgentDefinition, "name"))
        parsed = read_target_entry(reader, entry, entry_at, go_bare_model=True)
        if parsed is not None:
            provider, model, fallbacks, enabled = parsed
            reader.doc.mappings.append(
                MappingSpec(agent, provider, model, fallbacks, enable and enabled)
            )
