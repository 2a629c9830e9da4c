"""Which credential goes upstream with a request: closed by default, in one place.

A provider's stored credentials are attached only to requests that carried a
valid gateway key (`Exchange.key_verified`). Without one, an Anthropic-format
provider gets the client's own `x-api-key` / `Authorization` (never another
vendor: the client's Anthropic key is not theirs to see); any other case is
a 401 naming the provider. With a key, the provider's accounts rotate and
cool down (`providers.accounts`).
"""

from __future__ import annotations

from collections.abc import Collection

from gateway.exchange import Exchange
from providers.accounts import accounts
from providers.config import CredentialConfig, ProviderConfig
from providers.errors import AuthenticationFailed

#: Headers that carry the client's own credential.
CLIENT_CREDENTIAL_HEADERS = ("x-api-key", "authorization")
#: The account label logged when the client's own credential is used.
CLIENT_ACCOUNT = "client"


class NeedsGatewayKey(AuthenticationFailed):
    def __init__(self, provider: str) -> None:
        super().__init__(
            f"provider {provider!r} uses credentials stored in the gateway, which are only "
            "attached to requests with a gateway key (SWITCHBOARD_API_KEYS, sent in "
            "x-switchboard-key)"
        )


def pick_credential(
    exchange: Exchange, provider: ProviderConfig, tried: Collection[str] = ()
) -> CredentialConfig | None:
    """The stored account to use, or None for the client's own (or no credential at all).

    `tried` holds the account labels already used for this request. Raises
    NeedsGatewayKey when the request may not use the stored credentials and
    brings none of its own, and `providers.accounts.AccountsCoolingDown` when
    every account left is resting.
    """
    if provider.credentials and not exchange.key_verified:
        headers = exchange.header_map
        client_brings_one = provider.wire_format == "anthropic" and any(
            name in headers for name in CLIENT_CREDENTIAL_HEADERS
        )
        if client_brings_one and CLIENT_ACCOUNT not in tried:
            return None
        raise NeedsGatewayKey(provider.name)
    return accounts.pick(provider, frozenset(tried))


def account_label(credential: CredentialConfig | None) -> str:
    return credential.label if credential is not None else CLIENT_ACCOUNT
