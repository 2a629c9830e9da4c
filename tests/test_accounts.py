"""Account rotation (smooth weighted round-robin) and cooldowns.

The rotation state is module-global, keyed by provider name, so each test
uses provider names of its own.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from email.utils import formatdate

import pytest

from providers.accounts import AccountPool, AccountsCoolingDown, accounts, parse_retry_after
from routing.config import CredentialConfig, ProviderConfig

pick_credential = accounts.pick


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


def test_an_account_that_got_a_429_rests_for_the_retry_after_and_is_skipped() -> None:
    pool = AccountPool()
    prov = provider(CredentialConfig("a", "x"), CredentialConfig("b", "y"))
    seconds = pool.cool_down(prov.name, "a", 429, "7")

    assert seconds == 7
    assert {pool.pick(prov).label for _ in range(4)} == {"b"}
    assert 6 < pool.cooling()[(prov.name, "a")] <= 7


def test_the_default_rest_depends_on_the_status() -> None:
    pool = AccountPool()
    assert pool.cool_down("p", "a", 429, None) == 60
    assert pool.cool_down("p", "b", 529, None) == 30
    assert pool.cool_down("p", "c", 401, None) == 600


def test_an_absurd_retry_after_is_capped_at_an_hour() -> None:
    assert AccountPool().cool_down("p", "a", 429, "99999999") == 3600


def test_it_raises_when_every_account_rests_and_says_when_one_is_back() -> None:
    pool = AccountPool()
    prov = provider(CredentialConfig("a", "x"), CredentialConfig("b", "y"))
    pool.cool_down(prov.name, "a", 429, "30")
    pool.cool_down(prov.name, "b", 429, "10")

    with pytest.raises(AccountsCoolingDown) as caught:
        pool.pick(prov)

    assert 9 < caught.value.seconds <= 10
    assert "every account of provider" in str(caught.value)


def test_excluded_accounts_are_not_picked_again_in_the_same_request() -> None:
    pool = AccountPool()
    prov = provider(CredentialConfig("a", "x"), CredentialConfig("b", "y"))
    assert pool.pick(prov, frozenset({"a"})).label == "b"
    with pytest.raises(AccountsCoolingDown):
        pool.pick(prov, frozenset({"a", "b"}))


def test_an_account_is_back_once_its_rest_is_over() -> None:
    pool = AccountPool()
    prov = provider(CredentialConfig("a", "x"))
    pool.cool_down(prov.name, "a", 429, "0.05")
    with pytest.raises(AccountsCoolingDown):
        pool.pick(prov)
    time.sleep(0.1)
    assert pool.pick(prov).label == "a"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("12", 12.0), ("0", 0.0), ("1.5", 1.5), ("", None), (None, None), ("soon", None)],
)
def test_it_reads_retry_after_in_seconds(header, expected) -> None:
    assert parse_retry_after(header) == expected


def test_it_reads_retry_after_as_an_http_date() -> None:
    seconds = parse_retry_after(formatdate(time.time() + 120, usegmt=True))
    assert seconds is not None and 110 < seconds <= 120
