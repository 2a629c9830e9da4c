"""The `provider:model` target notation used by mappings, rules, aliases and config files."""

from __future__ import annotations


def parse_target(text: str) -> tuple[str, str]:
    """`"openai:gpt-4o"` -> ("openai", "gpt-4o"). Raises ValueError naming the problem."""
    if not isinstance(text, str) or ":" not in text:
        raise ValueError(f"{text!r} is not a target; write provider:model")
    provider, _, model = text.partition(":")
    if not provider.strip() or not model.strip():
        raise ValueError(f"{text!r} is not a target; write provider:model")
    return provider.strip(), model.strip()


def parse_target_list(value: object) -> list[tuple[str, str]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ValueError('fallbacks must be a list, e.g. ["anthropic:claude-sonnet-4-5"]')
    return [parse_target(item) for item in value]
