"""Routing configuration, edited in the admin and read through an in-memory snapshot.

The request path never reads these tables: `routing.snapshot` builds an
immutable copy when the config changes (see `routing.signals`).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from routing import crypto

WIRE_FORMATS = [
    ("anthropic", "Anthropic Messages API"),
    ("openai", "OpenAI Chat Completions"),
]


def validate_header_map(value: object) -> None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValidationError(
            'extra headers must be a JSON object of strings, e.g. {"x-team": "a"}'
        )


class Provider(models.Model):
    """An upstream that serves requests in one wire format."""

    name = models.SlugField(max_length=64, unique=True, help_text="Used in routes: NAME:model.")
    wire_format = models.CharField(max_length=16, choices=WIRE_FORMATS, default="anthropic")
    base_url = models.URLField(
        max_length=500,
        help_text="Scheme, host and optional path prefix, e.g. https://api.anthropic.com",
    )
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(
        default=False,
        help_text="Serves requests that no alias or rule claims. One provider at most.",
    )
    connect_timeout = models.FloatField(
        null=True, blank=True, help_text="Seconds; blank = default."
    )
    read_timeout = models.FloatField(
        null=True, blank=True, help_text="Seconds between bytes; blank = default."
    )
    extra_headers = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_header_map],
        help_text="Headers added to every upstream request.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        if self.is_default:
            Provider.objects.exclude(pk=self.pk).filter(is_default=True).update(is_default=False)

    def clean(self) -> None:
        if self.is_default and not self.enabled:
            raise ValidationError({"is_default": "A disabled provider cannot be the default."})


class Credential(models.Model):
    """An API key of a provider; write-only, encrypted at rest."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="credentials")
    label = models.CharField(max_length=64, help_text="Shown in logs instead of the key.")
    encrypted_secret = models.TextField(editable=False)
    weight = models.PositiveIntegerField(default=1)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["provider__name", "label"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "label"], name="unique_credential_label")
        ]

    def __str__(self) -> str:
        return f"{self.provider.name}/{self.label}"

    def set_secret(self, plaintext: str) -> None:
        self.encrypted_secret = crypto.encrypt(plaintext)

    def secret(self) -> str:
        return crypto.decrypt(self.encrypted_secret)

    def masked(self) -> str:
        try:
            return crypto.mask(self.secret())
        except ValueError:
            return "(unreadable: encryption key changed)"


class ModelAlias(models.Model):
    """A model name clients may ask for, served by provider:model."""

    alias = models.CharField(max_length=200, unique=True)
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="aliases")
    target_model = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["alias"]
        verbose_name_plural = "model aliases"

    def __str__(self) -> str:
        return f"{self.alias} → {self.provider.name}:{self.target_model}"


class ConfigVersion(models.Model):
    """One row whose counter goes up on every config change, so other workers reload."""

    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"config version {self.version}"
