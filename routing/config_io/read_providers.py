"""The `providers` section and `default_provider`: upstreams, their accounts, timeouts, headers.

A provider may omit what its preset or (for `anthropic` and `openai`) its
name implies, as the Go proxy's providers did: format and base URL. One
`api_key` becomes one account labelled `default`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from providers.openai.presets import PRESETS
from routing.config_io.document import AccountSpec, ProviderSpec
from routing.config_io.go_proxy import GO_PROXY_BASE_URLS, IGNORED_PROVIDER_KEYS
from routing.config_io.read_targets import read_provider_reference
from routing.config_io.reader import Reader
from routing.config_io.schema import (
    ACCOUNT_KEYS,
    DEFAULT_CREDENTIAL_LABEL,
    DEFAULT_WEIGHT,
    PROVIDER_KEYS,
    TIMEOUT_KEYS,
    WIRE_FORMAT_NAMES,
)
from routing.config_io.yaml_lines import At, LineDict, empty_mapping
from routing.models import Credential, Provider

SLUG = re.compile(r"[-a-zA-Z0-9_]+")


def read_providers(reader: Reader, value: Any, at: At) -> None:
    """Each provider onto `reader.doc.providers`; every name counts as defined for targets."""
    providers = reader.mapping(value, at, None)
    if providers is None:
        return
    # Every name counts as defined, even with errors inside, so targets don't cascade.
    reader.defined_providers = {key for key in providers if isinstance(key, str)}
    for name, provider_value, provider_at in reader.entries(providers, at):
        _read_provider(reader, name, provider_value, provider_at)


def read_default_provider(reader: Reader, root: LineDict, top: At) -> None:
    """`default_provider`, or the Go-style `fallback_provider`; both must agree."""
    named = [
        (reader.string(root[key], top.key(root, key), required=True), top.key(root, key))
        for key in ("default_provider", "fallback_provider")
        if key in root
    ]
    if len({name for name, _ in named}) > 1:
        reader.fail(named[1][1], "differs from default_provider; keep one of the two")
        return
    if not named or not named[0][0]:
        return
    name, at = named[0]
    if not read_provider_reference(reader, name, at):
        return
    reader.doc.default_provider = name
    spec = next((p for p in reader.doc.providers if p.name == name), None)
    if spec is not None and not spec.enabled:
        reader.fail(at, f"provider {name!r} is disabled and cannot be the default")


def _read_provider(reader: Reader, name: str, value: Any, at: At) -> None:
    data = reader.mapping(value, at, PROVIDER_KEYS, IGNORED_PROVIDER_KEYS)
    if data is None:
        return
    errors_before = len(reader.errors)
    if not SLUG.fullmatch(name) or len(name) > Provider._meta.get_field("name").max_length:
        reader.fail(at, "a provider name may use only letters, digits, '-' and '_'")
    preset = reader.string(data.get("preset"), at.key(data, "preset"))
    if preset and preset not in PRESETS:
        reader.fail(
            at.key(data, "preset"), f"unknown preset {preset!r} (one of: {', '.join(PRESETS)})"
        )
    wire_format = reader.string(data.get("format"), at.key(data, "format"))
    if not wire_format:
        wire_format = "openai" if preset else name if name in WIRE_FORMAT_NAMES else ""
        if not wire_format:
            reader.fail(at, "format: required: anthropic or openai")
    elif wire_format not in WIRE_FORMAT_NAMES:
        reader.fail(at.key(data, "format"), "must be anthropic or openai")
    if preset and wire_format == "anthropic":
        reader.fail(at.key(data, "preset"), "presets apply to openai-format providers only")
    base_url = _read_base_url(reader, data, at, name, preset)
    timeouts_at = at.key(data, "timeouts")
    timeouts = reader.mapping(data.get("timeouts"), timeouts_at, TIMEOUT_KEYS)
    if timeouts is None:  # reported; go on without
        timeouts = empty_mapping(timeouts_at.line)
    connect_timeout = reader.seconds(timeouts.get("connect"), timeouts_at.key(timeouts, "connect"))
    read_timeout = reader.seconds(timeouts.get("read"), timeouts_at.key(timeouts, "read"))
    enabled = reader.boolean(data.get("enabled"), at.key(data, "enabled"), True)
    headers = _read_headers(reader, data.get("extra_headers"), at.key(data, "extra_headers"))
    accounts = _read_accounts(reader, data, at)
    if name == "openai" and "api_key" not in data and "accounts" not in data:
        reader.warn(
            at, "no api_key: the Go proxy read OPENAI_API_KEY; write api_key: ${OPENAI_API_KEY}"
        )
    if len(reader.errors) > errors_before:
        return  # the file is rejected anyway; keep later checks from tripping on this one
    reader.doc.providers.append(
        ProviderSpec(
            name=name,
            wire_format=wire_format,
            base_url=base_url,
            preset=preset,
            enabled=enabled,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            extra_headers=headers,
            accounts=tuple(accounts),
            where=reader.where(at),
        )
    )


def _read_base_url(reader: Reader, data: LineDict, at: At, name: str, preset: str) -> str:
    url_at = at.key(data, "base_url")
    url = reader.string(data.get("base_url"), url_at, model_field=(Provider, "base_url"))
    if not url:
        url = PRESETS[preset].default_base_url if preset in PRESETS else ""
        url = url or GO_PROXY_BASE_URLS.get(name, "")
        if not url:
            reader.fail(at, "base_url: required (no preset or known provider name gives one)")
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        reader.fail(url_at, f"{url!r} is not an http(s) URL")
    return url


def _read_headers(reader: Reader, value: Any, at: At) -> dict[str, str]:
    data = reader.mapping(value, at, None)
    headers: dict[str, str] = {}
    if data is None:
        return headers
    for key, header_value, header_at in reader.entries(data, at):
        text = reader.text(header_value, header_at)
        if text is not None:
            headers[key] = text
    return headers


def _read_accounts(reader: Reader, data: LineDict, at: At) -> list[AccountSpec]:
    key_at = at.key(data, "api_key")
    api_key = reader.string(data.get("api_key"), key_at)
    if "accounts" not in data:
        if not api_key:
            return []
        where = reader.where(key_at)
        return [AccountSpec(DEFAULT_CREDENTIAL_LABEL, api_key, DEFAULT_WEIGHT, True, where)]
    if api_key:
        reader.fail(key_at, "give api_key or accounts, not both")
    result: list[AccountSpec] = []
    for account, item_at, label in reader.named_items(
        data["accounts"],
        at.key(data, "accounts"),
        ACCOUNT_KEYS,
        (Credential, "label"),
        key="label",
        what="account label",
    ):
        weight = reader.integer(account.get("weight"), item_at.key(account, "weight"), minimum=1)
        result.append(
            AccountSpec(
                label=label,
                api_key=reader.string(account.get("api_key"), item_at.key(account, "api_key"))
                or None,
                weight=DEFAULT_WEIGHT if weight is None else weight,
                enabled=reader.boolean(
                    account.get("enabled"), item_at.key(account, "enabled"), True
                ),
                where=reader.where(item_at),
            )
        )
    return result
