"""The realtime pattern: ``RealtimeSpec`` in, ``simulate(spec)`` runs the kernel, ``realtime_usage`` gives the
shared usage record (``docs/architecture.md``). The semantics are the contract at the top of
``api.py``; ``reference.py`` is the SimPy model the kernel is tested against."""

from simulators.realtime.spec import RealtimeSpec, simulate
from simulators.realtime.usage import realtime_usage

__all__ = ["RealtimeSpec", "realtime_usage", "simulate"]
