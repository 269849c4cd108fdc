"""The registry of design patterns: ``PATTERNS[design.pattern]`` is all the orchestrator needs.

To add a pattern: write its simulator package ``simulators/<pattern>/`` (typed spec in, raw
result and :class:`simulators.core.usage.Usage` out, with its SimPy reference), its schema
design class, a module here with a class meeting :class:`planner.patterns.base.Pattern`, and one
line below (``docs/architecture.md``).
"""

from __future__ import annotations

from planner.patterns.base import Pattern
from planner.patterns.batch import BatchPattern
from planner.patterns.llm import LlmPattern
from planner.patterns.realtime import RealtimePattern
from planner.patterns.streaming import StreamingPattern
from planner.patterns.training import TrainingPattern

PATTERNS: dict[str, Pattern] = {
    p.name: p for p in (RealtimePattern(), StreamingPattern(), BatchPattern(), TrainingPattern(),
                        LlmPattern())
}
"""Every design pattern by its ``pattern:`` name."""

__all__ = ["PATTERNS", "Pattern"]
