"""`manage.py check --deploy` is clean in the documented production settings.

SWITCHBOARD_HTTPS=1 (behind a TLS proxy that sets X-Forwarded-Proto) turns on
secure cookies, HSTS and the HTTPS redirect for the site; the gateway paths
skip middleware, so they are never redirected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def deploy_check(data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SWITCHBOARD_") and k != "DATABASE_URL"
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, "SWITCHBOARD_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
    )


def test_check_deploy_has_no_warning_with_https_on(tmp_path):
    done = deploy_check(tmp_path, SWITCHBOARD_HTTPS="1")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout
    assert "WARNING" not in done.stderr + done.stdout


def test_check_deploy_warns_without_https(tmp_path):
    """The clean result comes from SWITCHBOARD_HTTPS, not from checks being skipped."""
    done = deploy_check(tmp_path)

    assert done.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in done.stderr


def test_https_redirects_the_site_but_not_the_gateway_paths(anthropic_provider, start_gateway):
    gateway = start_gateway(SWITCHBOARD_HTTPS="1")

    plain = httpx.get(gateway.url + "/admin/login/", timeout=5)
    proxied = httpx.get(
        gateway.url + "/admin/login/", headers={"x-forwarded-proto": "https"}, timeout=5
    )
    health = httpx.get(gateway.url + "/healthz", timeout=5)

    assert plain.status_code == 301
    assert plain.headers["location"] == f"https://127.0.0.1:{gateway.port}/admin/login/"
    assert proxied.status_code == 200
    assert (
        "max-age=31536000; includeSubDomains; preload"
        in (proxied.headers["strict-transport-security"])
    )
    assert "Secure" in proxied.headers["set-cookie"]
    assert health.status_code == 200
