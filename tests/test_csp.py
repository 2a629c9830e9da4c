"""A strict Content-Security-Policy on the dashboard, admin and API pages; no CDN.

Scripts run only from our own origin: no inline script, no eval, no other
host. The dashboard's styles too; the admin and API pages (Django's and
DRF's templates) may use inline styles. Swagger UI comes from the
drf-spectacular-sidecar package, served by the gateway itself, with its
start-up script as a file.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client

from tests.logrows import make_row

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/conversations/",
    "/usage/",
    "/admin/",
    "/admin/routing/provider/",
    "/admin/routing/provider/add/",
    "/api/",
    "/api/providers/",
    "/api/docs/",
]
DASHBOARD = ["/", "/conversations/", "/conversations/session-1/", "/usage/"]
STATIC_PREFIX = "/static/"
#: A <script> element without a src attribute, i.e. inline code.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)


@pytest.fixture
def browser() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


@pytest.mark.parametrize("url", PAGES)
def test_every_page_sends_a_policy_that_allows_only_our_own_scripts(browser, url):
    response = browser.get(url, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    csp = policy(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    for name, sources in csp.items():
        if name.startswith("script") or name == "default-src":
            assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, name


@pytest.mark.parametrize("url", ["/", "/usage/", "/api/docs/"])
def test_our_pages_carry_no_inline_script(browser, url):
    html = browser.get(url).content.decode()

    assert not INLINE_SCRIPT.search(html)
    assert not re.search(r"\son[a-z]+=", html), "an inline event handler"


def test_the_api_docs_load_swagger_ui_from_our_own_origin(browser):
    html = browser.get("/api/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)

    assert any("swagger-ui-bundle.js" in source for source in sources)
    for source in sources:
        assert source.startswith("/"), f"{source} is not served by the gateway"
        if source.startswith(STATIC_PREFIX):  # files: found where the static view looks
            assert finders.find(source.removeprefix(STATIC_PREFIX)), source
        else:
            assert browser.get(source).status_code == 200, source
    assert "cdn" not in html.lower()


@pytest.mark.parametrize("url", DASHBOARD)
def test_dashboard_pages_allow_only_our_own_styles_and_carry_none_inline(browser, url):
    make_row(started_at=datetime.now(UTC), conversation_key="session-1")  # charts, bars

    response = browser.get(url)
    html = response.content.decode()

    assert response.status_code == 200
    assert policy(response)["style-src"] == ["'self'"]
    assert not re.search(r"\sstyle=", html), "a style attribute"
    assert "<style" not in html


@pytest.mark.parametrize("url", ["/admin/routing/provider/", "/api/providers/"])
def test_admin_and_api_pages_may_use_inline_styles_but_not_scripts(browser, url):
    csp = policy(browser.get(url, HTTP_ACCEPT="text/html"))

    assert csp["style-src"] == ["'self'", "'unsafe-inline'"]
    assert csp["script-src"] == ["'self'"]
