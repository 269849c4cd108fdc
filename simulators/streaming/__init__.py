"""The streaming pattern: ``StreamingSpec`` in, ``simulate(spec)`` runs the kernel, ``streaming_usage`` gives the
shared usage record (``docs/architecture.md``). The semantics are the contract at the top of
``api.py``; ``reference.py`` is the SimPy model the kernel is tested against."""

from simulators.streaming.spec import StreamingSpec, simulate
from simulators.streaming.usage import streaming_usage

__all__ = ["StreamingSpec", "simulate", "streaming_usage"]
