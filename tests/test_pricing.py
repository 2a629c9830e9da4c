"""requestlog.pricing: which price applies to a row, and what the row costs."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from requestlog import pricing
from requestlog.models import ModelPrice

pytestmark = pytest.mark.django_db

seed_migration = importlib.import_module("requestlog.migrations.0004_seed_model_prices")


@pytest.fixture(autouse=True)
def fresh_price_table():
    """The table is cached per process; tests roll back rows without signals."""
    pricing.price_table.invalidate()
    yield
    pricing.price_table.invalidate()


@pytest.fixture
def no_seeded_prices():
    ModelPrice.objects.all().delete()


def price(
    model_pattern: str, per_mtok: str = "1", provider_pattern: str = "", **fields
) -> ModelPrice:
    value = Decimal(per_mtok)
    defaults = {
        "input_per_mtok": value,
        "output_per_mtok": value,
        "cache_read_per_mtok": value,
        "cache_write_per_mtok": value,
    }
    defaults.update(fields)
    return ModelPrice.objects.create(
        model_pattern=model_pattern, provider_pattern=provider_pattern, **defaults
    )


def row(model: str, provider: str = "anthropic", **tokens: int) -> dict:
    return {"provider": provider, "target_model": model, **tokens}


def million_input(model: str, provider: str = "anthropic") -> Decimal | None:
    return pricing.cost_for(row(model, provider, input_tokens=1_000_000))


def test_it_prices_each_kind_of_token(no_seeded_prices):
    price(
        "claude-x*",
        input_per_mtok=Decimal("3"),
        output_per_mtok=Decimal("15"),
        cache_read_per_mtok=Decimal("0.30"),
        cache_write_per_mtok=Decimal("3.75"),
    )

    cost = pricing.cost_for(
        row(
            "claude-x-1",
            input_tokens=1000,
            output_tokens=2000,
            cache_read_input_tokens=10_000,
            cache_creation_input_tokens=4000,
        )
    )

    # (1000*3 + 2000*15 + 10000*0.30 + 4000*3.75) / 1e6
    assert cost == Decimal("0.05100000")


def test_the_most_specific_pattern_wins(no_seeded_prices):
    price("gpt-4o*", "2.5")
    price("gpt-4o-mini*", "0.15")

    assert million_input("gpt-4o-2024-08-06") == Decimal("2.5")
    assert million_input("gpt-4o-mini") == Decimal("0.15")


def test_a_provider_pattern_beats_any_provider(no_seeded_prices):
    price("claude-*", "3")
    price("claude-*", "4", provider_pattern="bedrock*")

    assert million_input("claude-sonnet", provider="bedrock-eu") == Decimal("4")
    assert million_input("claude-sonnet", provider="anthropic") == Decimal("3")


def test_a_lower_priority_number_beats_specificity(no_seeded_prices):
    price("gpt-5-mini*", "0.25")
    price("gpt-5*", "9", priority=1)

    assert million_input("gpt-5-mini") == Decimal("9")


def test_disabled_prices_are_ignored(no_seeded_prices):
    price("m*", "1")
    price("m-1*", "2", enabled=False)

    assert million_input("m-1") == Decimal("1")


def test_matching_ignores_case(no_seeded_prices):
    price("Claude-Sonnet*", "3", provider_pattern="Anthropic")

    assert million_input("claude-sonnet-4", provider="ANTHROPIC") == Decimal("3")


def test_an_unpriced_model_costs_none(no_seeded_prices):
    price("claude-*", "3")

    assert million_input("gpt-5") is None
    assert pricing.cost_for(row("")) is None


def test_it_prices_the_requested_model_when_no_target_was_chosen(no_seeded_prices):
    price("claude-*", "3")

    cost = pricing.cost_for(
        {
            "provider": "",
            "target_model": "",
            "requested_model": "claude-a",
            "input_tokens": 1_000_000,
        }
    )

    assert cost == Decimal("3")


def test_missing_or_odd_token_counts_count_as_zero(no_seeded_prices):
    price("m*", "1")

    cost = pricing.cost_for(
        {"provider": "p", "target_model": "m", "output_tokens": None, "input_tokens": True}
    )

    assert cost == Decimal("0E-8")


def test_it_rounds_to_the_log_rows_eight_decimals(no_seeded_prices):
    price("m*", "0.15")

    assert pricing.cost_for(row("m", input_tokens=1)) == Decimal("1.5E-7")
    assert pricing.cost_for(row("m", input_tokens=3, output_tokens=0)) == Decimal("4.5E-7")


def test_it_reads_the_table_at_most_every_refresh_interval(
    no_seeded_prices, django_assert_num_queries, monkeypatch
):
    price("m*", "1")
    now = [1000.0]
    monkeypatch.setattr(pricing.time, "monotonic", lambda: now[0])
    table = pricing.PriceTable(max_age=30)

    with django_assert_num_queries(1):
        table.find("p", "m")
        now[0] += 29
        table.find("p", "m")
    now[0] += 2
    with django_assert_num_queries(1):
        table.find("p", "m")


def test_a_price_saved_in_this_process_applies_at_once(no_seeded_prices):
    price("m*", "1")
    assert million_input("m") == Decimal("1")

    ModelPrice.objects.filter(model_pattern="m*").update(input_per_mtok=Decimal("2"))
    assert million_input("m") == Decimal("1")  # cached: update() sends no signal
    ModelPrice.objects.get(model_pattern="m*").save()

    assert million_input("m") == Decimal("2")


@pytest.mark.parametrize(
    ("model", "input_price", "cache_read_price"),
    [
        ("claude-opus-4-5-20251101", "5", "0.50"),
        ("claude-opus-4-1-20250805", "15", "1.50"),
        ("claude-opus-4-20250514", "15", "1.50"),
        ("claude-sonnet-4-5-20250929", "3", "0.30"),
        ("claude-haiku-4-5", "1", "0.10"),
        ("claude-3-5-haiku-20241022", "0.80", "0.08"),
        ("gpt-4o-2024-08-06", "2.50", "1.25"),
        ("gpt-4o-mini", "0.15", "0.075"),
        ("gpt-4.1-mini", "0.40", "0.10"),
        ("gpt-5", "1.25", "0.125"),
        ("gpt-5-mini", "0.25", "0.025"),
        ("o3", "2", "0.50"),
        ("o4-mini", "1.10", "0.275"),
    ],
)
def test_the_seeded_list_prices_pick_the_right_family(model, input_price, cache_read_price):
    ModelPrice.objects.all().delete()
    seed_migration.seed_prices(apps, None)

    assert million_input(model) == Decimal(input_price)
    cached = pricing.cost_for(row(model, cache_read_input_tokens=1_000_000))
    assert cached == Decimal(cache_read_price)
