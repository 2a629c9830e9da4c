"""Wire format -> adapter. Adding a format means adding a package and a line here."""

from __future__ import annotations

from providers.anthropic.adapter import AnthropicAdapter
from providers.base import Adapter
from providers.openai.adapter import OpenAIAdapter

ADAPTERS: dict[str, Adapter] = {
    "anthropic": AnthropicAdapter(),
    "openai": OpenAIAdapter(),
}


def adapter_for(wire_format: str) -> Adapter:
    return ADAPTERS[wire_format]
