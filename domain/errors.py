"""Error types shared by every layer of the planner.

This module imports nothing from the project so that ``simulators`` and ``costmodels`` can raise
these errors without depending on the orchestration layer.  Every message names the field path
(or file and row), the bad value and the fix, so that a CLI user can act on it without a
traceback.
"""

from __future__ import annotations


class PlannerError(Exception):
    """Base class of every error a user can cause (bad scenario, bad file, unknown price)."""


class ScenarioError(PlannerError):
    """A scenario file, or a file it points to, is invalid."""


class CatalogError(PlannerError):
    """A price catalog is unreadable or a price lookup cannot be answered."""


class SimulationError(PlannerError, ValueError):
    """Simulation inputs are out of range or inconsistent (raised by the public simulator APIs,
    never inside kernels; also a ``ValueError``). Every pattern raises this one type."""
