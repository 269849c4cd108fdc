"""The sweep's output folder: one JSON line per finished point, written as each point ends.

Layout of ``DIR``:

``sweep.json``
    The manifest: format version, scenario name, the job fingerprint (scenario without its
    sweep section, data-file contents, price catalog) and the base design.
``points.jsonl``
    One row per finished point, appended and flushed as it finishes (in completion order):
    ``point_id``, ``index``, ``params``, ``seed``, ``status`` (``ok``, ``skipped``, ``error``),
    ``error``, ``metrics`` (``DesignResult.flat_metrics()``), ``slo_ms`` (the first SLO
    bound's achieved value), ``slos`` (every bound: ``SloResult.to_dict()``), ``meets_slo``
    (every bound met), ``cost_incomplete``, ``kernel_s``, ``wall_s``.

``.lock``
    Held (an OS file lock) by the one process writing the folder, with its pid and host: a
    second sweep on the same folder is refused with a message naming that pid, instead of
    both writing and one losing the other's rows.  The OS releases the lock when its holder
    exits, however it ends.

Resume: rows whose point id is in the current plan are kept and those points are not run again.
A line that is not a whole JSON row (a killed writer's torn last line, or a damaged line in the
middle) is skipped and reported in :attr:`SweepStore.notes` with its line number; every other
row is kept, and the point of the skipped line runs again.  Rows of a different fingerprint are
never mixed in: resuming into a folder written for another scenario, catalog or data file is an
error (use ``--no-resume`` to start over, or another ``--output``).  Constraints are not part of the
fingerprint: changing a budget re-reports without re-running.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import IO, Any, Self, TextIO

from domain.errors import PlannerError
from planner.results import json_ready

__all__ = ["LOCK_FILE", "STORE_VERSION", "SweepStore"]

STORE_VERSION = 1
POINTS_FILE = "points.jsonl"
MANIFEST_FILE = "sweep.json"
LOCK_FILE = ".lock"


def _try_lock(handle: IO[str]) -> bool:
    """Take an exclusive, non-blocking OS lock on ``handle``; False when another holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _lock_folder(path: Path) -> IO[str]:
    """Return the open, locked ``.lock`` file of ``path`` holding this process's pid.

    Raises
    ------
    PlannerError
        Another process holds the lock (the message names it).
    """
    handle = (path / LOCK_FILE).open("a+", encoding="utf-8")
    if not _try_lock(handle):
        handle.seek(0)
        holder = handle.read().strip() or "unknown pid"
        handle.close()
        raise PlannerError(
            f"--output-dir {path}: another sweep is writing this folder ({holder}); wait for "
            "it to finish (or stop it), or choose another --output-dir folder")
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    handle.flush()
    return handle


class SweepStore:
    """Rows of finished points in ``folder``; opened with :meth:`open`, appended with
    :meth:`append`, closed with :meth:`close` (or as a context manager).

    Attributes
    ----------
    notes : list of str
        What was skipped while reading the rows back (torn or damaged lines), for the user.
    """

    def __init__(self, folder: Path, manifest: dict[str, Any], rows: dict[str, dict[str, Any]],
                 notes: list[str] | None = None):
        self.folder = folder
        self.manifest = manifest
        self.rows = rows
        self.notes = notes or []
        self._out: TextIO | None = None
        self._lock: IO[str] | None = None

    @classmethod
    def open(cls, folder: str | os.PathLike[str], manifest: dict[str, Any], *,
             resume: bool) -> SweepStore:
        """Lock (creating it if needed) the folder; with ``resume`` keep the rows already
        written.

        Raises
        ------
        PlannerError
            The folder cannot be written, another process is writing it, or it holds a sweep
            with another fingerprint while ``resume`` is on.
        """
        path = Path(folder)
        manifest = {"store_version": STORE_VERSION, **manifest}
        lock = None
        try:
            path.mkdir(parents=True, exist_ok=True)
            lock = _lock_folder(path)
            store = cls._open_locked(path, manifest, resume)
        except OSError as exc:
            if lock is not None:
                lock.close()
            raise PlannerError(f"--output {path}: cannot write the sweep folder "
                               f"({exc.strerror or exc}); choose a writable folder") from None
        except BaseException:
            if lock is not None:
                lock.close()
            raise
        store._lock = lock
        return store

    @classmethod
    def _open_locked(cls, path: Path, manifest: dict[str, Any], resume: bool) -> SweepStore:
        old_manifest = path / MANIFEST_FILE
        points = path / POINTS_FILE
        rows: dict[str, dict[str, Any]] = {}
        notes: list[str] = []
        if resume and old_manifest.is_file():
            try:
                old = json.loads(old_manifest.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise PlannerError(f"--output {path}: {MANIFEST_FILE} is not valid JSON "
                                   f"({exc}); pass --no-resume to start over") from None
            if old.get("fingerprint") != manifest["fingerprint"] or \
                    old.get("store_version") != STORE_VERSION:
                raise PlannerError(
                    f"--output {path}: holds results of another sweep (fingerprint "
                    f"{old.get('fingerprint')}, scenario {old.get('scenario')!r}; this one "
                    f"is {manifest['fingerprint']}: the scenario, its data files or the "
                    "price catalog changed); pass --no-resume to start over or choose "
                    "another --output folder")
            if points.is_file():
                rows, notes = cls._read_rows(points)
        elif points.exists():
            points.unlink()
        old_manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        store = cls(path, manifest, rows, notes)
        store._out = points.open("a", encoding="utf-8")
        return store

    @staticmethod
    def _read_rows(points: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Return the rows of ``points`` and a note per skipped line; rewrite the file without
        the skipped lines when there were any (the folder is locked: no other writer)."""
        rows: dict[str, dict[str, Any]] = {}
        notes: list[str] = []
        kept = []
        text = points.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                point = row["point_id"]
            except (json.JSONDecodeError, TypeError, KeyError) as exc:
                shown = line if len(line) <= 60 else line[:57] + "..."
                why = "not a whole JSON line" if isinstance(exc, json.JSONDecodeError) \
                    else "no point_id"
                notes.append(f"{points} line {number}: skipped ({why}: {shown!r}); its point "
                             "runs again")
                continue
            rows[point] = row
            kept.append(line + "\n")
        if notes:
            tmp = points.with_suffix(".jsonl.part")
            tmp.write_text("".join(kept), encoding="utf-8")
            os.replace(tmp, points)
        return rows, notes

    def append(self, row: dict[str, Any]) -> None:
        """Write one finished point and flush it to disk."""
        assert self._out is not None, "store is closed"
        self._out.write(json.dumps(json_ready(row), separators=(",", ":")) + "\n")
        self._out.flush()
        self.rows[row["point_id"]] = row

    def close(self) -> None:
        """Close the points file and release the folder (idempotent)."""
        if self._out is not None:
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None
        if self._lock is not None:
            self._lock.close()  # closing the file releases the OS lock
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
