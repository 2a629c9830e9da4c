"""The README cannot drift from the code: every setting and command it must name is there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_switchboard_setting_is_in_the_readmes_configuration_table():
    settings_text = (ROOT / "proxysite" / "settings.py").read_text()
    read = set(re.findall(r'env\w*\(\s*"(SWITCHBOARD_[A-Z_]+)"', settings_text))
    read |= set(re.findall(r'os\.environ\.get\("(SWITCHBOARD_[A-Z_]+)"', settings_text))
    readme = (ROOT / "README.md").read_text()
    missing = sorted(
        name for name in read if f"`{name}`" not in readme and f"`{name}` (`_FILE`)" not in readme
    )
    assert read, "no settings found: the pattern is stale"
    assert missing == []


def test_every_management_command_is_documented():
    commands = sorted(
        path.stem
        for path in ROOT.glob("*/management/commands/*.py")
        if not path.stem.startswith("_")
    )
    readme = (ROOT / "README.md").read_text()
    assert [c for c in commands if c not in readme] == []


def test_the_test_command_installs_npm_only_where_it_is_missing():
    """Debian's npm conflicts with a Node.js from elsewhere (NodeSource): never force it."""
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = next(line for line in readme.splitlines() if "pytest -q" in line)
    guard = "{ command -v npm >/dev/null || apt-get install -y -qq npm; }"
    assert guard in command
    assert " npm " not in command.replace(guard, "")
    assert "command -v npm >/dev/null ||" in ci
