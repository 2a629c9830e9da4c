"""Where a provider's stored keys go is a credential matter.

A provider's `base_url` and `extra_headers` decide where its stored keys are
sent and with what: whoever may change them for a provider that holds
credentials could send those keys to a server of their own. So that change
also needs `routing.change_credential`, in the admin and in the API; a
provider without stored credentials is plain config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from routing.models import Provider

#: Provider fields that decide where, and with which headers, its keys are sent.
CONNECTION_FIELDS = ("base_url", "extra_headers")
#: The permission those changes need besides change_provider.
CREDENTIAL_PERMISSION = "routing.change_credential"
REFUSAL = (
    "Changing base_url or extra_headers of a provider that has stored credentials "
    "needs the permission to change credentials."
)


def guarded_changes(provider: Provider | None, new_values: Mapping[str, Any]) -> list[str]:
    """The connection fields that `new_values` changes on a saved provider with credentials."""
    if provider is None or provider.pk is None:
        return []
    changed = [
        name
        for name in CONNECTION_FIELDS
        if name in new_values and new_values[name] != getattr(provider, name)
    ]
    if changed and provider.credentials.exists():
        return changed
    return []


def may_change_connection(user: Any, provider: Provider | None, new_values: Mapping) -> bool:
    """False when `new_values` moves a provider's stored keys and `user` may not do that."""
    if not guarded_changes(provider, new_values):
        return True
    return user is not None and bool(user.has_perm(CREDENTIAL_PERMISSION))
