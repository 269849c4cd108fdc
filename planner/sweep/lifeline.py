"""Tie a local sweep's helper processes to the driver, so that none outlives it.

A local sweep runs three kinds of helper processes: the fork server (forked by the driver), the
pool's workers (forked by the fork server) and multiprocessing's resource tracker.  Killing the
driver used to leave them all alive: each idle worker waits on a queue whose write end it holds
itself, and keeps the fork server and the resource tracker alive by holding their pipes.

Two ties, both set up before any work runs:

* the **lifeline**: the driver keeps the write end of a pipe whose read end every worker watches
  from a thread; when the driver ends, however it ends (SIGKILL included), the pipe reaches
  end-of-file and the worker exits.  Portable, but a thread cannot interrupt a compiled kernel
  holding the GIL: a busy worker exits when its point ends;
* on **Linux**, the parent-death signal (``prctl(PR_SET_PDEATHSIG)``): the fork server gets
  SIGKILL when the driver ends, and each worker when the fork server ends, at once, even inside
  a kernel.

With its workers gone the fork server's and the resource tracker's pipes reach end-of-file and
they exit on their own.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from typing import Any

__all__ = ["die_with_parent", "watch_lifeline"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent ends (Linux only).

    Returns whether the request was made (False elsewhere, or when libc refuses).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _exit_at_end_of_file(reader: Any) -> None:
    try:
        while True:
            reader.recv_bytes()  # the driver never writes: this returns only at end-of-file
    except (EOFError, OSError):
        pass
    os._exit(1)  # the driver is gone: nobody will read this worker's results


def watch_lifeline(reader: Any) -> threading.Thread:
    """Start a daemon thread that ends this process when ``reader``'s pipe reaches end-of-file
    (the driver holding the write end has ended)."""
    thread = threading.Thread(target=_exit_at_end_of_file, args=(reader,),
                              name="sweep-lifeline", daemon=True)
    thread.start()
    return thread
