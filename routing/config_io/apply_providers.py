"""Writing providers and their credentials (accounts), and which provider is the default.

A credential whose account gives no `api_key` (an exported file has none)
keeps its stored key; one whose stored key cannot be decrypted is
overwritten.
"""

from __future__ import annotations

from typing import Any

from routing.config_io.document import ConfigDocument
from routing.config_io.report import ApplyReport
from routing.config_io.upsert import upsert
from routing.models import Credential, Provider


def apply_providers(doc: ConfigDocument, report: ApplyReport) -> dict[str, Provider]:
    """Upsert the file's providers; returns them by name."""
    existing = {p.name: p for p in Provider.objects.all()}
    rows: dict[str, Provider] = {}
    for spec in doc.providers:
        wanted: dict[str, Any] = {
            "name": spec.name,
            "wire_format": spec.wire_format,
            "base_url": spec.base_url,
            "preset": spec.preset,
            "enabled": spec.enabled,
            "connect_timeout": spec.connect_timeout,
            "read_timeout": spec.read_timeout,
            "extra_headers": spec.extra_headers,
        }
        if doc.default_provider is not None:
            wanted["is_default"] = spec.name == doc.default_provider
        row = upsert(
            report.kinds["providers"], spec.name, existing.get(spec.name), Provider, wanted
        )
        rows[spec.name] = row  # type: ignore[assignment]
    if doc.default_provider is not None and doc.default_provider not in rows:
        row = existing[doc.default_provider]
        if not row.is_default:
            row.is_default = True
            row.save()  # clears the flag elsewhere
            report.kinds["providers"].updated.append(row.name)
    return rows


def apply_credentials(
    doc: ConfigDocument, providers: dict[str, Provider], replace: bool, report: ApplyReport
) -> None:
    """Upsert each provider's accounts by label; `replace` deletes the accounts it omits."""
    kind = report.kinds["credentials"]
    for spec in doc.providers:
        provider = providers[spec.name]
        existing = {c.label: c for c in provider.credentials.all()}
        for account in spec.accounts:
            label = f"{spec.name}/{account.label}"
            row = existing.pop(account.label, None)
            if row is None:
                row = Credential(provider=provider, label=account.label)
                kind.created.append(label)
            elif (
                row.weight == account.weight
                and row.enabled == account.enabled
                and (account.api_key is None or _stored_secret(row) == account.api_key)
            ):
                kind.unchanged.append(label)
                continue
            else:
                kind.updated.append(label)
            row.weight, row.enabled = account.weight, account.enabled
            if account.api_key is not None:
                row.set_secret(account.api_key)
            row.save()
        if replace:
            for row in existing.values():
                kind.deleted.append(f"{spec.name}/{row.label}")
                row.delete()


def _stored_secret(row: Credential) -> str | None:
    try:
        return row.secret()
    except ValueError:
        return None  # unreadable: overwrite it
