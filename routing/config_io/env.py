"""`${NAME}` in config files: expanded on import, escaped on export so it survives the next one.

`${NAME:-default}` falls back when NAME is unset or empty; `$${` is a
literal `${`. A variable that is set but empty, with no default, expands to
nothing; an unset one is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from routing.config_io.yaml_lines import At, LineDict, LineList

ENV_REFERENCE = re.compile(r"\$(\$?)\{([^}]*)\}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENV_DEFAULT_SEPARATOR = ":-"


def expand_env(value: Any, at: At, env: Mapping[str, str], fail: Callable[[At, str], None]) -> Any:
    """`value` with `${NAME}` and `${NAME:-default}` replaced in every string; `$${` -> `${`."""
    if isinstance(value, LineDict):
        for key in list(value):
            value[key] = expand_env(value[key], at.key(value, key), env, fail)
        return value
    if isinstance(value, LineList):
        for index in range(len(value)):
            value[index] = expand_env(value[index], at.item(value, index), env, fail)
        return value
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        escaped, inner = match.group(1), match.group(2)
        if escaped:
            return "${" + inner + "}"
        name, separator, default = inner.partition(ENV_DEFAULT_SEPARATOR)
        if not ENV_NAME.fullmatch(name):
            fail(
                at,
                f"${{{inner}}} is not a variable reference; write ${{NAME}} or ${{NAME:-default}}",
            )
            return ""
        if env.get(name):
            return env[name]
        if separator:
            return default
        if name in env:
            return ""
        fail(at, f"environment variable {name} is not set")
        return ""

    return ENV_REFERENCE.sub(substitute, value)


def escape_env(value: Any) -> Any:
    """Keep `${` literal through the next import's expansion."""
    if isinstance(value, dict):
        return {key: escape_env(item) for key, item in value.items()}
    if isinstance(value, list):
        return [escape_env(item) for item in value]
    if isinstance(value, str):
        return value.replace("${", "$${")
    return value
