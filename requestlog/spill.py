"""The spill file: log rows the database did not take, one JSON object a line.

Written by the log writer (rows the database refused, rows past the queue's
bound) and read by `manage.py replaylogs`, possibly at the same time and from
several worker processes. So:

- Every append opens the file anew (O_APPEND) and writes its lines in one
  `write`, holding an exclusive `flock` on the file: lines never interleave,
  and a replay that has just moved the file away is noticed (the inode under
  the lock is no longer the one at the path) and the append goes to a new file.
- `take()` moves the file to a work file under the same lock, so a replay
  reads only lines no writer will add to any more.

Holding the lock costs an append a few microseconds; only another append or
a replay's rename ever holds it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from requestlog.row_clean import clean_row

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: appends are still one write each
    fcntl = None  # type: ignore[assignment]

#: Serialisation of a spilled row: datetimes as RFC 3339, Decimals and the rest as str.
DUMP_OPTIONS = orjson.OPT_NON_STR_KEYS


def row_line(row: dict[str, Any]) -> bytes:
    """One spill-file line for `row`; cleans a row whose text has no UTF-8 form first."""
    try:
        return orjson.dumps(row, default=str, option=DUMP_OPTIONS) + b"\n"
    except TypeError:  # orjson.JSONEncodeError: lone surrogates
        clean_row(row)
        return orjson.dumps(row, default=str, option=DUMP_OPTIONS) + b"\n"


def append_lines(path: Path, lines: Iterable[bytes]) -> None:
    """Append `lines` (each ending in a newline) to the file at `path`, created if need be."""
    data = b"".join(lines)
    if not data:
        return
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if not _is_file_at(fd, path):  # moved away by take(): open the new one
                    continue
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            return
        finally:
            os.close(fd)  # also releases the lock


def take(path: Path, work_path: Path) -> bool:
    """Move the spill file's lines to the end of `work_path`; False if there were none."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not _is_file_at(fd, path):  # another replay took it meanwhile
                return False
        if work_path.exists():  # left by an interrupted replay: keep its lines too
            with open(work_path, "ab", opener=_private) as work:
                work.write(path.read_bytes())
            path.unlink()
        else:
            path.rename(work_path)
        return True
    finally:
        os.close(fd)


def _private(path: str, flags: int) -> int:
    """Open for `open()` creating the file readable by its owner only (it holds prompts)."""
    return os.open(path, flags, 0o600)


def _is_file_at(fd: int, path: Path) -> bool:
    try:
        at_path = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (opened.st_dev, opened.st_ino) == (at_path.st_dev, at_path.st_ino)
