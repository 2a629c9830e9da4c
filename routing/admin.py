"""Admin for the routing config. Credentials are write-only: the secret field is
never rendered back, only a masked hint; leaving it blank keeps the old one."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models

from routing.models import Credential, ModelAlias, Provider


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


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["name", "wire_format", "base_url", "enabled", "is_default", "credential_count"]
    list_filter = ["wire_format", "enabled"]
    search_fields = ["name", "base_url"]
    inlines = [CredentialInline]
    # A base URL typed without a scheme means https (Django 6's default, chosen now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["name", "wire_format", "base_url", "enabled", "is_default"]}),
        ("Connection", {"fields": ["connect_timeout", "read_timeout", "extra_headers"]}),
    ]

    @admin.display(description="credentials")
    def credential_count(self, obj: Provider) -> int:
        return obj.credentials.count()


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    list_display = ["alias", "provider", "target_model", "enabled"]
    list_filter = ["provider", "enabled"]
    search_fields = ["alias", "target_model"]
