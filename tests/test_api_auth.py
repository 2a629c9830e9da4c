"""Nothing under /api/ answers anyone but staff with permissions: session or token."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from requestlog.models import ModelPrice
from routing.models import Provider
from tests.logrows import make_row, user_client
from tests.operators import OPERATOR_APPS, operator_client, staff_api_client

pytestmark = pytest.mark.django_db

COLLECTIONS = [
    "/api/providers/",
    "/api/credentials/",
    "/api/aliases/",
    "/api/agents/",
    "/api/mappings/",
    "/api/rules/",
    "/api/prices/",
]


@pytest.fixture
def readable_urls() -> list[str]:
    """A GET URL of every endpoint, items included."""
    row = make_row(conversation_key="conv-1")
    provider = Provider.objects.create(name="team", base_url="https://example.com")
    price = ModelPrice.objects.create(
        model_pattern="x-*",
        input_per_mtok=1,
        output_per_mtok=1,
        cache_read_per_mtok=1,
        cache_write_per_mtok=1,
    )
    return [
        "/api/",
        "/api/requests/",
        f"/api/requests/{row.request_id}/",
        "/api/conversations/",
        "/api/conversations/conv-1/",
        "/api/stats/",
        "/api/schema/",
        "/api/docs/",
        *COLLECTIONS,
        f"/api/providers/{provider.pk}/",
        f"/api/prices/{price.pk}/",
    ]


def test_anonymous_requests_are_refused_everywhere(readable_urls):
    client = APIClient()
    for url in readable_urls:
        assert client.get(url).status_code in (401, 403), url
    for url in COLLECTIONS:
        assert client.post(url, {}, format="json").status_code in (401, 403), url
    provider_url = next(
        url for url in readable_urls if url.startswith("/api/providers/") and url[-2].isdigit()
    )
    assert client.delete(provider_url).status_code in (401, 403)
    assert Provider.objects.filter(name="team").exists()


def test_a_logged_in_user_who_is_not_staff_is_refused_everywhere(readable_urls):
    client = user_client()
    for url in readable_urls:
        assert client.get(url).status_code == 403, url
    for url in COLLECTIONS:
        assert client.post(url, {}, format="json").status_code == 403, url


def test_a_token_of_a_user_who_is_not_staff_is_refused(readable_urls):
    user = User.objects.create_user("plain", "plain@example.com", "pw")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    for url in readable_urls:
        assert client.get(url).status_code == 403, url


def test_a_wrong_token_is_refused():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    response = client.get("/api/requests/")

    # 403 rather than 401: session auth comes first in REST_FRAMEWORK and sends no challenge.
    assert response.status_code in (401, 403)
    assert response.json() == {"detail": "Invalid token."}


def test_a_staff_user_without_permissions_is_refused_everywhere(readable_urls):
    client = staff_api_client()
    for url in readable_urls:
        assert client.get(url).status_code == 403, url
    for url in COLLECTIONS:
        assert client.post(url, {}, format="json").status_code == 403, url


def test_a_user_with_every_permission_who_is_not_staff_is_refused(readable_urls):
    user = User.objects.create_user("plain", "plain@example.com", "pw")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=OPERATOR_APPS))
    client = APIClient()
    client.force_login(user)
    for url in readable_urls:
        assert client.get(url).status_code == 403, url


def test_a_staff_token_from_drf_create_token_works(readable_urls):
    ops = User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True)
    ops.user_permissions.set(Permission.objects.filter(content_type__app_label__in=OPERATOR_APPS))
    call_command("drf_create_token", "ops")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user__username='ops').key}")

    for url in readable_urls:
        assert client.get(url).status_code == 200, url


def test_operator_sessions_read_every_endpoint(readable_urls):
    client = operator_client()
    for url in readable_urls:
        assert client.get(url).status_code == 200, url
