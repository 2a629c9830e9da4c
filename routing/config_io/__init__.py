"""Routing config files: read the Go claude-code-proxy's `config.yaml` or our superset, write ours.

Three steps, each usable alone:

- `load_config_document(text, env=...)` parses YAML, expands `${NAME}` and
  `${NAME:-default}`, and validates everything into a `ConfigDocument`. It
  does not touch the database and reports every problem at once, each as
  `FILE:LINE: path.to.key: message`.
- `apply_config(doc)` writes a document in one transaction (upserts by name;
  `replace=True` also deletes what the file does not mention).
- `export_config()` writes the database back in the superset format.

What is lost on import is listed in `go_proxy`; what is lost on export, in
`export`.
"""

from routing.config_io.apply import apply_config
from routing.config_io.document import (
    AccountSpec,
    AgentSpec,
    AliasSpec,
    ConfigDocument,
    MappingSpec,
    ProviderSpec,
    RuleSpec,
)
from routing.config_io.errors import ConfigError
from routing.config_io.export import export_config
from routing.config_io.load import load_config_document
from routing.config_io.report import ApplyReport, KindReport

__all__ = [
    "AccountSpec",
    "AgentSpec",
    "AliasSpec",
    "ApplyReport",
    "ConfigDocument",
    "ConfigError",
    "KindReport",
    "MappingSpec",
    "ProviderSpec",
    "RuleSpec",
    "apply_config",
    "export_config",
    "load_config_document",
]
