"""What one app instance is configured with, and the dates its header line shows."""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import flask

SETTINGS_KEY = "PLANNER_DASHBOARD"
"""Key of :class:`Settings` in the Flask config of an app made by ``create_app``."""

DEFAULT_SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"
SCENARIO_UPLOAD_LIMIT_BYTES = 256 * 1024
BILLING_UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Folders one app reads and writes.

    ``scenarios_dir`` holds the bundled ``*.yaml`` scenarios (read only); ``data_dir`` the billing
    exports given at start-up (read only, optional); ``work_dir`` a private temporary folder that
    holds the background-callback cache, stored runs, uploaded scenarios and uploaded billing
    files. Nothing is written anywhere else.
    """

    scenarios_dir: Path
    data_dir: Path | None
    work_dir: Path

    @property
    def cache_dir(self) -> Path:
        """Return the folder of the background-callback (diskcache) manager."""
        return self.work_dir / "callbacks"

    @property
    def store_dir(self) -> Path:
        """Return the folder of stored runs and uploaded scenarios (a diskcache)."""
        return self.work_dir / "store"

    @property
    def upload_dir(self) -> Path:
        """Return the folder uploaded billing files are saved in."""
        return self.work_dir / "uploads"


def make_settings(data_dir: str | os.PathLike[str] | None = None,
                  scenarios_dir: str | os.PathLike[str] | None = None,
                  work_dir: str | os.PathLike[str] | None = None) -> Settings:
    """Return settings with absolute folders, creating a private work folder when none is given."""
    if work_dir is None:
        work_dir = tempfile.mkdtemp(prefix="planner-dashboard-")
    work = Path(work_dir).resolve()
    for sub in ("callbacks", "store", "uploads"):
        (work / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    return Settings(
        scenarios_dir=Path(scenarios_dir or DEFAULT_SCENARIOS_DIR).resolve(),
        data_dir=None if data_dir is None else Path(data_dir).resolve(),
        work_dir=work,
    )


def current_settings() -> Settings:
    """Return the settings of the app serving the current request."""
    return flask.current_app.config[SETTINGS_KEY]


@functools.lru_cache(maxsize=1)
def _catalog():
    from costmodels.price_cache import default_catalog

    return default_catalog()


def catalog():
    """Return the default price catalog (read once per process, on first use)."""
    return _catalog()


def prices_as_of() -> str:
    """Return ``"<catalog label> <as_of date>"`` of the catalog scenarios are priced from."""
    try:
        cat = catalog()
    except Exception as exc:  # noqa: BLE001 - the header must render even without a catalog
        return f"n/a ({exc})"
    return f"{cat.as_of} ({cat.label})"

