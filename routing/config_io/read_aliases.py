"""The `aliases` section: model names that clients send, each routed to a provider's model."""

from __future__ import annotations

from typing import Any

from routing.config_io.document import AliasSpec
from routing.config_io.read_targets import read_target_entry
from routing.config_io.reader import Reader
from routing.config_io.yaml_lines import At
from routing.models import ModelAlias


def read_aliases(reader: Reader, value: Any, at: At) -> None:
    """Each `alias: target` (or `alias: {target, fallbacks, enabled}`) onto `reader.doc.aliases`."""
    data = reader.mapping(value, at, None)
    if data is None:
        return
    for alias, entry, entry_at in reader.entries(data, at):
        reader.string(alias, entry_at, model_field=(ModelAlias, "alias"))
        parsed = read_target_entry(reader, entry, entry_at)
        if parsed is not None:
            reader.doc.aliases.append(AliasSpec(alias, *parsed))
