"""Which stored credential (account) of a provider serves the next attempt.

Smooth weighted round-robin (nginx's algorithm): over any window each account
is picked in proportion to its weight, without bursts. An account that got a
429, 529, 401 or 403 cools down (for the upstream's `retry-after` when it
sent one) and is skipped until then — when the provider has another account
to turn to; a provider's only account is never benched (the next request
asks the upstream again, and fallbacks still apply). When REDIS_URL is set, cooldowns and
the rotation counter are shared by every worker (`providers.shared_state`);
otherwise they are per process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from providers.config import CredentialConfig, ProviderConfig

#: Seconds an account rests after each status when the upstream says nothing.
DEFAULT_COOLDOWN_BY_STATUS = {429: 60.0, 529: 30.0, 401: 600.0, 403: 600.0}
#: Statuses that are about the account rather than the request.
ACCOUNT_STATUSES = frozenset(DEFAULT_COOLDOWN_BY_STATUS)
#: A retry-after longer than this is capped (a misconfigured upstream).
MAX_COOLDOWN = 3600.0


class AccountsCoolingDown(Exception):
    """Every account of the provider is resting; `seconds` until the first is back."""

    def __init__(self, provider: str, seconds: float) -> None:
        super().__init__(
            f"every account of provider {provider!r} is cooling down "
            f"(next one free in {seconds:.0f}s)"
        )
        self.seconds = seconds


@dataclass(frozen=True)
class Cooldown:
    provider: str
    label: str
    until: float  # time.time()


class AccountPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[tuple[str, str], int] = {}
        self._cooling: dict[tuple[str, str], float] = {}
        self.shared = None  # providers.shared_state.SharedState when Redis is configured

    def pick(
        self, provider: ProviderConfig, exclude: frozenset[str] = frozenset()
    ) -> CredentialConfig | None:
        """The next account to use; None when the provider has none (client auth is used).

        Raises AccountsCoolingDown when every account is resting or excluded.
        """
        creds = provider.credentials
        if not creds:
            return None
        now = time.time()
        usable = [
            c
            for c in creds
            if c.label not in exclude and not self._resting(provider.name, c.label, now)
        ]
        if not usable:
            waits = [
                self._cooling.get((provider.name, c.label), now) - now
                for c in creds
                if c.label not in exclude
            ]
            raise AccountsCoolingDown(provider.name, max(0.0, min(waits, default=0.0)))
        if len(usable) == 1:
            return usable[0]
        with self._lock:
            total = 0
            best: CredentialConfig | None = None
            best_weight = 0
            for cred in usable:
                key = (provider.name, cred.label)
                weight = self._current.get(key, 0) + cred.weight
                self._current[key] = weight
                total += cred.weight
                if best is None or weight > best_weight:
                    best, best_weight = cred, weight
            assert best is not None
            self._current[(provider.name, best.label)] -= total
            return best

    def cool_down(self, provider: str, label: str, status: int, retry_after: str | None) -> float:
        """Rest an account after `status`; returns the seconds chosen.

        Callers only do this for providers with several accounts.
        """
        seconds = parse_retry_after(retry_after)
        if seconds is None:
            seconds = DEFAULT_COOLDOWN_BY_STATUS.get(status, 30.0)
        seconds = min(seconds, MAX_COOLDOWN)
        until = time.time() + seconds
        self.mark(Cooldown(provider, label, until))
        if self.shared is not None:
            self.shared.publish_cooldown(Cooldown(provider, label, until))
        return seconds

    def mark(self, cooldown: Cooldown) -> None:
        """Record a cooldown (from this process or, via Redis, another one)."""
        with self._lock:
            key = (cooldown.provider, cooldown.label)
            self._cooling[key] = max(self._cooling.get(key, 0.0), cooldown.until)

    def _resting(self, provider: str, label: str, now: float) -> bool:
        until = self._cooling.get((provider, label))
        return until is not None and until > now

    def cooling(self) -> dict[tuple[str, str], float]:
        """Accounts resting now -> seconds left (for the admin and tests)."""
        now = time.time()
        return {k: v - now for k, v in self._cooling.items() if v > now}

    def reset(self) -> None:
        with self._lock:
            self._current.clear()
            self._cooling.clear()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a retry-after header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


accounts = AccountPool()
