"""Keep the data directory and the files in it readable by the gateway's user only.

The data dir holds every logged prompt (the SQLite database, spilled log
rows) and the keys that protect the credentials, so it is created 0700 and
its files 0600. Modes that an older version (or a copy) left looser are
tightened at start, with a warning saying what changed.

Runs while the settings load, before logging is configured: the warnings go
through Python's last-resort handler, to stderr.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger("switchboard.private_files")

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
#: Permission bits that let someone other than the owner in.
OTHERS_BITS = stat.S_IRWXG | stat.S_IRWXO
#: Files SQLite keeps next to a database.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def ensure_private_dir(path: Path) -> None:
    """Create `path` (mode 0700), or tighten it to 0700 if others may enter it."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR_MODE)


def tighten_files(paths: Iterable[Path]) -> None:
    """Make each existing file in `paths` 0600 if others may read it; missing ones are skipped."""
    for path in paths:
        if path.is_file():
            _tighten(path, PRIVATE_FILE_MODE)


def create_private_file(path: Path) -> None:
    """Create an empty `path` with mode 0600 unless it exists (then only tighten it).

    Used for the SQLite database: SQLite opens an empty file as a new
    database, and creates its -wal and -shm files with the database's mode.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        tighten_files([path])
    else:
        os.close(fd)


def sqlite_files(database: Path) -> list[Path]:
    """The database file and the companions SQLite may have created next to it."""
    return [database, *(database.with_name(database.name + s) for s in SQLITE_COMPANIONS)]


def _tighten(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & OTHERS_BITS:
            os.chmod(path, mode)
            logger.warning(
                "%s was mode %04o (readable by other users); changed to %04o", path, current, mode
            )
    except OSError as exc:  # not ours to change: say so, and go on
        logger.warning("could not make %s private: %s", path, exc)
