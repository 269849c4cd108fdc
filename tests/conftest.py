"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


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
