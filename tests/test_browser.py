"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against Daphne.

Logs in through the admin form, watches a request sent through the gateway
appear in the list without a reload (the websocket feed), opens its detail,
filters by model, sees the usage charts render, and uses the API docs
(Swagger UI) and an admin form, with nothing blocked by the
Content-Security-Policy. A screenshot of each page is saved under
SCREENSHOTS (test-artifacts/screenshots/, named in the README).

Chromium is Debian's package (`apt-get install chromium`, done by .ci/run); if
it is missing or does not start, the test fails and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Error, Page, expect, sync_playwright

from tests.clients import anthropic_client
from tests.fakes.upstream import FakeUpstream, anthropic_message, anthropic_stream
from tests.live_gateway import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
USERNAME = "admin"
PASSWORD = "browser-test-password"
NOT_LIVE = (
    "the request did not appear without a reload: is LogWriter._publish wired to "
    "requestlog.live.publish_rows?"
)
#: Milliseconds Playwright waits for a page element (a live row is expected in well under 1 s).
WAIT_MS = 15_000


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless; started only after the test's database work.

    Playwright's sync API keeps an event loop in this thread, and Django
    refuses database calls from a thread with a running loop.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's Chromium: apt-get install -y chromium")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
        except Error as exc:
            pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}")
        try:
            yield browser
        finally:
            browser.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_the_dashboard_in_a_browser(anthropic_provider, fake_upstream, start_gateway):
    User.objects.create_superuser(USERNAME, "admin@example.com", PASSWORD)
    gateway = start_gateway()
    with chromium() as browser:
        check_dashboard(browser, gateway.url, fake_upstream)


def check_dashboard(browser: Browser, url: str, fake_upstream: FakeUpstream) -> None:
    sdk = anthropic_client(url)
    # Something in the list and the charts before the page opens.
    sdk.messages.create(
        model="claude-haiku-4-5",
        max_tokens=64,
        messages=[{"role": "user", "content": "Name a colour"}],
    )

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Chromium reports what the Content-Security-Policy blocked on the console.
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    # Signing in: the dashboard sends an anonymous visitor to the admin login.
    page.goto(url + "/")
    expect(page).to_have_url(f"{url}/admin/login/?next=/")
    shot(page, "01-login")
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(f"{url}/")
    expect(page.locator("h1")).to_have_text("Requests")
    expect(page.locator("#live-status")).to_have_class("live-status connected")
    expect(page.locator("tr.request-row")).to_have_count(1)

    # A request through the gateway appears without a reload.
    page.evaluate("window.notReloaded = true")
    fake_upstream.queue(
        anthropic_stream(
            ("Packets ", "find their way ", "home"),
            thinking=("The user wants a haiku.",),
            tool_use=("toolu_browser", "Bash", {"command": "ls -la"}),
        )
    )
    with sdk.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=256,
        system="You are a poet.",
        messages=[{"role": "user", "content": "Write a haiku about <b>routers</b>"}],
    ) as stream:
        stream.get_final_message()
    live_row = page.locator("tr.request-row", has_text="claude-sonnet-4-6")
    expect(live_row, NOT_LIVE).to_be_visible()
    expect(page.locator("tr.request-row")).to_have_count(2)
    expect(page.locator("tr.request-row").first).to_contain_text("claude-sonnet-4-6")
    assert page.evaluate("window.notReloaded") is True, "the page reloaded"
    expect(live_row.locator(".tag-stream")).to_have_text("stream")
    shot(page, "02-requests-live")

    # Its detail: the conversation, the answer with its tool call and thinking, attempts.
    live_row.locator("td.time a").click()
    expect(page.locator("h1")).to_contain_text("sbreq_")
    conversation = page.locator("section.conversation")
    expect(conversation).to_contain_text("Write a haiku about <b>routers</b>")  # shown as text
    expect(conversation.locator("b")).to_have_count(0)  # not as markup
    answer = page.locator("section.answer")
    expect(answer).to_contain_text("Packets find their way home")
    expect(answer.locator(".block-tool-use")).to_contain_text('"command": "ls -la"')
    expect(answer.locator("details.block-thinking")).to_be_visible()
    answer.locator("details.block-thinking summary").click()
    expect(answer).to_contain_text("The user wants a haiku.")
    expect(page.locator("table.data.compact").first).to_contain_text("anthropic")
    shot(page, "03-request-detail")

    # Filtering by model keeps only that model's rows.
    page.click("nav.primary >> text=Requests")
    page.fill("input[name=model]", "claude-haiku-4-5")
    page.click("#filters button[type=submit]")
    expect(page).to_have_url(f"{url}/?model=claude-haiku-4-5")
    rows = page.locator("tr.request-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("claude-haiku-4-5")
    shot(page, "04-requests-filtered")

    # A filtered page stays live for rows that match, and only those.
    fake_upstream.queue(anthropic_message("Green"), anthropic_message("Blue"))
    sdk.messages.create(
        model="claude-opus-4-1", max_tokens=8, messages=[{"role": "user", "content": "Other"}]
    )
    sdk.messages.create(
        model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "Again"}]
    )
    expect(rows).to_have_count(2)
    expect(page.locator("tr.request-row", has_text="claude-opus-4-1")).to_have_count(0)

    # Conversations and usage.
    page.click("nav.primary >> text=Conversations")
    expect(page.locator("table.conversations tbody tr")).to_have_count(4)
    shot(page, "05-conversations")
    page.click("nav.primary >> text=Usage")
    expect(page.locator("svg.chart rect.bar").first).to_be_visible()
    assert page.locator("svg.bar-chart").count() >= 4
    expect(page.locator(".chart-empty", has_text="No errors")).to_be_visible()
    expect(page.locator(".tile .tile-value").first).to_have_text("4")
    shot(page, "06-usage")

    # The API docs: Swagger UI from our own static files, under the same policy.
    page.goto(url + "/api/docs/")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/providers/").first).to_be_visible()
    shot(page, "07-api-docs")
    # An admin page with its scripts (the provider form and its credential inline).
    page.goto(url + "/admin/routing/provider/add/")
    page.click("text=Add another Credential")
    expect(page.locator("#credentials-0")).to_be_visible()

    assert errors == [], f"script errors on the page: {errors}"
    assert blocked == [], f"the Content-Security-Policy blocked: {blocked}"
    context.close()
