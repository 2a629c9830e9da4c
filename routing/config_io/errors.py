"""The one error that loading, applying and exporting raise: every problem at once."""

from __future__ import annotations


class ConfigError(Exception):
    """A config file that cannot be imported; `errors` are `FILE:LINE: path: message` lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
