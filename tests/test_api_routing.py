"""Routing config CRUD under /api/: write-only secrets, and the admin's validation."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from requestlog.models import ModelPrice
from routing.models import AgentDefinition, Credential, ModelAlias, Provider, RoutingRule
from tests.operators import operator_client as staff_client

pytestmark = pytest.mark.django_db

SECRET = "sk-live-api-secret-000111222333"
AGENT_FILE = """---
name: code-reviewer
description: Reviews code
model: sonnet
tools: Read, Grep
---
You review code carefully.
"""


EVERY_COLLECTION = [
    "/api/requests/",
    "/api/conversations/",
    "/api/stats/",
    "/api/providers/",
    "/api/credentials/",
    "/api/aliases/",
    "/api/agents/",
    "/api/mappings/",
    "/api/rules/",
    "/api/prices/",
]


@pytest.fixture
def api():
    return staff_client()


@pytest.fixture
def admin() -> Client:
    """A superuser's browser session, for comparing with the admin's forms."""
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def provider() -> Provider:
    return Provider.objects.create(name="team", base_url="https://example.com")


def admin_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "the admin accepted the form"
    form = response.context["adminform"].form
    return {field: list(messages) for field, messages in form.errors.items()}


# --- credentials: write-only -------------------------------------------------------
def test_a_credential_created_through_the_api_never_shows_its_secret(api, provider):
    created = api.post(
        "/api/credentials/",
        {"provider": "team", "label": "main", "secret": SECRET},
        format="json",
    )
    assert created.status_code == 201, created.content
    credential = Credential.objects.get(label="main")
    assert credential.secret() == SECRET
    pk = credential.pk

    pages = [
        created,
        api.get("/api/credentials/"),
        api.get(f"/api/credentials/{pk}/"),
        api.get(f"/api/credentials/{pk}/?format=api"),
        api.get("/api/credentials/?format=api"),
        api.get("/api/providers/"),
        api.get(f"/api/providers/{provider.pk}/"),
        api.get("/api/schema/"),
        api.get("/api/docs/"),
        api.get("/api/"),
        api.patch(f"/api/credentials/{pk}/", {"weight": 2}, format="json"),
        *(api.get(url) for url in EVERY_COLLECTION),
        *(api.get(f"{url}?format=api") for url in EVERY_COLLECTION),
    ]
    for page in pages:
        assert page.status_code in (200, 201), page.content
        text = page.content.decode()
        assert SECRET not in text
        assert credential.encrypted_secret not in text
        assert "encrypted_secret" not in text
    shown = api.get(f"/api/credentials/{pk}/").json()
    assert shown["masked"] == "••••2333 (31 chars)"
    assert "secret" not in shown


def test_updating_a_credential_without_a_secret_keeps_the_stored_one(api, provider):
    credential = Credential(provider=provider, label="main")
    credential.set_secret(SECRET)
    credential.save()

    response = api.patch(
        f"/api/credentials/{credential.pk}/", {"weight": 5, "secret": ""}, format="json"
    )

    assert response.status_code == 200, response.content
    credential.refresh_from_db()
    assert (credential.weight, credential.secret()) == (5, SECRET)


def test_updating_a_credential_with_a_secret_replaces_it(api, provider):
    credential = Credential(provider=provider, label="main")
    credential.set_secret(SECRET)
    credential.save()

    api.patch(f"/api/credentials/{credential.pk}/", {"secret": "sk-new-one-4444"}, format="json")

    credential.refresh_from_db()
    assert credential.secret() == "sk-new-one-4444"


def test_a_new_credential_without_a_secret_is_refused_as_in_the_admin(api, provider):
    response = api.post("/api/credentials/", {"provider": "team", "label": "main"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"secret": ["A new credential needs its key."]}
    assert not Credential.objects.exists()


def test_a_duplicate_credential_label_is_refused(api, provider):
    body = {"provider": "team", "label": "main", "secret": SECRET}
    assert api.post("/api/credentials/", body, format="json").status_code == 201

    response = api.post("/api/credentials/", body, format="json")

    assert response.status_code == 400
    assert Credential.objects.count() == 1


# --- CRUD round trips ----------------------------------------------------------------
def test_it_creates_reads_updates_and_deletes_a_provider(api):
    created = api.post(
        "/api/providers/",
        {"name": "groq", "wire_format": "openai", "preset": "", "base_url": "api.groq.com"},
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["base_url"] == "https://api.groq.com"  # the admin's assume_scheme

    updated = api.patch(f"/api/providers/{pk}/", {"read_timeout": 30}, format="json")
    assert updated.json()["read_timeout"] == 30

    assert api.delete(f"/api/providers/{pk}/").status_code == 204
    assert not Provider.objects.filter(name="groq").exists()


def test_making_a_provider_the_default_unsets_the_previous_one(api, provider):
    provider.is_default = True
    provider.save()
    other = Provider.objects.create(name="other", base_url="https://other.example")

    api.patch(f"/api/providers/{other.pk}/", {"is_default": True}, format="json")

    provider.refresh_from_db()
    assert provider.is_default is False


def test_it_creates_an_alias_by_provider_name(api, provider):
    response = api.post(
        "/api/aliases/",
        {
            "alias": "quick",
            "provider": "team",
            "target_model": "claude-q",
            "fallbacks": ["anthropic:claude-haiku-4-5"],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    alias = ModelAlias.objects.get(alias="quick")
    assert (alias.provider, alias.fallbacks) == (provider, ["anthropic:claude-haiku-4-5"])
    assert response.json()["provider"] == "team"


def test_it_refuses_an_unknown_provider_name(api):
    response = api.post(
        "/api/aliases/", {"alias": "q", "provider": "nope", "target_model": "m"}, format="json"
    )

    assert response.status_code == 400
    assert "provider" in response.json()


def test_it_uploads_an_agent_file_and_maps_the_agent(api, provider):
    created = api.post("/api/agents/", {"agent_file": AGENT_FILE}, format="json")
    assert created.status_code == 201, created.content
    agent = AgentDefinition.objects.get(name="code-reviewer")
    assert (agent.declared_model, agent.tools, agent.source) == (
        "sonnet",
        ["Read", "Grep"],
        "uploaded",
    )
    assert created.json()["body"] == "You review code carefully."

    mapped = api.post(
        "/api/mappings/",
        {"agent": "code-reviewer", "provider": "team", "target_model": "gpt-5"},
        format="json",
    )
    assert mapped.status_code == 201, mapped.content
    assert api.get(f"/api/agents/{agent.pk}/").json()["mapped_to"] == "team:gpt-5"


def test_it_creates_a_rule(api, provider):
    response = api.post(
        "/api/rules/",
        {
            "name": "haiku-to-groq",
            "priority": 10,
            "model_glob": "*haiku*",
            "thinking": "no",
            "provider": "team",
            "target_model": "llama",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    rule = RoutingRule.objects.get(name="haiku-to-groq")
    assert (rule.priority, rule.thinking, rule.background) == (10, "no", "")


def test_it_creates_and_edits_a_price(api):
    response = api.post(
        "/api/prices/",
        {
            "model_pattern": "my-model-*",
            "input_per_mtok": "1.5",
            "output_per_mtok": "6",
            "cache_read_per_mtok": "0.15",
            "cache_write_per_mtok": "1.875",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    price = ModelPrice.objects.get(model_pattern="my-model-*")
    assert (price.currency, price.priority, price.enabled) == ("USD", 100, True)

    api.patch(f"/api/prices/{price.pk}/", {"enabled": False}, format="json")

    price.refresh_from_db()
    assert price.enabled is False


# --- the API refuses what the admin refuses, with the same words -------------------------
def provider_form(**fields: str) -> dict[str, str]:
    form = {
        "name": "x",
        "wire_format": "anthropic",
        "base_url": "https://x.example",
        "extra_headers": "{}",
        "credentials-TOTAL_FORMS": "0",
        "credentials-INITIAL_FORMS": "0",
        "credentials-MIN_NUM_FORMS": "0",
        "credentials-MAX_NUM_FORMS": "1000",
    }
    form.update(fields)
    return form


def rule_form(provider: Provider, **fields: str) -> dict[str, str]:
    form = {
        "name": "r",
        "priority": "100",
        "provider": str(provider.pk),
        "fallbacks": "[]",
        "sticky": "on",
        "enabled": "on",
    }
    form.update(fields)
    return form


def test_a_fallback_with_a_bad_target_is_refused_by_both(api, admin, provider):
    admin_response = admin.post(
        "/admin/routing/modelalias/add/",
        {
            "alias": "quick",
            "provider": str(provider.pk),
            "target_model": "m",
            "fallbacks": '["nocolon"]',
            "enabled": "on",
        },
    )
    api_response = api.post(
        "/api/aliases/",
        {"alias": "quick", "provider": "team", "target_model": "m", "fallbacks": ["nocolon"]},
        format="json",
    )

    assert api_response.status_code == 400
    assert api_response.json() == admin_errors(admin_response)
    assert "'nocolon' is not a target; write provider:model" in api_response.json()["fallbacks"]
    assert not ModelAlias.objects.exists()


@pytest.mark.parametrize(
    ("form", "body"),
    [
        (  # clean(): a disabled default
            {"is_default": "on"},
            {"is_default": True, "enabled": False},
        ),
        (  # clean(): a preset on an Anthropic-format provider
            {"enabled": "on", "preset": "deepseek"},
            {"preset": "deepseek"},
        ),
        (  # a field validator: header values must be strings
            {"enabled": "on", "extra_headers": '{"x-team": 1}'},
            {"extra_headers": {"x-team": 1}},
        ),
    ],
)
def test_a_provider_refused_by_the_admin_is_refused_by_the_api(api, admin, form, body):
    admin_response = admin.post("/admin/routing/provider/add/", provider_form(**form))
    api_response = api.post(
        "/api/providers/",
        {"name": "x", "wire_format": "anthropic", "base_url": "https://x.example", **body},
        format="json",
    )

    assert api_response.status_code == 400
    assert api_response.json() == admin_errors(admin_response)
    assert not Provider.objects.filter(name="x").exists()


def test_a_rule_refused_by_the_admin_is_refused_by_the_api(api, admin, provider):
    admin_response = admin.post(
        "/admin/routing/routingrule/add/", rule_form(provider, header_value="yes")
    )
    api_response = api.post(
        "/api/rules/",
        {"name": "r", "provider": "team", "header_value": "yes"},
        format="json",
    )

    assert api_response.status_code == 400
    assert api_response.json() == admin_errors(admin_response)
    assert api_response.json() == {"header_name": ["A header value needs the header's name."]}


def test_an_update_that_breaks_clean_is_refused(api, provider):
    rule = RoutingRule.objects.create(
        name="r", provider=provider, header_name="x-a", header_value="yes"
    )

    response = api.patch(f"/api/rules/{rule.pk}/", {"header_name": ""}, format="json")

    assert response.status_code == 400
    rule.refresh_from_db()
    assert rule.header_name == "x-a"


def test_a_negative_price_is_refused_by_both(api, admin):
    fields = {
        "model_pattern": "m*",
        "provider_pattern": "",
        "input_per_mtok": "-1",
        "output_per_mtok": "1",
        "cache_read_per_mtok": "1",
        "cache_write_per_mtok": "1",
        "currency": "USD",
        "priority": "100",
        "enabled": "on",
    }
    admin_response = admin.post("/admin/requestlog/modelprice/add/", fields)
    api_response = api.post("/api/prices/", {**fields, "enabled": True}, format="json")

    assert api_response.status_code == 400
    assert api_response.json() == admin_errors(admin_response)


def test_a_bad_agent_file_is_refused_by_both(api, admin):
    text = "no frontmatter here"
    admin_response = admin.post("/admin/routing/agentdefinition/add/", {"agent_file": text})
    api_response = api.post("/api/agents/", {"agent_file": text}, format="json")

    assert api_response.status_code == 400
    assert api_response.json() == admin_errors(admin_response)


def test_a_bad_mapping_fallback_is_refused(api, provider):
    AgentDefinition.objects.create(name="a", body="b", fingerprint="f" * 16)

    response: Any = api.post(
        "/api/mappings/",
        {"agent": "a", "provider": "team", "target_model": "m", "fallbacks": "team:x"},
        format="json",
    )

    assert response.status_code == 400
    assert "fallbacks" in response.json()
