"""The training pattern: ``TrainingSpec`` in, ``simulate(spec)`` runs the kernel, ``training_usage`` gives the
shared usage record (``docs/architecture.md``). The semantics are the contract at the top of
``api.py``; ``reference.py`` is the SimPy model the kernel is tested against."""

from simulators.training.spec import TrainingSpec, simulate
from simulators.training.usage import training_usage

__all__ = ["TrainingSpec", "simulate", "training_usage"]
