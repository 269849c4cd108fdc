"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings


@pytest.fixture
def shared_data() -> Path:
    """Return the shared real-data folder (``../shared/data`` beside the repository).

    Skips the test when the folder is absent (a plain checkout without the shared data).
    """
    folder = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not folder.is_dir():
        pytest.skip(f"shared data folder {folder} is absent; tests that need the real "
                    "traces and profiles run only beside ../shared/data")
    return folder


# Property tests draw examples from a fixed seed in CI, so a run's outcome never depends on luck;
# locally they explore new examples each run.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session", autouse=True)
def _empty_price_cache(tmp_path_factory):
    """Point the price cache at an empty folder so no test reads a developer's real cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANNER_PRICE_CACHE", str(tmp_path_factory.mktemp("empty-price-cache")))
        yield
