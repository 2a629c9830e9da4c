"""Typed values out of line-numbered YAML, collecting every error instead of stopping at the first.

`Reader` is what the `read_*` modules share: where a value is (`FILE:LINE:
path`), its shape (mapping, list, list of uniquely named mappings) and its
scalars. Strings are accepted where numbers or booleans are expected, since
`${NAME}` always expands to a string.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from routing.config_io.document import ConfigDocument
from routing.config_io.schema import EXTENSION_PREFIX
from routing.config_io.yaml_lines import At, LineDict, LineList, empty_mapping

if TYPE_CHECKING:
    from django.db.models import Model

DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
TRUE_WORDS = ("true", "yes", "on")
FALSE_WORDS = ("false", "no", "off")


class Reader:
    """Turns the parsed YAML into specs on `doc`, collecting `errors` and `doc.warnings`."""

    def __init__(self, source: str, known_providers: Collection[str]) -> None:
        self.source = source
        #: Providers that targets may name without the file defining them (the database's).
        self.known_providers = set(known_providers)
        #: Providers the file defines, set before any target is read.
        self.defined_providers: set[str] = set()
        self.errors: list[str] = []
        self.doc = ConfigDocument(source=source)

    # Reporting

    def where(self, at: At) -> str:
        return f"{self.source}:{at.line}: {at.path}" if at.path else f"{self.source}:{at.line}"

    def fail(self, at: At, message: str) -> None:
        self.errors.append(f"{self.where(at)}: {message}")

    def warn(self, at: At, message: str) -> None:
        self.doc.warnings.append(f"{self.where(at)}: {message}")

    # Shapes

    def mapping(
        self,
        value: Any,
        at: At,
        allowed: tuple[str, ...] | None,
        ignored: Mapping[str, str] | None = None,
        *,
        allow_extensions: bool = False,
    ) -> LineDict | None:
        """`value` as a mapping (null is empty); unknown keys are errors, ignored ones warnings."""
        if value is None:
            return empty_mapping(at.line)
        if not isinstance(value, LineDict):
            self.fail(at, f"must be a mapping, not {_type_name(value)}")
            return None
        for key in value:
            if not isinstance(key, str):
                self.fail(at.key(value, key), f"keys must be strings, not {_type_name(key)}")
            elif allow_extensions and key.startswith(EXTENSION_PREFIX):
                continue
            elif ignored and key in ignored:
                self.warn(at.key(value, key), f"ignored: {ignored[key]}")
            elif allowed is not None and key not in allowed:
                self.fail(
                    at.key(value, key),
                    f"unknown key {key!r} (expected one of: {', '.join(allowed)})",
                )
        return value

    def entries(self, mapping: LineDict, at: At) -> Iterator[tuple[str, Any, At]]:
        for key, value in mapping.items():
            if isinstance(key, str):
                yield key, value, at.key(mapping, key)

    def items(self, value: Any, at: At) -> Iterator[tuple[int, Any, At]]:
        if value is None:
            return
        if not isinstance(value, LineList):
            self.fail(at, f"must be a list, not {_type_name(value)}")
            return
        for index, item in enumerate(value):
            yield index, item, at.item(value, index)

    def named_items(
        self,
        value: Any,
        at: At,
        allowed: tuple[str, ...],
        name_field: tuple[type[Model], str],
        *,
        key: str,
        what: str,
    ) -> Iterator[tuple[LineDict, At, str]]:
        """Each mapping in a list, with its required `key`, reported when not unique."""
        names: set[str] = set()
        for _, item, item_at in self.items(value, at):
            data = self.mapping(item, item_at, allowed)
            if data is None:
                continue
            name_at = item_at.key(data, key)
            name = self.string(data.get(key), name_at, required=True, model_field=name_field)
            if name and name in names:
                self.fail(name_at, f"duplicate {what} {name!r}")
            names.add(name)
            yield data, item_at, name

    # Scalars

    def text(self, value: Any, at: At) -> str | None:
        """`value` as text (a number counts), or None once reported."""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(at, f"must be a string, not {_type_name(value)}")
            return None
        return str(value)

    def string(
        self,
        value: Any,
        at: At,
        *,
        required: bool = False,
        model_field: tuple[type[Model], str] | None = None,
    ) -> str:
        if value is None or value == "":
            if required:
                self.fail(at, "required")
            return ""
        text = self.text(value, at)
        if text is None:
            return ""
        text = text.strip()
        if model_field is not None:
            limit = model_field[0]._meta.get_field(model_field[1]).max_length
            if limit is not None and len(text) > limit:
                self.fail(at, f"longer than {limit} characters")
        return text

    def boolean(self, value: Any, at: At, default: bool) -> bool:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        self.fail(at, f"must be true or false, not {value!r}")
        return default

    def tri_state(self, value: Any, at: At) -> str:
        if value is None or value == "":
            return ""
        return "yes" if self.boolean(value, at, default=False) else "no"

    def integer(self, value: Any, at: At, *, minimum: int | None = None) -> int | None:
        if value is None:
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            number = int(value)
        if number is None:
            self.fail(at, f"must be a whole number, not {value!r}")
            return None
        if minimum is not None and number < minimum:
            self.fail(at, f"must be at least {minimum}, not {number}")
            return None
        return number

    def seconds(self, value: Any, at: At) -> float | None:
        """Seconds as a number, or a Go duration such as `90s`, `10m`, `1m30s`."""
        if value is None:
            return None
        seconds: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str):
            text = value.strip()
            try:
                seconds = float(text)
            except ValueError:
                parts = DURATION_PART.findall(text)
                if parts and "".join(n + u for n, u in parts) == text:
                    seconds = sum(float(n) * DURATION_UNITS[u] for n, u in parts)
        if seconds is None or seconds <= 0:
            self.fail(
                at, f"must be a positive number of seconds or a duration like 30s, not {value!r}"
            )
            return None
        return seconds


def _type_name(value: Any) -> str:
    """How an error message names the type of a YAML value."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), type(value).__name__
    )
