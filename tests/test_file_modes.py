"""The data dir is 0700 and its files 0600: prompts and keys are the gateway user's alone.

Each start is a fresh process (the settings do the work as they load) with a
umask that would otherwise leave files world-readable.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from proxysite import private_files

ROOT = Path(__file__).resolve().parent.parent
USUAL_UMASK = 0o022

#: Opens the SQLite database, writes in WAL mode and reports every file's mode
#: while the connection is open (SQLite removes -wal and -shm when it closes).
OPEN_DATABASE = """
import os, stat
import django
django.setup()
from django.conf import settings
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS probe (x INTEGER)")
    cursor.execute("INSERT INTO probe VALUES (1)")
    for name in sorted(os.listdir(settings.DATA_DIR)):
        mode = stat.S_IMODE(os.stat(os.path.join(settings.DATA_DIR, name)).st_mode)
        print(name, oct(mode))
"""


def start(data_dir: Path) -> tuple[dict[str, str], str]:
    """Load the settings in a new process on `data_dir`; its files' modes, and its stderr."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "SWITCHBOARD_SECRET_KEY", "SWITCHBOARD_ENCRYPTION_KEY")
    }
    env |= {"DJANGO_SETTINGS_MODULE": "proxysite.settings", "SWITCHBOARD_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-c", OPEN_DATABASE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        umask=USUAL_UMASK,
        check=True,
    )
    modes = dict(line.split() for line in done.stdout.splitlines())
    return modes, done.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_first_start_makes_the_data_dir_0700_and_its_files_0600(tmp_path):
    data_dir = tmp_path / "data"

    modes, _ = start(data_dir)

    assert mode(data_dir) == 0o700
    assert modes == {
        "encryption_key": "0o600",
        "secret_key": "0o600",
        "switchboard.sqlite3": "0o600",
        "switchboard.sqlite3-shm": "0o600",
        "switchboard.sqlite3-wal": "0o600",
    }


def test_a_start_tightens_files_left_readable_with_a_warning(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    loose = {
        "secret_key": "s" * 60,
        "encryption_key": "iVH8NIuIKgkL1HbIAnYzYj0Ejrvld3sKFcGxG8Tz7bE=",
        "switchboard.sqlite3": "",
        "unwritten-log-rows.jsonl": "{}\n",
    }
    for name, text in loose.items():
        (data_dir / name).write_text(text)
        os.chmod(data_dir / name, 0o644)

    modes, stderr = start(data_dir)

    assert mode(data_dir) == 0o700
    for name in loose:
        assert modes[name] == "0o600", name
        assert f"{data_dir / name} was mode 0644 (readable by other users); changed to 0600" in (
            stderr
        )
    assert f"{data_dir} was mode 0755" in stderr


def test_it_creates_a_private_file_without_a_window_for_others(tmp_path):
    path = tmp_path / "db.sqlite3"
    old = os.umask(0)
    try:
        private_files.create_private_file(path)
    finally:
        os.umask(old)
    assert mode(path) == 0o600


def test_it_leaves_a_file_that_is_already_private_alone(tmp_path, caplog):
    path = tmp_path / "key"
    path.write_text("k")
    os.chmod(path, 0o400)
    private_files.tighten_files([path, tmp_path / "missing"])
    assert mode(path) == 0o400
    assert caplog.text == ""


@pytest.mark.parametrize("loose", [0o750, 0o705, 0o777])
def test_it_tightens_a_directory_others_may_enter(tmp_path, loose):
    path = tmp_path / "data"
    path.mkdir()
    os.chmod(path, loose)
    private_files.ensure_private_dir(path)
    assert mode(path) == 0o700
