"""The superset file format: the keys each section allows, and the defaults of what it omits."""

from __future__ import annotations

from routing.models import Credential, RoutingRule

WIRE_FORMAT_NAMES = ("anthropic", "openai")
#: A provider with one `api_key` and no `accounts` gets one credential of this label.
DEFAULT_CREDENTIAL_LABEL = "default"
DEFAULT_RULE_PRIORITY: int = RoutingRule._meta.get_field("priority").default
DEFAULT_WEIGHT: int = Credential._meta.get_field("weight").default

TOP_KEYS = (
    "default_provider",
    "fallback_provider",
    "providers",
    "aliases",
    "subagents",
    "rules",
    "agents",
)
PROVIDER_KEYS = (
    "format",
    "base_url",
    "preset",
    "api_key",
    "accounts",
    "timeouts",
    "extra_headers",
    "enabled",
)
ACCOUNT_KEYS = ("label", "api_key", "weight", "enabled")
TIMEOUT_KEYS = ("connect", "read")
TARGET_KEYS = ("target", "fallbacks", "enabled")
SUBAGENT_KEYS = ("enable", "mappings")
RULE_KEYS = ("name", "priority", "enabled", "when", "target", "fallbacks", "sticky")
WHEN_KEYS = ("model", "subagent", "thinking", "min_input_tokens", "tool", "header", "background")
HEADER_KEYS = ("name", "value")
AGENT_KEYS = ("name", "description", "model", "tools", "body", "file")

#: Top-level keys with this prefix are skipped: a place for YAML anchors (`x-common: &common`).
EXTENSION_PREFIX = "x-"
