"""A strict Content-Security-Policy on the dashboard, admin and API pages; no CDN.

Scripts run only from our own origin: no inline script, no eval, no other
host. Swagger UI comes from the drf-spectacular-sidecar package, served by
the gateway itself, with its start-up script as a file.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client

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
