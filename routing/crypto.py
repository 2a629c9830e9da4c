"""Encryption at rest for provider credentials (Fernet, key from settings)."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


@lru_cache(maxsize=1)
def _fernet() -> Fernet:
    return Fernet(settings.SWITCHBOARD_ENCRYPTION_KEY.encode())


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """The plaintext; raises ValueError (never the token) when the key is wrong."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError(
            "a stored credential cannot be decrypted: SWITCHBOARD_ENCRYPTION_KEY changed"
        ) from None


def mask(secret: str) -> str:
    """What an operator may see of a secret: its length and last four characters."""
    if len(secret) <= 8:
        return "•" * len(secret)
    return f"••••{secret[-4:]} ({len(secret)} chars)"
