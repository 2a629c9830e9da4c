"""Admin for the routing config.

Credentials are write-only: the secret field is never rendered back, only a
masked hint; leaving it blank keeps the old one. Agents can be discovered on
disk (rescan action) or pasted as a whole `.md` file for a gateway that runs
on another machine than Claude Code.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest
from django.urls import path

from routing.agent_sync import configured_scanner, sync_agents
from routing.agents import AgentFileError, parse_agent_file
from routing.config import RuleConfig
from routing.connection_guard import REFUSAL, guarded_changes, may_change_connection
from routing.models import (
    AgentDefinition,
    Credential,
    ModelAlias,
    Provider,
    RoutingRule,
    SubagentMapping,
)
from routing.try_route import try_route_view


class CredentialForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave blank to keep the stored key.",
    )

    class Meta:
        model = Credential
        fields = ["label", "secret", "weight", "enabled"]

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("secret") and not self.errors:
            if cleaned.get("label"):
                self.add_error("secret", "A new credential needs its key.")
        return cleaned

    def save(self, commit: bool = True) -> Credential:
        credential = super().save(commit=False)
        if self.cleaned_data.get("secret"):
            credential.set_secret(self.cleaned_data["secret"])
        if commit:
            credential.save()
        return credential


class CredentialInline(admin.TabularInline):
    model = Credential
    form = CredentialForm
    extra = 0
    fields = ["label", "secret", "stored_key", "weight", "enabled"]
    readonly_fields = ["stored_key"]

    @admin.display(description="stored key")
    def stored_key(self, obj: Credential) -> str:
        return obj.masked() if obj.pk and obj.encrypted_secret else "—"


class ProviderForm(forms.ModelForm):
    """Refuses to move a provider's stored keys (see `routing.connection_guard`)."""

    #: Set per request by ProviderAdmin.get_form.
    editing_user = None

    def clean(self):
        cleaned = super().clean()
        if not may_change_connection(self.editing_user, self.instance, cleaned):
            for name in guarded_changes(self.instance, cleaned):
                self.add_error(name, REFUSAL)
        return cleaned


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "wire_format",
        "preset",
        "base_url",
        "enabled",
        "is_default",
        "credential_count",
    ]
    list_filter = ["wire_format", "enabled"]
    search_fields = ["name", "base_url"]
    form = ProviderForm
    inlines = [CredentialInline]
    # A base URL typed without a scheme means https (Django 6's default, chosen now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["name", "wire_format", "preset", "base_url", "enabled", "is_default"]}),
        ("Connection", {"fields": ["connect_timeout", "read_timeout", "extra_headers"]}),
    ]

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.editing_user = request.user  # a class made for this request
        return form

    @admin.display(description="credentials")
    def credential_count(self, obj: Provider) -> int:
        return obj.credentials.count()


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    list_display = ["alias", "provider", "target_model", "fallbacks", "enabled"]
    list_filter = ["provider", "enabled"]
    search_fields = ["alias", "target_model"]


class AgentUploadForm(forms.ModelForm):
    agent_file = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 16, "cols": 100}),
        help_text="Paste a whole .claude/agents/NAME.md file (frontmatter and body); "
        "name, description, model, tools and body are taken from it.",
    )

    class Meta:
        model = AgentDefinition
        fields = ["agent_file"]

    def clean_agent_file(self) -> str:
        text = self.cleaned_data.get("agent_file") or ""
        if not text.strip():
            if not self.instance.pk:
                raise forms.ValidationError("Paste the agent's file.")
            return text
        try:
            self.parsed = parse_agent_file(text, source="uploaded.md")
        except AgentFileError as exc:
            raise forms.ValidationError(str(exc)) from None
        return text

    def save(self, commit: bool = True) -> AgentDefinition:
        agent = super().save(commit=False)
        parsed = getattr(self, "parsed", None)
        if parsed is not None:
            for name, value in AgentDefinition.uploaded_fields(parsed).items():
                setattr(agent, name, value)
        if commit:
            agent.save()
        return agent


@admin.register(AgentDefinition)
class AgentDefinitionAdmin(admin.ModelAdmin):
    form = AgentUploadForm
    list_display = [
        "name",
        "fingerprint",
        "declared_model",
        "source",
        "present",
        "mapped_to",
        "last_seen_at",
        "last_matched_at",
    ]
    list_filter = ["source", "present"]
    search_fields = ["name", "description", "fingerprint"]
    readonly_fields = AgentDefinition.DERIVED_FIELDS
    actions = ["rescan"]
    changelist_actions = ["rescan"]

    @admin.display(description="mapped to")
    def mapped_to(self, obj: AgentDefinition) -> str:
        mapping = getattr(obj, "mapping", None)
        if mapping is None:
            return "—"
        state = "" if mapping.enabled else " (disabled)"
        return f"{mapping.provider.name}:{mapping.target_model}{state}"

    @admin.action(description="Rescan agent directories now")
    def rescan(self, request: HttpRequest, queryset=None) -> None:
        scanner = configured_scanner()
        report = sync_agents(scanner.scan())
        self.message_user(
            request,
            f"Scanned {', '.join(str(d) for d in scanner.dirs)}: {report}.",
            messages.WARNING if report.errors else messages.SUCCESS,
        )
        for message in report.errors:
            self.message_user(request, message, messages.WARNING)


@admin.register(SubagentMapping)
class SubagentMappingAdmin(admin.ModelAdmin):
    list_display = ["agent", "provider", "target_model", "fallbacks", "enabled"]
    list_filter = ["provider", "enabled"]
    autocomplete_fields = ["agent"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = [
        "priority",
        "name",
        "enabled",
        "conditions",
        "provider",
        "target_model",
        "fallbacks",
        "sticky",
    ]
    list_display_links = ["name"]
    list_editable = ["priority", "enabled"]
    list_filter = ["enabled", "provider"]
    fieldsets = [
        (None, {"fields": ["name", "priority", "enabled", "sticky"]}),
        (
            "When (all set conditions must hold)",
            {"fields": list(RuleConfig.CONDITION_FIELDS)},
        ),
        ("Then", {"fields": ["provider", "target_model", "fallbacks"]}),
    ]

    def get_urls(self):
        extra = [
            path(
                "try/",
                self.admin_site.admin_view(lambda request: try_route_view(request, self)),
                name="routing_routingrule_try",
            )
        ]
        return extra + super().get_urls()

    @admin.display(description="when")
    def conditions(self, obj: RoutingRule) -> str:
        parts = []
        if obj.model_glob:
            parts.append(f"model ~ {obj.model_glob}")
        if obj.subagent:
            parts.append(f"subagent {obj.subagent}")
        if obj.thinking:
            parts.append(f"thinking {obj.thinking}")
        if obj.min_input_tokens is not None:
            parts.append(f"input ≥ {obj.min_input_tokens}")
        if obj.tool:
            parts.append(f"tool {obj.tool}")
        if obj.header_name:
            parts.append(
                f"header {obj.header_name}" + (f"={obj.header_value}" if obj.header_value else "")
            )
        if obj.background:
            parts.append(f"background {obj.background}")
        return ", ".join(parts) or "always"
