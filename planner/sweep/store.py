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

Resume: rows whose point id is in the current plan are kept and those points are not run again;
a torn last line (a killed writer) is dropped.  Rows of a different fingerprint are never mixed
in: resuming into a folder written for another scenario, catalog or data file is an error (use
``--no-resume`` to start over, or another ``--output``).  Constraints are not part of the
fingerprint: changing a budget re-reports without re-running.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

from domain.errors import PlannerError
from planner.results import json_ready

__all__ = ["STORE_VERSION", "SweepStore"]

STORE_VERSION = 1
POINTS_FILE = "points.jsonl"
MANIFEST_FILE = "sweep.json"


class SweepStore:
    """Rows of finished points in ``folder``; opened with :meth:`open`, appended with
    :meth:`append`, closed with :meth:`close` (or as a context manager)."""

    def __init__(self, folder: Path, manifest: dict[str, Any], rows: dict[str, dict[str, Any]]):
        self.folder = folder
        self.manifest = manifest
        self.rows = rows
        self._out: TextIO | None = None

    @classmethod
    def open(cls, folder: str | os.PathLike[str], manifest: dict[str, Any], *,
             resume: bool) -> SweepStore:
        """Open (or create) the store; with ``resume`` keep the rows already written.

        Raises
        ------
        PlannerError
            The folder cannot be written, or holds a sweep with another fingerprint while
            ``resume`` is on.
        """
        path = Path(folder)
        manifest = {"store_version": STORE_VERSION, **manifest}
        rows: dict[str, dict[str, Any]] = {}
        try:
            path.mkdir(parents=True, exist_ok=True)
            old_manifest = path / MANIFEST_FILE
            points = path / POINTS_FILE
            if resume and old_manifest.is_file():
                old = json.loads(old_manifest.read_text(encoding="utf-8"))
                if old.get("fingerprint") != manifest["fingerprint"] or \
                        old.get("store_version") != STORE_VERSION:
                    raise PlannerError(
                        f"--output {path}: holds results of another sweep (fingerprint "
                        f"{old.get('fingerprint')}, scenario {old.get('scenario')!r}; this one "
                        f"is {manifest['fingerprint']}: the scenario, its data files or the "
                        "price catalog changed); pass --no-resume to start over or choose "
                        "another --output folder")
                if points.is_file():
                    rows = cls._read_rows(points)
            elif points.exists():
                points.unlink()
            old_manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            store = cls(path, manifest, rows)
            store._out = points.open("a", encoding="utf-8")
        except OSError as exc:
            raise PlannerError(f"--output {path}: cannot write the sweep folder "
                               f"({exc.strerror or exc}); choose a writable folder") from None
        except json.JSONDecodeError as exc:
            raise PlannerError(f"--output {path}: {MANIFEST_FILE} is not valid JSON ({exc}); "
                               "pass --no-resume to start over") from None
        return store

    @staticmethod
    def _read_rows(points: Path) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        lines = []
        for line in points.read_text(encoding="utf-8").split("\n"):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                break  # a torn last line (a killed writer): it and anything after are dropped
            rows[row["point_id"]] = row
            lines.append(line + "\n")
        tmp = points.with_suffix(".jsonl.part")
        tmp.write_text("".join(lines), encoding="utf-8")  # rewritten clean, then appended to
        os.replace(tmp, points)
        return rows

    def append(self, row: dict[str, Any]) -> None:
        """Write one finished point and flush it to disk."""
        assert self._out is not None, "store is closed"
        self._out.write(json.dumps(json_ready(row), separators=(",", ":")) + "\n")
        self._out.flush()
        self.rows[row["point_id"]] = row

    def close(self) -> None:
        """Close the points file (idempotent)."""
        if self._out is not None:
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
