"""The cost of one logged request, from the ModelPrice table.

`cost_for(row)` is called by the log writer's background thread for each row
it writes, so it reads an in-memory copy of the price table, reloaded at most
every `REFRESH_SECONDS` (and at once in this process when a price is saved).
It touches the database only on a reload, and only from synchronous code.

The model priced is the one that served the request (`target_model`, else the
requested one). Anthropic-style usage is assumed: `input_tokens` excludes
cache reads and writes, which the OpenAI translation already ensures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fnmatch import fnmatchcase
from typing import Any

from django.db.models.signals import post_delete, post_save

from requestlog.models import ModelPrice, pattern_specificity

#: Seconds a loaded copy of the price table is used before it is read again.
REFRESH_SECONDS = 30.0
#: Prices are per this many tokens.
TOKENS_PER_PRICE_UNIT = Decimal(1_000_000)
#: `RequestLog.cost_usd` keeps 8 decimal places.
COST_QUANTUM = Decimal("0.00000001")


@dataclass(frozen=True)
class Price:
    """One enabled price row, with its patterns lower-cased for matching."""

    provider_pattern: str
    model_pattern: str
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    priority: int

    def matches(self, provider: str, model: str) -> bool:
        if self.provider_pattern and not fnmatchcase(provider, self.provider_pattern):
            return False
        return fnmatchcase(model, self.model_pattern)

    @property
    def rank(self) -> tuple[int, int, int]:
        """Sort key: lowest priority number, then the most specific patterns, first."""
        return (
            self.priority,
            -pattern_specificity(self.model_pattern),
            -pattern_specificity(self.provider_pattern),
        )


class PriceTable:
    """The enabled prices, best match first, reloaded at most every `max_age` seconds."""

    def __init__(self, max_age: float = REFRESH_SECONDS) -> None:
        self.max_age = max_age
        self._prices: list[Price] = []
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Make the next lookup read the table again."""
        self._loaded_at = None

    def prices(self) -> list[Price]:
        if self._is_stale():
            with self._lock:
                if self._is_stale():  # another thread may have reloaded meanwhile
                    self._prices = load_prices()
                    self._loaded_at = time.monotonic()
        return self._prices

    def _is_stale(self) -> bool:
        loaded_at = self._loaded_at
        return loaded_at is None or time.monotonic() - loaded_at > self.max_age

    def find(self, provider: str, model: str) -> Price | None:
        provider, model = provider.lower(), model.lower()
        for price in self.prices():
            if price.matches(provider, model):
                return price
        return None


def load_prices() -> list[Price]:
    """Every enabled USD price row, best match first."""
    prices = [
        Price(
            provider_pattern=row.provider_pattern.lower(),
            model_pattern=row.model_pattern.lower(),
            input=row.input_per_mtok,
            output=row.output_per_mtok,
            cache_read=row.cache_read_per_mtok,
            cache_write=row.cache_write_per_mtok,
            priority=row.priority,
        )
        for row in ModelPrice.objects.filter(enabled=True, currency="USD")
    ]
    prices.sort(key=lambda price: price.rank)
    return prices


price_table = PriceTable()


def price_for(provider: str, model: str) -> Price | None:
    """The price that applies to `model` served by `provider`, if any row matches."""
    return price_table.find(provider or "", model or "")


def cost_for(row: Mapping[str, Any]) -> Decimal | None:
    """The cost in USD of one log row, or None when no price matches its model.

    `row` has the RequestLog keys provider, target_model (or requested_model),
    input_tokens, output_tokens, cache_read_input_tokens and
    cache_creation_input_tokens; missing counts are zero.
    """
    model = row.get("target_model") or row.get("requested_model") or ""
    if not model:
        return None
    price = price_for(row.get("provider") or "", model)
    if price is None:
        return None
    total = (
        _tokens(row, "input_tokens") * price.input
        + _tokens(row, "output_tokens") * price.output
        + _tokens(row, "cache_read_input_tokens") * price.cache_read
        + _tokens(row, "cache_creation_input_tokens") * price.cache_write
    )
    return (total / TOKENS_PER_PRICE_UNIT).quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


def _tokens(row: Mapping[str, Any], key: str) -> int:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return max(value, 0)


def _on_price_change(sender, **kwargs) -> None:
    price_table.invalidate()


# A price saved in this process (admin, API) applies at once; other processes
# see it within REFRESH_SECONDS.
post_save.connect(_on_price_change, sender=ModelPrice, dispatch_uid="pricing-save")
post_delete.connect(_on_price_change, sender=ModelPrice, dispatch_uid="pricing-delete")
