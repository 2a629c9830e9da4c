"""What the Go claude-code-proxy's `config.yaml` left implicit, made explicit here.

Lost on import: its `server` and `storage` sections and its providers'
`version` and `max_retries` (settings of the Go process; each is reported as
a warning), and its environment overrides such as OPENAI_API_KEY (write
`api_key: ${OPENAI_API_KEY}` instead).
"""

from __future__ import annotations

#: Go proxy defaults for the two providers it knows by name.
GO_PROXY_BASE_URLS = {
    "anthropic": "https://api.anthropic.com",
    "openai": "https://api.openai.com",
}
#: The Go proxy sent a mapping's bare model to the provider whose prefix it has; else anthropic.
GO_PROXY_MODEL_PREFIXES = (
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("claude-", "anthropic"),
)
GO_PROXY_DEFAULT_PROVIDER = "anthropic"

#: Go proxy keys that mean nothing here: accepted, skipped, and reported.
IGNORED_TOP_KEYS = {
    "server": "the Go proxy's own HTTP server settings; see SWITCHBOARD_* settings",
    "storage": "the Go proxy's request database; Switchboard logs to its own",
}
IGNORED_PROVIDER_KEYS = {
    "version": "clients send their own anthropic-version header",
    "max_retries": "Switchboard retries through fallbacks instead",
}


def go_proxy_provider_for(model: str) -> str:
    """The provider the Go proxy sent a bare `model` to, judged by its prefix."""
    for prefix, provider in GO_PROXY_MODEL_PREFIXES:
        if model.startswith(prefix):
            return provider
    return GO_PROXY_DEFAULT_PROVIDER
