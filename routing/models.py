"""Routing configuration, edited in the admin and read through an in-memory snapshot.

The request path never reads these tables: `routing.snapshot` builds an
immutable copy when the config changes (see `routing.signals`).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from providers.openai.presets import PRESETS
from routing import crypto
from routing.targets import parse_target_list

WIRE_FORMATS = [
    ("anthropic", "Anthropic Messages API"),
    ("openai", "OpenAI Chat Completions"),
]


PRESET_CHOICES = [(name, preset.label) for name, preset in PRESETS.items()]


def validate_target_list(value: object) -> None:
    """Fallbacks: a JSON list of "provider:model" strings."""
    try:
        parse_target_list(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


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
    preset = models.CharField(
        max_length=32,
        blank=True,
        choices=PRESET_CHOICES,
        help_text="OpenAI format only: the provider's quirks (token field, reasoning, schemas).",
    )
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
        if self.preset and self.wire_format != "openai":
            raise ValidationError({"preset": "Presets apply to OpenAI-format providers only."})


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
    fallbacks = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_target_list],
        help_text='Tried in order when the target fails, e.g. ["anthropic:claude-sonnet-4-5"].',
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["alias"]
        verbose_name_plural = "model aliases"

    def __str__(self) -> str:
        return f"{self.alias} → {self.provider.name}:{self.target_model}"


class AgentDefinition(models.Model):
    """A Claude Code subagent (`.claude/agents/NAME.md`), discovered on disk or uploaded."""

    SOURCE_DISCOVERED = "discovered"
    SOURCE_UPLOADED = "uploaded"
    #: Fields taken from the agent file or discovery: shown, never edited by hand
    #: (the admin and the API both make them read-only).
    DERIVED_FIELDS = (
        "name",
        "description",
        "declared_model",
        "tools",
        "fingerprint",
        "source",
        "path",
        "present",
        "last_seen_at",
        "last_matched_at",
        "body",
    )

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    declared_model = models.CharField(max_length=200, blank=True)
    tools = models.JSONField(default=list, blank=True)
    body = models.TextField(help_text="The prompt: everything after the frontmatter.")
    fingerprint = models.CharField(
        max_length=16,
        db_index=True,
        help_text="First 16 hex digits of SHA-256 of the trimmed body (Go proxy compatible).",
    )
    source = models.CharField(
        max_length=16,
        choices=[(SOURCE_DISCOVERED, "discovered on disk"), (SOURCE_UPLOADED, "uploaded")],
        default=SOURCE_UPLOADED,
    )
    path = models.CharField(max_length=1000, blank=True)
    present = models.BooleanField(default=True, help_text="False once its file is gone.")
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_matched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def uploaded_fields(agent) -> dict[str, object]:
        """The row's fields for an agent file pasted in the admin or sent to the API.

        `agent` is a parsed `routing.agents.AgentDefinition`.
        """
        return {
            "name": agent.name,
            "description": agent.description,
            "declared_model": agent.model or "",
            "tools": list(agent.tools),
            "body": agent.body,
            "fingerprint": agent.fingerprint,
            "source": AgentDefinition.SOURCE_UPLOADED,
            "present": True,
        }


class SubagentMapping(models.Model):
    """Requests from this subagent go to provider:model."""

    agent = models.OneToOneField(AgentDefinition, on_delete=models.CASCADE, related_name="mapping")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="mappings")
    target_model = models.CharField(max_length=200)
    fallbacks = models.JSONField(default=list, blank=True, validators=[validate_target_list])
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["agent__name"]

    def __str__(self) -> str:
        return f"{self.agent.name} → {self.provider.name}:{self.target_model}"


class RoutingRule(models.Model):
    """A condition set and the target it routes to; lowest priority number is tried first."""

    TRI_STATE = [("", "any"), ("yes", "yes"), ("no", "no")]

    name = models.CharField(max_length=100, unique=True)
    priority = models.IntegerField(default=100, db_index=True)
    enabled = models.BooleanField(default=True)
    model_glob = models.CharField(
        max_length=200, blank=True, help_text="Requested model, shell glob: *haiku*, claude-*."
    )
    subagent = models.CharField(
        max_length=200,
        blank=True,
        help_text="Subagent name; * = any subagent call; blank = not a condition.",
    )
    thinking = models.CharField(max_length=3, blank=True, choices=TRI_STATE)
    min_input_tokens = models.PositiveIntegerField(
        null=True, blank=True, help_text="Estimated input tokens at least this (long context)."
    )
    tool = models.CharField(
        max_length=200,
        blank=True,
        help_text="A tool offered, by name or type glob (web_search*, Bash).",
    )
    header_name = models.CharField(max_length=100, blank=True)
    header_value = models.CharField(
        max_length=500, blank=True, help_text="Glob; blank with a name = header present."
    )
    background = models.CharField(
        max_length=3,
        blank=True,
        choices=TRI_STATE,
        help_text="Background (small fast model) request.",
    )
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="rules")
    target_model = models.CharField(
        max_length=200, blank=True, help_text="Blank = keep the requested model."
    )
    fallbacks = models.JSONField(default=list, blank=True, validators=[validate_target_list])
    sticky = models.BooleanField(
        default=True,
        help_text="Keep a conversation on its model for the rest of a turn (prompt cache).",
    )

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return f"{self.priority}: {self.name}"

    def clean(self) -> None:
        if self.header_value and not self.header_name:
            raise ValidationError({"header_name": "A header value needs the header's name."})


class ConfigVersion(models.Model):
    """One row whose counter goes up on every config change, so other workers reload."""

    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"config version {self.version}"
