"""Tiny readers for settings that come from the environment.

Each fails loudly with ImproperlyConfigured on a value it cannot read, so a
typo in a deployment stops the gateway at start instead of misbehaving later.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from proxysite.private_files import ensure_private_dir, tighten_files

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def envfloat(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def envstr(name: str, default: str) -> str:
    return os.environ.get(name, default)


def envlist(name: str, default: list[str], *, sep: str = ",") -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(sep) if item.strip()]


def envsecret(name: str) -> str | None:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/K8s secrets)."""
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points at an unreadable file: {exc}") from None
    return None


def secret_from_file_or_new(name: str, path: Path, make: Callable[[], str]) -> str:
    """NAME from the environment, else the value kept in `path`, else a new one saved there.

    Used for the embedded default so a newcomer needs no configuration: the
    file is created with mode 0600 in the data directory on first start (an
    existing one readable by others is tightened to 0600).
    """
    value = envsecret(name)
    if value:
        return value
    if path.exists():
        tighten_files([path])
        return path.read_text().strip()
    ensure_private_dir(path.parent)
    value = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race: use its value
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
