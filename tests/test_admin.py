"""Routing config in the admin: write-only credentials, immediate effect, seeding."""

from __future__ import annotations

import time

import httpx
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from requestlog.models import RequestLog
from routing import snapshot
from routing.models import Credential, ModelAlias, Provider

SECRET = "sk-live-very-secret-000111222333"


@pytest.fixture
def admin_client_logged_in(client, transactional_db):
    user = User.objects.create_superuser("admin", "admin@example.com", "pw-for-tests-only")
    client.force_login(user)
    return client


def add_provider_form(name: str, secret: str = SECRET) -> dict[str, str]:
    return {
        "name": name,
        "wire_format": "anthropic",
        "base_url": "http://127.0.0.1:1",
        "enabled": "on",
        "extra_headers": "{}",
        "credentials-TOTAL_FORMS": "1",
        "credentials-INITIAL_FORMS": "0",
        "credentials-MIN_NUM_FORMS": "0",
        "credentials-MAX_NUM_FORMS": "1000",
        "credentials-0-label": "main",
        "credentials-0-secret": secret,
        "credentials-0-weight": "1",
        "credentials-0-enabled": "on",
    }


def test_a_credential_saved_in_the_admin_is_encrypted_and_never_shown_back(
    admin_client_logged_in,
):
    response = admin_client_logged_in.post(
        "/admin/routing/provider/add/", add_provider_form("team")
    )
    assert response.status_code == 302, response.content[:2000]

    credential = Credential.objects.get(provider__name="team")
    assert SECRET not in credential.encrypted_secret
    assert credential.secret() == SECRET
    page = admin_client_logged_in.get(
        f"/admin/routing/provider/{credential.provider_id}/change/"
    ).content.decode()
    assert SECRET not in page
    assert SECRET[-4:] in page  # the masked hint: last four characters only


def test_leaving_the_secret_blank_on_edit_keeps_the_stored_one(admin_client_logged_in):
    admin_client_logged_in.post("/admin/routing/provider/add/", add_provider_form("team"))
    credential = Credential.objects.get(provider__name="team")
    form = add_provider_form("team", secret="")
    form.update(
        {
            "credentials-INITIAL_FORMS": "1",
            "credentials-0-id": str(credential.pk),
            "credentials-0-provider": str(credential.provider_id),
            "credentials-0-weight": "3",
        }
    )

    response = admin_client_logged_in.post(
        f"/admin/routing/provider/{credential.provider_id}/change/", form
    )

    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.secret() == SECRET and credential.weight == 3


def test_a_new_credential_without_a_secret_is_refused(admin_client_logged_in):
    response = admin_client_logged_in.post(
        "/admin/routing/provider/add/", add_provider_form("team", secret="")
    )

    assert response.status_code == 200
    assert "A new credential needs its key." in response.content.decode()
    assert not Provider.objects.filter(name="team").exists()


def test_saving_in_the_admin_updates_this_processes_snapshot_at_once(admin_client_logged_in):
    admin_client_logged_in.post("/admin/routing/provider/add/", add_provider_form("team"))
    provider = Provider.objects.get(name="team")

    admin_client_logged_in.post(
        "/admin/routing/modelalias/add/",
        {
            "alias": "quick",
            "provider": str(provider.pk),
            "target_model": "claude-q",
            "enabled": "on",
        },
    )

    config = snapshot.current()
    assert config is not None
    assert config.aliases["quick"].model == "claude-q"
    assert config.providers["team"].credentials[0].label == "main"


def test_a_running_gateway_picks_up_a_change_made_elsewhere(
    gateway, anthropic_provider, fake_upstream
):
    ModelAlias.objects.create(alias="later", provider=anthropic_provider, target_model="claude-l")

    deadline = time.monotonic() + 10
    routed = None
    while time.monotonic() < deadline:
        response = httpx.post(
            gateway.url + "/v1/messages",
            timeout=10,
            json={
                "model": "later",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
            },
        )
        routed = response.headers["x-switchboard-route"]
        if routed == "alias":
            break
        time.sleep(0.1)

    assert routed == "alias"
    assert fake_upstream.requests[-1].json()["model"] == "claude-l"


def test_migrate_on_an_empty_database_creates_the_anthropic_provider(transactional_db, settings):
    Provider.objects.all().delete()
    settings.SWITCHBOARD_UPSTREAM_URL = "http://127.0.0.1:5555"

    call_command("migrate", verbosity=0)

    provider = Provider.objects.get()
    assert (provider.name, provider.base_url, provider.is_default) == (
        "anthropic",
        "http://127.0.0.1:5555",
        True,
    )


def test_migrate_leaves_existing_providers_alone(transactional_db):
    Provider.objects.all().delete()
    Provider.objects.create(name="mine", base_url="http://127.0.0.1:1")

    call_command("migrate", verbosity=0)

    assert list(Provider.objects.values_list("name", flat=True)) == ["mine"]


def test_the_request_log_is_read_only_in_the_admin(admin_client_logged_in):
    assert admin_client_logged_in.get("/admin/requestlog/requestlog/add/").status_code == 403
    assert admin_client_logged_in.get("/admin/requestlog/requestlog/").status_code == 200
    assert RequestLog.objects.count() == 0
