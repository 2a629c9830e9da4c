"""Which stored credential of a provider serves the next request.

Smooth weighted round-robin (the nginx algorithm): over any window each
credential is picked in proportion to its weight, without bursts. State is
per process; cooldowns and sharing across workers come with the routing issue.
"""

from __future__ import annotations

import threading

from routing.config import CredentialConfig, ProviderConfig

_lock = threading.Lock()
_current_weights: dict[tuple[str, str], int] = {}


def pick_credential(provider: ProviderConfig) -> CredentialConfig | None:
    creds = provider.credentials
    if not creds:
        return None
    if len(creds) == 1:
        return creds[0]
    with _lock:
        total = 0
        best: CredentialConfig | None = None
        best_weight = 0
        for cred in creds:
            key = (provider.name, cred.label)
            weight = _current_weights.get(key, 0) + cred.weight
            _current_weights[key] = weight
            total += cred.weight
            if best is None or weight > best_weight:
                best, best_weight = cred, weight
        assert best is not None
        _current_weights[(provider.name, best.label)] -= total
        return best
