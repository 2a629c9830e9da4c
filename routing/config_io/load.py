"""Loading: a config file's text, in either format, to a validated `ConfigDocument`.

Parses YAML with line numbers, expands `${NAME}`, then reads each section,
reporting every problem at once as `FILE:LINE: path.to.key: message`,
sorted by line. Touches no database row: providers the file names without
defining are only checked against `known_providers`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from routing.config_io.document import ConfigDocument
from routing.config_io.env import expand_env
from routing.config_io.errors import ConfigError
from routing.config_io.go_proxy import IGNORED_TOP_KEYS
from routing.config_io.read_agents import read_agents
from routing.config_io.read_aliases import read_aliases
from routing.config_io.read_providers import read_default_provider, read_providers
from routing.config_io.read_rules import read_rules
from routing.config_io.read_subagents import read_subagents
from routing.config_io.reader import Reader
from routing.config_io.schema import TOP_KEYS
from routing.config_io.yaml_lines import At, parse_yaml

ERROR_LINE = re.compile(r"[^:]*:(\d+):")


def load_config_document(
    text: str,
    *,
    source: str = "config.yaml",
    env: Mapping[str, str],
    known_providers: Collection[str] = (),
) -> ConfigDocument:
    """Parse and validate a config file (either format). Raises ConfigError listing every problem.

    `known_providers` are provider names that targets may use without the file
    defining them (the database's, when the import does not replace).
    """
    reader = Reader(source, known_providers)
    data, duplicate_keys = parse_yaml(text, source)
    reader.errors.extend(duplicate_keys)
    if data is None:
        raise ConfigError([f"{source}:1: the file is empty"])
    data = expand_env(data, At("", getattr(data, "line", 1)), env, reader.fail)
    _read_document(reader, data)
    if reader.errors:
        raise ConfigError(sorted(reader.errors, key=_error_line))
    reader.doc.warnings.sort(key=_error_line)
    return reader.doc


def _read_document(reader: Reader, data: Any) -> None:
    top = At("", getattr(data, "line", 1))
    root = reader.mapping(data, top, TOP_KEYS, IGNORED_TOP_KEYS, allow_extensions=True)
    if root is None:
        return
    # Providers first: targets in every later section are checked against them.
    read_providers(reader, root.get("providers"), top.key(root, "providers"))
    read_default_provider(reader, root, top)
    if "aliases" in root:
        read_aliases(reader, root["aliases"], top.key(root, "aliases"))
    if "subagents" in root:
        read_subagents(reader, root["subagents"], top.key(root, "subagents"))
    if "rules" in root:
        read_rules(reader, root["rules"], top.key(root, "rules"))
    if "agents" in root:
        read_agents(reader, root["agents"], top.key(root, "agents"))


def _error_line(error: str) -> int:
    match = ERROR_LINE.match(error)
    return int(match.group(1)) if match else 0
