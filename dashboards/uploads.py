"""Uploads expire: what users upload is deleted after a time to live, and a temporary work
folder the app made for itself is deleted when its process exits.

Billing exports are saved under ``uploads/<token>/`` of the work folder; uploaded scenarios and
stored runs live in its store (a diskcache whose entries are written with an expiry).
:class:`UploadJanitor` deletes upload folders whose newest file is older than the time to live,
and culls the store's expired entries: once when the app is created, then on a request at most
every ``every_s`` (no thread of its own).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import weakref
from pathlib import Path

from dashboards.settings import Settings

__all__ = ["UPLOAD_TTL_S", "UploadJanitor", "expire_uploads", "remove_at_exit"]

UPLOAD_TTL_S = 24 * 3600.0
"""How long an upload (billing export, scenario) and a stored run are kept (s)."""


def _newest_mtime(folder: Path) -> float:
    newest = folder.lstat().st_mtime
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            try:
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
            except OSError:  # removed meanwhile
                continue
    return newest


def expire_uploads(settings: Settings, ttl_s: float = UPLOAD_TTL_S,
                   now: float | None = None) -> list[Path]:
    """Delete the uploads older than ``ttl_s``; return the upload folders deleted.

    An upload folder (``uploads/<token>/``, or a stray file there) goes when its newest file
    was written more than ``ttl_s`` ago; the store's expired scenarios and runs are culled.
    """
    import diskcache

    now = time.time() if now is None else now
    removed = []
    if settings.upload_dir.is_dir():
        for entry in settings.upload_dir.iterdir():
            try:
                if now - _newest_mtime(entry) <= ttl_s:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            except FileNotFoundError:  # another process of the app removed it
                continue
            removed.append(entry)
    if settings.store_dir.is_dir():
        with diskcache.Cache(str(settings.store_dir)) as store:
            store.expire()
    return removed


class UploadJanitor:
    """Run :func:`expire_uploads` now, then again when called (a Flask ``before_request``
    hook) once ``every_s`` has passed; concurrent requests skip a sweep already running."""

    def __init__(self, settings: Settings, ttl_s: float = UPLOAD_TTL_S,
                 every_s: float | None = None) -> None:
        self.settings = settings
        self.ttl_s = ttl_s
        self.every_s = min(600.0, ttl_s / 4) if every_s is None else every_s
        self._lock = threading.Lock()
        self._next_s = 0.0
        self()

    def __call__(self) -> None:
        if time.monotonic() < self._next_s or not self._lock.acquire(blocking=False):
            return
        try:
            expire_uploads(self.settings, self.ttl_s)
            self._next_s = time.monotonic() + self.every_s
        finally:
            self._lock.release()


def remove_at_exit(owner: object, folder: Path) -> None:
    """Delete ``folder`` when ``owner`` is collected or this process exits (not in a process
    forked from it, which ends without running exit handlers)."""
    weakref.finalize(owner, _remove, folder, os.getpid())


def _remove(folder: Path, pid: int) -> None:
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)
