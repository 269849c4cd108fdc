"""The installed planner's version, without importing anything heavy (``planner --version``)."""

from __future__ import annotations

from importlib import metadata


def planner_version() -> str:
    """Return the installed package version (``0+unknown`` when run from a bare checkout)."""
    try:
        return metadata.version("gpu-planner")
    except metadata.PackageNotFoundError:  # pragma: no cover - only outside an install
        return "0+unknown"
