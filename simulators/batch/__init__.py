"""The batch pattern: ``BatchSpec`` in, ``simulate(spec)`` runs the kernel, ``batch_usage`` gives the
shared usage record (``docs/architecture.md``). The semantics are the contract at the top of
``api.py``; ``reference.py`` is the SimPy model the kernel is tested against."""

from simulators.batch.spec import BatchSpec, simulate
from simulators.batch.usage import batch_usage

__all__ = ["BatchSpec", "batch_usage", "simulate"]
