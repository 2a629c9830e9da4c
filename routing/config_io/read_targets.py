"""Targets: `provider:model` strings, their fallbacks, and the providers they may name.

A provider is either defined by the file or, when the import keeps the
database's rows, already stored (`Reader.known_providers`); the latter are
recorded on the document so that applying can check they still exist.
"""

from __future__ import annotations

from typing import Any

from routing.config_io.go_proxy import go_proxy_provider_for
from routing.config_io.reader import Reader
from routing.config_io.schema import TARGET_KEYS
from routing.config_io.yaml_lines import At, LineDict


def read_provider_reference(reader: Reader, name: str, at: At) -> bool:
    """Whether `name` is a provider a target may use; reported when not."""
    if name in reader.defined_providers:
        return True
    if name in reader.known_providers:
        reader.doc.external_providers.append((name, reader.where(at)))
        return True
    defined = ", ".join(sorted(reader.defined_providers | reader.known_providers)) or "none"
    reader.fail(at, f"unknown provider {name!r} (defined: {defined})")
    return False


def read_target(
    reader: Reader,
    value: Any,
    at: At,
    *,
    model_optional: bool = False,
    go_bare_model: bool = False,
) -> tuple[str, str] | None:
    """`provider:model` -> (provider, model); a rule may give just a provider (same model)."""
    text = reader.string(value, at, required=True)
    if not text:
        return None
    provider, colon, model = (part.strip() for part in text.partition(":"))
    if not colon and go_bare_model:
        # The Go proxy's mappings name only a model and pick the provider by its prefix.
        model, provider = text, go_proxy_provider_for(text)
        reader.warn(at, f"{text!r} names no provider; using {provider!r}, as the Go proxy did")
    elif not colon and model_optional:
        provider, model = text, ""
    elif not provider or (not model and not model_optional):
        reader.fail(at, f"{text!r} is not a target; write provider:model")
        return None
    if not read_provider_reference(reader, provider, at):
        return None
    return provider, model


def read_fallbacks(reader: Reader, value: Any, at: At) -> list[str]:
    """A list of targets, as `provider:model` strings."""
    result: list[str] = []
    for _, item, item_at in reader.items(value, at):
        parsed = read_target(reader, item, item_at)
        if parsed is not None:
            result.append(f"{parsed[0]}:{parsed[1]}")
    return result


def read_target_entry(
    reader: Reader, value: Any, at: At, *, go_bare_model: bool = False
) -> tuple[str, str, list[str], bool] | None:
    """An alias or mapping value: "provider:model" or {target, fallbacks, enabled}."""
    if isinstance(value, LineDict):
        data = reader.mapping(value, at, TARGET_KEYS)
        if data is None:
            return None
        target = read_target(
            reader, data.get("target"), at.key(data, "target"), go_bare_model=go_bare_model
        )
        fallbacks = read_fallbacks(reader, data.get("fallbacks"), at.key(data, "fallbacks"))
        enabled = reader.boolean(data.get("enabled"), at.key(data, "enabled"), True)
    else:
        target = read_target(reader, value, at, go_bare_model=go_bare_model)
        fallbacks, enabled = [], True
    if target is None:
        return None
    return target[0], target[1], fallbacks, enabled
