"""REST shapes of the routing config, validated exactly as the admin validates.

Every serializer runs the model's `full_clean()` (field validators, `clean()`,
uniqueness) on the instance a write would produce, as a Django ModelForm does,
so a config the admin refuses is refused by the API with the same message.

Credentials are write-only: `secret` is accepted on create (required) and
update (blank keeps the stored one), encrypted at once, and never returned;
responses carry `masked`, the admin's hint. Agents are written by sending the
whole `.claude/agents/NAME.md` file as `agent_file`, as in the admin.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from routing.agents import AgentFileError, parse_agent_file
from routing.config import RuleConfig
from routing.models import (
    AgentDefinition,
    Credential,
    ModelAlias,
    Provider,
    RoutingRule,
    SubagentMapping,
)


class FullCleanModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer that also runs `Model.full_clean()`, like a ModelForm."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        instance = self.would_be_instance(attrs)
        try:
            instance.full_clean(exclude=self.clean_exclusions(attrs))
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from None
        return attrs

    def would_be_instance(self, attrs: dict[str, Any]) -> models.Model:
        """The instance as it would be saved, without saving it."""
        model = self.Meta.model
        names = {f.name for f in model._meta.concrete_fields}
        values = {k: v for k, v in attrs.items() if k in names}
        if self.instance is None:
            return model(**values)
        instance = copy.copy(self.instance)
        for name, value in values.items():
            setattr(instance, name, value)
        return instance

    def clean_exclusions(self, attrs: dict[str, Any]) -> list[str]:
        """Model fields this serializer does not write, as a ModelForm excludes non-form fields."""
        written = set(attrs)
        for bound in self.fields.values():
            if not bound.read_only and bound.source != "*":
                written.add(bound.source.split(".")[0])
        return [f.name for f in self.Meta.model._meta.concrete_fields if f.name not in written]


class AssumeHttpsURLField(serializers.URLField):
    """A URL; one typed without a scheme means https (the admin's `assume_scheme`)."""

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str) and data.strip() and not urlsplit(data.strip()).scheme:
            data = "https://" + data.strip()
        return super().to_internal_value(data)


class ProviderSerializer(FullCleanModelSerializer):
    base_url = AssumeHttpsURLField(max_length=500)
    credential_count = serializers.SerializerMethodField()

    class Meta:
        model = Provider
        fields = [
            "id",
            "name",
            "wire_format",
            "preset",
            "base_url",
            "enabled",
            "is_default",
            "connect_timeout",
            "read_timeout",
            "extra_headers",
            "credential_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_credential_count(self, provider: Provider) -> int:
        return provider.credentials.count()


class ProviderNameField(serializers.SlugRelatedField):
    """A provider given and shown by its name."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="name", queryset=Provider.objects.all(), **kwargs)


class CredentialSerializer(FullCleanModelSerializer):
    provider = ProviderNameField()
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=True,
        style={"input_type": "password"},
        help_text="Write-only. Required on create; blank or absent on update keeps the stored key.",
    )
    masked = serializers.SerializerMethodField(help_text="Length and last four characters.")

    class Meta:
        model = Credential
        fields = ["id", "provider", "label", "secret", "masked", "weight", "enabled", "created_at"]
        read_only_fields = ["created_at"]

    def get_masked(self, credential: Credential) -> str:
        return credential.masked() if credential.encrypted_secret else ""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not attrs.get("secret"):
            # The admin's CredentialForm says the same.
            raise serializers.ValidationError({"secret": ["A new credential needs its key."]})
        return super().validate(attrs)

    def create(self, validated_data: dict[str, Any]) -> Credential:
        secret = validated_data.pop("secret")
        credential = Credential(**validated_data)
        credential.set_secret(secret)
        credential.save()
        return credential

    def update(self, instance: Credential, validated_data: dict[str, Any]) -> Credential:
        secret = validated_data.pop("secret", "")
        if secret:
            instance.set_secret(secret)
        return super().update(instance, validated_data)


class ModelAliasSerializer(FullCleanModelSerializer):
    provider = ProviderNameField()

    class Meta:
        model = ModelAlias
        fields = ["id", "alias", "provider", "target_model", "fallbacks", "enabled"]


class AgentDefinitionSerializer(FullCleanModelSerializer):
    agent_file = serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        style={"base_template": "textarea.html"},
        help_text="The whole .claude/agents/NAME.md file: frontmatter and body.",
    )
    mapped_to = serializers.SerializerMethodField()

    class Meta:
        model = AgentDefinition
        fields = [
            "id",
            "name",
            "agent_file",
            "description",
            "declared_model",
            "tools",
            "fingerprint",
            "source",
            "path",
            "present",
            "last_seen_at",
            "last_matched_at",
            "mapped_to",
            "body",
        ]
        read_only_fields = AgentDefinition.DERIVED_FIELDS

    def get_mapped_to(self, agent: AgentDefinition) -> str | None:
        mapping = getattr(agent, "mapping", None)
        return f"{mapping.provider.name}:{mapping.target_model}" if mapping else None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        text = attrs.pop("agent_file", "")
        if text.strip():
            try:
                parsed = parse_agent_file(text, source="uploaded.md")
            except AgentFileError as exc:
                raise serializers.ValidationError({"agent_file": [str(exc)]}) from None
            attrs.update(AgentDefinition.uploaded_fields(parsed))
        elif self.instance is None:
            raise serializers.ValidationError({"agent_file": ["Paste the agent's file."]})
        return super().validate(attrs)


class SubagentMappingSerializer(FullCleanModelSerializer):
    agent = serializers.SlugRelatedField(slug_field="name", queryset=AgentDefinition.objects.all())
    provider = ProviderNameField()

    class Meta:
        model = SubagentMapping
        fields = ["id", "agent", "provider", "target_model", "fallbacks", "enabled"]


# A pattern rather than an enum: drf-spectacular would give the one choice set
# two names (ThinkingEnum, BackgroundEnum) and warn.
@extend_schema_field({"type": "string", "pattern": "^(|yes|no)$"})
class TriStateField(serializers.ChoiceField):
    """ "" (any), "yes" or "no"; described inline so two such fields share no enum name."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=RoutingRule.TRI_STATE, allow_blank=True, required=False, **kwargs)


class RoutingRuleSerializer(FullCleanModelSerializer):
    provider = ProviderNameField()
    thinking = TriStateField(help_text="Extended thinking requested: yes, no, or blank = any.")
    background = TriStateField(
        help_text="Background (small fast model) request: yes, no, or blank = any."
    )

    class Meta:
        model = RoutingRule
        fields = [
            "id",
            "name",
            "priority",
            "enabled",
            *RuleConfig.CONDITION_FIELDS,
            "provider",
            "target_model",
            "fallbacks",
            "sticky",
        ]
