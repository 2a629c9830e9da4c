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


def fernet_from_key(key: str) -> Fernet:
    """A Fernet for `key`; ValueError (without the key) when it is not a Fernet key."""
    try:
        return Fernet(key.strip().encode())
    except (ValueError, TypeError):
        raise ValueError("not a Fernet key (44 url-safe base64 characters)") from None


def readable_with_current_key(token: str) -> bool:
    """Whether SWITCHBOARD_ENCRYPTION_KEY decrypts `token` (rotatekey skips those)."""
    try:
        decrypt(token)
    except ValueError:
        return False
    return True


def reencrypt(token: str, old: Fernet) -> str:
    """`token` decrypted with the old key and encrypted with SWITCHBOARD_ENCRYPTION_KEY.

    Raises ValueError (never the token) when the old key does not decrypt it.
    """
    try:
        plaintext = old.decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("the old key does not decrypt this credential either") from None
    return encrypt(plaintext)


def mask(secret: str) -> str:
    """What an operator may see of a secret: its length and last four characters."""
    if len(secret) <= 8:
        return "•" * len(secret)
    return f"••••{secret[-4:]} ({len(secret)} chars)"
