"""YAML with line numbers: mappings and lists that remember where each key and item stood.

Safe YAML only. Repeated keys, which PyYAML silently lets the last one win,
are reported instead (a `<<` merge may still override what it merges).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from routing.config_io.errors import ConfigError


class LineDict(dict):
    """A YAML mapping that remembers its line and the line of each key (1-based)."""

    line: int = 1
    key_lines: dict[Any, int]


def empty_mapping(line: int) -> LineDict:
    """A mapping with no keys, standing at `line`."""
    empty = LineDict()
    empty.line, empty.key_lines = line, {}
    return empty


class LineList(list):
    """A YAML sequence that remembers its line and the line of each item (1-based)."""

    line: int = 1
    item_lines: list[int]


@dataclass(frozen=True)
class At:
    """Where a value is: its dotted path and line."""

    path: str
    line: int

    def key(self, mapping: LineDict, key: Any) -> At:
        path = f"{self.path}.{key}" if self.path else str(key)
        return At(path, mapping.key_lines.get(key, mapping.line))

    def item(self, sequence: LineList, index: int) -> At:
        return At(f"{self.path}[{index}]", sequence.item_lines[index])


def parse_yaml(text: str, source: str) -> tuple[Any, list[str]]:
    """The document, and a `FILE:LINE: duplicate key` error per repeated key.

    Raises ConfigError with one line, where the parser gave up, when `text` is not YAML.
    """
    loader = _LineLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_error(exc, source)]) from None
    finally:
        loader.dispose()
    duplicates = [f"{source}:{line}: duplicate key {key!r}" for line, key in loader.duplicate_keys]
    return data, duplicates


def _yaml_error(exc: yaml.YAMLError, source: str) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"{problem} ({context})" if context else problem
    if mark is None:
        return f"{source}: invalid YAML: {detail}"
    return f"{source}:{mark.line + 1}: invalid YAML at column {mark.column + 1}: {detail}"


class _LineLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[tuple[int, str]] = []


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = empty_mapping(node.start_mark.line + 1)
    yield data
    seen: set[str] = set()
    for key_node, _ in node.value:  # before merging: `<<` may legitimately be overridden
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            if key_node.value in seen:
                loader.duplicate_keys.append((key_node.start_mark.line + 1, key_node.value))
            seen.add(key_node.value)
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        data[key] = loader.construct_object(value_node)
        data.key_lines[key] = key_node.start_mark.line + 1


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.line = node.start_mark.line + 1
    data.item_lines = [child.start_mark.line + 1 for child in node.value]
    yield data
    data.extend(loader.construct_object(child) for child in node.value)


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
