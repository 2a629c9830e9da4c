"""Seed ModelPrice with public list prices of common Anthropic and OpenAI models.

These are the providers' published list prices per million tokens (USD) at the
time of writing, without batch or negotiated discounts and without Anthropic's
long-context (>200k input) surcharge. Anthropic's cache write is the 5-minute
rate (1.25x input); OpenAI has no cache-write charge, so its cache-write price
is the input price. Check the providers' pricing pages and edit the rows in the
admin or through /api/prices/; this migration does not overwrite edited rows.
"""

from decimal import Decimal

from django.db import migrations

SEED_NOTE = "list price at the time of writing (seeded)"

# (model glob, input, output, cache read, cache write) per million tokens.
PRICES = [
    # Anthropic. The generic Opus 4 glob has the current (4.5+) price; the older
    # Opus 4 and 4.1 models have more specific patterns, which win.
    ("claude-opus-4*", "5", "25", "0.50", "6.25"),
    ("claude-opus-4-0*", "15", "75", "1.50", "18.75"),
    ("claude-opus-4-1*", "15", "75", "1.50", "18.75"),
    ("claude-opus-4-2025*", "15", "75", "1.50", "18.75"),
    ("claude-sonnet-4*", "3", "15", "0.30", "3.75"),
    ("claude-haiku-4*", "1", "5", "0.10", "1.25"),
    ("claude-3-7-sonnet*", "3", "15", "0.30", "3.75"),
    ("claude-3-5-sonnet*", "3", "15", "0.30", "3.75"),
    ("claude-3-5-haiku*", "0.80", "4", "0.08", "1.00"),
    ("claude-3-opus*", "15", "75", "1.50", "18.75"),
    ("claude-3-haiku*", "0.25", "1.25", "0.03", "0.30"),
    # OpenAI. Cached input is the "cache read" price.
    ("gpt-4o*", "2.50", "10", "1.25", "2.50"),
    ("gpt-4o-mini*", "0.15", "0.60", "0.075", "0.15"),
    ("gpt-4.1*", "2", "8", "0.50", "2"),
    ("gpt-4.1-mini*", "0.40", "1.60", "0.10", "0.40"),
    ("gpt-4.1-nano*", "0.10", "0.40", "0.025", "0.10"),
    ("gpt-5*", "1.25", "10", "0.125", "1.25"),
    ("gpt-5-mini*", "0.25", "2", "0.025", "0.25"),
    ("gpt-5-nano*", "0.05", "0.40", "0.005", "0.05"),
    ("o1*", "15", "60", "7.50", "15"),
    ("o1-mini*", "1.10", "4.40", "0.55", "1.10"),
    ("o3*", "2", "8", "0.50", "2"),
    ("o3-mini*", "1.10", "4.40", "0.55", "1.10"),
    ("o3-pro*", "20", "80", "20", "20"),
    ("o4-mini*", "1.10", "4.40", "0.275", "1.10"),
]


def seed_prices(apps, schema_editor):
    ModelPrice = apps.get_model("requestlog", "ModelPrice")
    for pattern, input_, output, cache_read, cache_write in PRICES:
        ModelPrice.objects.get_or_create(
            provider_pattern="",
            model_pattern=pattern,
            priority=100,
            defaults={
                "input_per_mtok": Decimal(input_),
                "output_per_mtok": Decimal(output),
                "cache_read_per_mtok": Decimal(cache_read),
                "cache_write_per_mtok": Decimal(cache_write),
                "currency": "USD",
                "enabled": True,
                "note": SEED_NOTE,
            },
        )


def remove_seeded_prices(apps, schema_editor):
    ModelPrice = apps.get_model("requestlog", "ModelPrice")
    ModelPrice.objects.filter(note=SEED_NOTE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("requestlog", "0003_model_price"),
    ]

    operations = [migrations.RunPython(seed_prices, remove_seeded_prices)]
