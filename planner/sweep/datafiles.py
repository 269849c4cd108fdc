"""The data files a sweep's scenario points to, and how each worker gets an unchanged copy.

The driver reads every file (or folder) a ``path``/``paths`` field names once, streaming, and
records its SHA-256, size, modification time and inode: a :class:`DataFile`.  The digests go
into the sweep's fingerprint; the bytes are not kept.

* Workers on this machine (the local executor) read the files **in place**: before a worker
  first uses a job it checks each file's size, modification time and inode against the
  recorded ones, and stops the sweep with :class:`DataFileChanged` if the file was edited or
  replaced since the sweep started.  Nothing is copied, so a 1 GB trace costs no disk and no
  memory per worker.
* Workers elsewhere (the Ray executor) get the bytes in the job (:func:`with_contents`, read
  and checked against the digest on the driver) and write them once per machine into a
  content-addressed folder of the **per-user** cache (:func:`sweep_files_dir`, mode 0700):
  ``<cache>/<digest>/<name>``.  A file already there is reused only when its SHA-256 is the
  expected one; anything else (a same-size file changed by another process, a torn write) is
  replaced.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from domain.errors import PlannerError, ScenarioError

__all__ = ["CACHE_ENV", "DataFile", "DataFileChanged", "check_in_place", "collect_files",
           "file_digest", "local_paths", "sweep_files_dir", "walk_paths", "with_contents"]

CACHE_ENV = "PLANNER_SWEEP_FILES"
"""Environment variable naming the workers' file cache (overrides the XDG default)."""

_PATH_KEYS = ("path", "paths")
_CHUNK = 1 << 20


class DataFileChanged(PlannerError):
    """A data file changed (or vanished) while the sweep ran: the sweep stops, it is not one
    failed point."""


@dataclass(frozen=True)
class DataFile:
    """One file as the driver found it when the sweep started."""

    sha256: str
    size: int
    mtime_ns: int
    inode: int
    blob: bytes | None = field(default=None, repr=False, compare=False)
    """The content, only in a job sent to other machines (:func:`with_contents`)."""


Files = dict[str, dict[str, DataFile]]
"""Absolute path in the scenario -> {relative name ("" for a plain file): its record}."""


def walk_paths(data: Any, visit: Callable[[str], str]) -> Any:
    """Return ``data`` with every string under a ``path``/``paths`` key replaced by
    ``visit(string)``."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if key in _PATH_KEYS and isinstance(value, str):
                out[key] = visit(value)
            elif key in _PATH_KEYS and isinstance(value, list):
                out[key] = [visit(v) if isinstance(v, str) else v for v in value]
            else:
                out[key] = walk_paths(value, visit)
        return out
    if isinstance(data, list):
        return [walk_paths(v, visit) for v in data]
    return data


def file_digest(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 (hex) of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _record(path: Path) -> DataFile:
    before = path.stat()
    sha = file_digest(path)
    after = path.stat()
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        raise OSError(f"{path} changed while it was read; retry when it is no longer written")
    return DataFile(sha, after.st_size, after.st_mtime_ns, after.st_ino)


def collect_files(data: Mapping[str, Any], label: str) -> Files:
    """Record every file (or folder) a scenario's ``path``/``paths`` fields name (s3:// URLs
    are left to the readers).

    Raises
    ------
    ScenarioError
        A path that does not exist or cannot be read.
    """
    files: Files = {}

    def visit(value: str) -> str:
        if value.startswith("s3://") or value in files:
            return value
        path = Path(value)
        try:
            if path.is_dir():
                files[value] = {str(p.relative_to(path)): _record(p)
                                for p in sorted(path.rglob("*")) if p.is_file()}
            else:
                files[value] = {"": _record(path)}
        except OSError as exc:
            raise ScenarioError(f"{label}: cannot read {value} for the sweep workers "
                                f"({exc.strerror or exc}); check the path (relative paths are "
                                "resolved against the scenario file's folder)") from None
        return value

    walk_paths(dict(data), visit)
    return files


def _changed(source: Path, why: str) -> DataFileChanged:
    return DataFileChanged(f"{source}: {why} since the sweep started; the finished points are "
                           "kept: rerun the sweep (the changed file makes it a new sweep)")


def with_contents(files: Files) -> Files:
    """Return ``files`` with each file's bytes attached, checked against its digest (for
    workers on other machines).  Records that already hold their bytes are kept.

    Raises
    ------
    DataFileChanged
        A file that no longer has the recorded content.
    """
    out: Files = {}
    for path, entries in files.items():
        out[path] = {}
        for name, record in entries.items():
            if record.blob is None:
                source = Path(path) / name if name else Path(path)
                try:
                    blob = source.read_bytes()
                except OSError as exc:
                    raise _changed(source, f"cannot be read ({exc.strerror or exc})") from None
                if hashlib.sha256(blob).hexdigest() != record.sha256:
                    raise _changed(source, "its content changed")
                record = replace(record, blob=blob)
            out[path][name] = record
    return out


def sweep_files_dir() -> Path:
    """Return (creating it, mode 0700) the per-user cache of data files for sweep workers:
    ``$PLANNER_SWEEP_FILES``, else ``$XDG_CACHE_HOME/gpu-planner/sweep-files`` (``XDG_CACHE_HOME``
    defaults to ``~/.cache``), else, where the home folder cannot be written (a container),
    ``<temporary folder>/gpu-planner-sweep-files-<uid>``.

    Raises
    ------
    PlannerError
        The folder is a link, belongs to another user, or cannot be created.
    """
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return _private_folder(Path(explicit).expanduser())
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    try:
        return _private_folder(Path(base).expanduser() / "gpu-planner" / "sweep-files")
    except PlannerError:
        import getpass

        uid = os.getuid() if hasattr(os, "getuid") else getpass.getuser()
        return _private_folder(Path(tempfile.gettempdir()) / f"gpu-planner-sweep-files-{uid}")


def _private_folder(folder: Path) -> Path:
    """Create ``folder`` (mode 0700) or check that an existing one is this user's own."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
    except OSError as exc:
        raise PlannerError(f"{folder}: cannot create the sweep file cache ({exc.strerror or exc});"
                           f" set ${CACHE_ENV} to a writable folder of yours") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise PlannerError(f"{folder}: the sweep file cache is a link or not a folder; remove it "
                           f"or set ${CACHE_ENV} to a folder of yours")
    if hasattr(os, "getuid"):
        if info.st_uid != os.getuid():
            raise PlannerError(f"{folder}: the sweep file cache belongs to user {info.st_uid}, "
                               f"not to you ({os.getuid()}); set ${CACHE_ENV} to a folder of "
                               "yours")
        if stat.S_IMODE(info.st_mode) & 0o077:
            folder.chmod(0o700)
    return folder


def _write_verified(file: Path, record: DataFile) -> None:
    """Make ``file`` hold ``record``'s bytes, reusing it only when its SHA-256 matches."""
    if file.is_file() and file.stat().st_size == record.size \
            and file_digest(file) == record.sha256:
        return
    assert record.blob is not None
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = file.with_name(f".{file.name}.{secrets.token_hex(6)}.part")
    try:
        with open(partial, "xb") as out:
            out.write(record.blob)
        os.replace(partial, file)
    finally:
        partial.unlink(missing_ok=True)


def _check_in_place(source: Path, record: DataFile) -> None:
    try:
        info = source.stat()
    except OSError as exc:
        raise _changed(source, f"cannot be read ({exc.strerror or exc})") from None
    if (info.st_size, info.st_mtime_ns, info.st_ino) != (record.size, record.mtime_ns,
                                                           record.inode):
        raise _changed(source, "was modified or replaced")


def check_in_place(files: Files) -> None:
    """Check that every file read in place (a record without bytes) is unchanged: a few
    ``stat`` calls, done before each point.

    Raises
    ------
    DataFileChanged
        A file modified, replaced or removed since the sweep started.
    """
    for path, entries in files.items():
        for name, record in entries.items():
            if record.blob is None:
                _check_in_place(Path(path) / name if name else Path(path), record)


def local_paths(files: Files) -> dict[str, str]:
    """Return scenario path -> the path this worker reads it from.

    Records without bytes are read in place after checking they are unchanged; records with
    bytes are written into :func:`sweep_files_dir` (``<sha256 of the entry>/<name>``).

    Raises
    ------
    DataFileChanged
        A file read in place that changed since the sweep started.
    """
    local: dict[str, str] = {}
    for path, entries in files.items():
        if all(record.blob is None for record in entries.values()):
            check_in_place({path: entries})
            local[path] = path
            continue
        digest = hashlib.sha256()
        for name in sorted(entries):
            digest.update(name.encode() + b"\0" + bytes.fromhex(entries[name].sha256))
        target = sweep_files_dir() / digest.hexdigest()[:32] / (Path(path).name or "data")
        for name, record in entries.items():
            _write_verified(target / name if name else target, record)
        local[path] = str(target)
    return local
