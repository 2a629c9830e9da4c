"""pick_credential: smooth weighted round-robin over a provider's stored credentials.

The rotation state is module-global, keyed by provider name, so each test
uses provider names of its own.
"""

from __future__ import annotations

import uuid
from collections import Counter

from providers.credentials import pick_credential
from routing.config import CredentialConfig, ProviderConfig


def provider(*credentials: CredentialConfig, name: str | None = None) -> ProviderConfig:
    return ProviderConfig(
        name=name or f"provider-{uuid.uuid4().hex}",
        wire_format="anthropic",
        base_url="https://api.example",
        connect_timeout=1.0,
        read_timeout=1.0,
        credentials=credentials,
    )


def picks(prov: ProviderConfig, n: int) -> list[str]:
    labels = []
    for _ in range(n):
        cred = pick_credential(prov)
        assert cred is not None
        labels.append(cred.label)
    return labels


def test_it_picks_nothing_when_the_provider_has_no_credentials() -> None:
    assert pick_credential(provider()) is None


def test_it_always_picks_the_only_credential() -> None:
    only = CredentialConfig("only", "sk-1", weight=5)
    prov = provider(only)
    assert all(pick_credential(prov) is only for _ in range(5))


def test_it_returns_the_configured_credential_objects() -> None:
    a, b = CredentialConfig("a", "sk-a"), CredentialConfig("b", "sk-b")
    prov = provider(a, b)
    assert [pick_credential(prov) for _ in range(2)] == [a, b]
    assert pick_credential(prov).secret == "sk-a"


def test_it_alternates_between_equal_weights() -> None:
    prov = provider(CredentialConfig("a", "x"), CredentialConfig("b", "y"))
    assert picks(prov, 6) == ["a", "b", "a", "b", "a", "b"]


def test_it_interleaves_weights_two_to_one_as_a_b_a() -> None:
    prov = provider(CredentialConfig("a", "x", weight=2), CredentialConfig("b", "y", weight=1))
    assert picks(prov, 9) == ["a", "b", "a"] * 3


def test_it_picks_weights_two_to_one_exactly_two_to_one_without_bursts() -> None:
    prov = provider(CredentialConfig("a", "x", weight=2), CredentialConfig("b", "y", weight=1))
    sequence = picks(prov, 300)
    assert Counter(sequence) == {"a": 200, "b": 100}
    assert "a,a,a" not in ",".join(sequence)
    assert "b,b" not in ",".join(sequence)


def test_it_spreads_a_heavy_weight_like_nginx() -> None:
    # The example given when nginx introduced smooth weighted round-robin.
    prov = provider(
        CredentialConfig("a", "x", weight=5),
        CredentialConfig("b", "y", weight=1),
        CredentialConfig("c", "z", weight=1),
    )
    assert picks(prov, 14) == ["a", "a", "b", "a", "c", "a", "a"] * 2


def test_it_rotates_each_provider_independently() -> None:
    suffix = uuid.uuid4().hex
    creds = (CredentialConfig("a", "x", weight=2), CredentialConfig("b", "y", weight=1))
    first = provider(*creds, name=f"first-{suffix}")
    second = provider(*creds, name=f"second-{suffix}")
    interleaved = [(pick_credential(first).label, pick_credential(second).label) for _ in range(6)]
    assert [f for f, _ in interleaved] == ["a", "b", "a"] * 2
    assert [s for _, s in interleaved] == ["a", "b", "a"] * 2


def test_it_keeps_rotating_across_config_reloads_of_the_same_provider() -> None:
    name = f"reloaded-{uuid.uuid4().hex}"
    creds = (CredentialConfig("a", "x"), CredentialConfig("b", "y"))
    assert picks(provider(*creds, name=name), 1) == ["a"]
    assert picks(provider(*creds, name=name), 1) == ["b"]
