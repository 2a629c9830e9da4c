"""gateway.host_check: which Host headers the middleware-free gateway paths serve."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.host_check import host_allowed, host_from_scope, host_refusal_message

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = ["127.0.0.1", "localhost", "[::1]"]


def test_the_default_allowed_hosts_are_the_loopback_names(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SWITCHBOARD_ALLOWED_HOSTS"}
    env |= {"DJANGO_SETTINGS_MODULE": "proxysite.settings", "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    printed = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.ALLOWED_HOSTS)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert printed == str(LOOPBACK)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8080", "localhost:8080", "[::1]:8080"])
def test_it_allows_the_loopback_names_on_any_port(host):
    assert host_allowed(host, LOOPBACK)


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:8080", "127.0.0.2:8080", "localhost.attacker"]
)
def test_it_refuses_a_host_that_is_not_listed(host):
    assert not host_allowed(host, LOOPBACK)


@pytest.mark.parametrize("host", ["bad host", "127.0.0.1@attacker.example", "a/b", "[::1"])
def test_it_refuses_a_malformed_host(host):
    assert not host_allowed(host, ["*"])


def test_it_allows_a_request_that_names_no_host():
    """HTTP/1.0 without Host: no browser sends that, so it cannot be a rebinding page."""
    assert host_allowed(None, LOOPBACK)
    assert host_allowed("", LOOPBACK)


def test_it_follows_djangos_patterns():
    assert host_allowed("GW.Example.COM.:443", ["gw.example.com"])
    assert host_allowed("a.gw.example.com", [".gw.example.com"])
    assert host_allowed("gw.example.com", [".gw.example.com"])
    assert not host_allowed("evilgw.example.com", [".gw.example.com"])
    assert host_allowed("anything.example", ["*"])


def test_it_reads_allowed_hosts_from_the_settings(settings):
    settings.ALLOWED_HOSTS = ["gw.example.com"]
    assert host_allowed("gw.example.com:8080")
    assert not host_allowed("127.0.0.1:8080")


def test_it_uses_djangos_debug_fallback_for_an_empty_list(settings):
    settings.ALLOWED_HOSTS = []
    settings.DEBUG = True
    assert host_allowed("localhost:8080")
    settings.DEBUG = False
    assert not host_allowed("localhost:8080")


def test_it_reads_the_host_of_an_asgi_scope():
    scope = {"headers": [(b"accept", b"*/*"), (b"host", b"127.0.0.1:8080")]}
    assert host_from_scope(scope) == "127.0.0.1:8080"
    assert host_from_scope({"headers": []}) is None


def test_the_refusal_names_the_host_and_the_setting():
    message = host_refusal_message("attacker.example:8080")
    assert "'attacker.example:8080'" in message and "SWITCHBOARD_ALLOWED_HOSTS" in message
    assert len(host_refusal_message("x" * 10_000)) < 300
