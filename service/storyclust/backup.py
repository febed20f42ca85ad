"""Online backup of the store: a consistent copy of the SQLite database, taken while the service
or a ``cluster`` run goes on writing. In WAL mode the copy reads one committed snapshot and no
writer waits for it; what a writer has not committed is not in it (and was not acknowledged).

A backup directory is a data directory: restore by pointing ``--data-dir`` (or
``STORYCLUST_DATA_DIR``) at it. The FAISS file and the LSH index are not copied: they are derived
from the store and rebuilt when the engine opens it (``Engine._load_indexes``).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from .store import STORE_FILE


def backup(data_dir: Path, destination: Path) -> dict:
    """Copy the store in ``data_dir`` to ``destination`` (a new or empty directory); return what
    was copied. The copy is checked (``PRAGMA quick_check``) and appears under its final name only
    when complete, so an interrupted backup leaves no file that looks like one."""
    source = Path(data_dir) / STORE_FILE
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no store to back up")
    destination = Path(destination)
    if destination.exists() and any(destination.iterdir()):
        raise RuntimeError(f"{destination}: not empty (a backup never overwrites)")
    destination.mkdir(parents=True, exist_ok=True)
    partial = destination / f"{STORE_FILE}.partial"
    started = time.perf_counter()
    reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)  # never changes the store
    copy = sqlite3.connect(partial)
    try:
        reader.backup(copy)  # all pages in one step: one read transaction, one snapshot
        check = copy.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise RuntimeError(f"{partial}: the copy fails its integrity check: {check}")
        articles = copy.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        stories = copy.execute("SELECT COUNT(*) FROM clusters").fetchone()[0]
    except BaseException:
        copy.close()
        partial.unlink(missing_ok=True)
        raise
    finally:
        reader.close()
    copy.close()
    _fsync(partial)
    target = destination / STORE_FILE
    os.replace(partial, target)
    _fsync(destination)  # the rename itself
    return {"store": str(target), "articles": articles, "stories": stories,
            "bytes": target.stat().st_size, "seconds": round(time.perf_counter() - started, 3)}


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
