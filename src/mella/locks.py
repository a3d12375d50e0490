"""Exclusive locks on run and stage folders, so two mella processes never write one folder at once.

The lock is an OS file lock (``flock``) on ``<folder>/.mella.lock``: the kernel releases it when the
process that holds it exits, however it exits (``kill -9`` included), so a lock left by a dead process is
never in the way; the file itself stays and only records who held it last (pid, host, command, time).
A process may take the same lock again (a pipeline locks the run folder, then each stage folder):
the count is kept per process.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mella.errors import MellaError

LOCK_NAME = ".mella.lock"
_HELD: dict[str, tuple[int, int]] = {}  # resolved folder -> (fd, depth)


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another process"
    return f"pid {info.get('pid')} on {info.get('host')}, since {info.get('since')}: {info.get('command')}"


def _record(fd: int) -> None:
    from mella.runstore import now_iso

    info = {"pid": os.getpid(), "host": socket.gethostname(), "since": now_iso(),
            "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:300]}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)


def acquire(folder: str | os.PathLike) -> str:
    """Take the lock of ``folder`` (created if needed) or raise a one-line MellaError naming the holder."""
    import fcntl

    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise MellaError(f"{folder} is a file, not a folder; name a folder for the output")
    path.mkdir(parents=True, exist_ok=True)
    key = str(path.resolve())
    if key in _HELD:
        fd, depth = _HELD[key]
        _HELD[key] = (fd, depth + 1)
        return key
    lock_file = path / LOCK_NAME
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise MellaError(f"{folder} is in use by another mella process ({_holder(lock_file)}); "
                         "wait for it to finish or stop it") from None
    _record(fd)
    _HELD[key] = (fd, 1)
    return key


def release(key: str) -> None:
    fd, depth = _HELD[key]
    if depth > 1:
        _HELD[key] = (fd, depth - 1)
        return
    del _HELD[key]
    os.close(fd)  # closing the descriptor releases the flock


@contextmanager
def locked(folder: str | os.PathLike) -> Iterator[None]:
    """Hold the lock of ``folder`` for the ``with`` block."""
    key = acquire(folder)
    try:
        yield
    finally:
        release(key)


def is_held_here(folder: str | os.PathLike) -> bool:
    """Whether this process holds the lock of ``folder``."""
    return str(Path(folder).resolve()) in _HELD


def held_elsewhere(folder: str | os.PathLike) -> bool:
    """Whether another process holds the lock of ``folder`` (a shared, non-blocking probe; nothing is written)."""
    import fcntl

    lock = Path(folder) / LOCK_NAME
    if is_held_here(folder) or not lock.exists():
        return False
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases the probe's own shared lock
    return False
