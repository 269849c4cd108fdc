"""Executors: run :func:`planner.sweep.runner.run_point` over many points, yielding rows as
they finish.

``local``
    A :class:`concurrent.futures.ProcessPoolExecutor` with the ``forkserver`` context (``spawn``
    where there is none): the fork server imports the package once, every worker forks from it
    and loads the Numba kernels from the on-disk cache (:mod:`simulators.core.jit`).  The job goes
    to each worker once, through the pool initializer.  Each worker runs its kernels on
    ``cores // workers`` threads (at least 1), so the pool does not oversubscribe the CPUs.
    ``workers=0`` runs the points in this process, one after another (debugging, tests).
    No helper process outlives the driver (:mod:`planner.sweep.lifeline`); a sweep stopped
    early (an exception, Ctrl-C) terminates its workers instead of waiting for their points.
``ray``
    One Ray task per point (``num_cpus=1``, kernels on one thread).  ``ray.init(address=...)``
    joins an existing cluster (``ray://host:port`` is Ray Client); without an address a local
    instance starts on 127.0.0.1 without the dashboard.  The job is put in the object store once
    and fetched once per worker process (cached by its fingerprint).

Both run the same point function on the same tasks; a point's result depends only on its
seed, never on the executor, the worker count or the completion order.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Self

from domain.errors import PlannerError
from planner.sweep.runner import PointTask, SweepJob, run_point

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "make_executor"]


class Executor:
    """Runs point tasks of a job; :meth:`map` yields rows in completion order."""

    name = "executor"
    workers: int = 1

    def map(self, job: SweepJob, tasks: Iterable[PointTask]) -> Iterator[dict[str, Any]]:
        """Yield the row of every task, as each finishes."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the workers (idempotent)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------ local

SIGNAL_CHECK_S = 0.2
"""Longest a local map waits without returning to Python (where signal handlers run)."""

_WORKER_JOBS: dict[str, SweepJob] = {}
"""Per local worker process: the jobs sent by the pool initializer, by fingerprint."""


def _init_worker(threads: int, lifeline: Any) -> None:
    import numba

    from planner.sweep.lifeline import die_with_parent, watch_lifeline

    die_with_parent()  # the fork server (Linux): it dies with the driver
    watch_lifeline(lifeline)
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


def _local_point(job_key: str, job_file: str, task: PointTask) -> dict[str, Any]:
    job = _WORKER_JOBS.get(job_key)
    if job is None:
        with open(job_file, "rb") as f:
            job = pickle.load(f)
        _WORKER_JOBS.clear()
        _WORKER_JOBS[job_key] = job
    return run_point(job, task)


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        preload = ["planner.run", "planner.sweep.runner"]
        if threading.current_thread() is threading.main_thread():
            # the parent-death signal fires when the *thread* that started the fork server
            # ends: tie it to the driver only when that thread lives as long as the driver
            preload.append("planner.sweep.forkserver_tie")
        ctx.set_forkserver_preload(preload)
        return ctx
    return multiprocessing.get_context("spawn")


class LocalExecutor(Executor):
    """A process pool of ``workers`` processes (default: the CPU count); 0 = in this process."""

    name = "local"

    def __init__(self, workers: int | None = None):
        cores = os.cpu_count() or 1
        self.workers = cores if workers is None else int(workers)
        if self.workers < 0:
            raise PlannerError(f"--workers must be >= 0 (got {self.workers}); use 0 to run in "
                               "this process or N worker processes")
        self._threads = max(1, cores // max(1, self.workers))
        self._pool: ProcessPoolExecutor | None = None
        self._lifeline: Any = None
        self._unfinished = 0
        """Maps started and not finished (a consumer that stopped early leaves one behind)."""

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = _context()
            reader, self._lifeline = context.Pipe(duplex=False)
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                             initializer=_init_worker,
                                             initargs=(self._threads, reader))
        return self._pool

    def map(self, job: SweepJob, tasks: Iterable[PointTask]) -> Iterator[dict[str, Any]]:
        """Yield the row of every task, as each finishes (unfinished work is cancelled when
        the consumer stops early, e.g. on Ctrl-C)."""
        if self.workers == 0:
            for task in tasks:
                yield run_point(job, task)
            return
        pool = self._ensure_pool()
        # The job travels once per worker: pickled to a file here, read by each worker the
        # first time it sees the job's key (a worker keeps the latest job only).
        fd, job_file = tempfile.mkstemp(prefix="planner-sweep-job-", suffix=".pkl")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(job, f, protocol=pickle.HIGHEST_PROTOCOL)
        finished = False
        self._unfinished += 1
        try:
            pending = {pool.submit(_local_point, job.key, job_file, task) for task in tasks}
            while pending:
                # a timeout, so that this thread wakes to run signal handlers (Ctrl-C, SIGTERM)
                # that the kernel delivered to another thread, instead of after the next point
                done, pending = wait(pending, timeout=SIGNAL_CHECK_S, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
            finished = True
        finally:
            self._unfinished -= 1
            if not finished:  # stopped early (even while submitting): no point is waited for
                self._terminate()
            os.unlink(job_file)

    def _terminate(self) -> None:
        """Stop the pool now: cancel queued points and end the workers, busy or not."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # Python 3.14 has pool.terminate_workers(); before it, the processes are only reachable
        # through this private mapping (stable since 3.2).
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        # the pool's manager thread sees its workers gone and exits: joining it frees the
        # pool's queues (else the resource tracker warns of leaked semaphores at exit)
        pool.shutdown(wait=True, cancel_futures=True)
        self._close_lifeline()

    def _close_lifeline(self) -> None:
        if self._lifeline is not None:
            self._lifeline.close()
            self._lifeline = None

    def close(self) -> None:
        """Release the workers: wait for them when every map finished, else (a consumer
        stopped early, e.g. on an exception between two rows) terminate them."""
        if self._unfinished:
            self._terminate()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._close_lifeline()


# -------------------------------------------------------------------------------------- ray

_RAY_JOBS: dict[str, SweepJob] = {}
"""Per Ray worker process: the job fetched from the object store, by fingerprint."""


def _ray_point(job_key: str, job_ref: list, task: PointTask) -> dict[str, Any]:
    import numba
    import ray

    numba.set_num_threads(1)
    job = _RAY_JOBS.get(job_key)
    if job is None:
        job = ray.get(job_ref[0])
        _RAY_JOBS.clear()
        _RAY_JOBS[job_key] = job
    return run_point(job, task)


class RayExecutor(Executor):
    """Ray tasks on the cluster at ``address``, or on a local instance started here."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None):
        try:
            import ray
        except ImportError:
            raise PlannerError("--executor ray needs Ray (got no ray module); install it with "
                               "pip install 'gpu-planner[ray]' or use --executor local") from None
        self._ray = ray
        self._owned = False
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                       "configure_logging": False}
            if address:
                options["address"] = address
            else:
                options.update(address="local", num_cpus=workers or os.cpu_count() or 1,
                               _node_ip_address="127.0.0.1")
            try:
                ray.init(**options)
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
                where = address or "a local Ray instance on 127.0.0.1"
                raise PlannerError(f"--executor ray: cannot start or join {where} ({exc}); "
                                   "check --address (e.g. ray://head:10001) or use --executor "
                                   "local") from None
            self._owned = True
        self.workers = int(ray.cluster_resources().get("CPU", 1))
        self._remote = ray.remote(num_cpus=1)(_ray_point)

    def map(self, job: SweepJob, tasks: Iterable[PointTask]) -> Iterator[dict[str, Any]]:
        """Yield the row of every task, as each finishes (cancelling the rest on early exit)."""
        ray = self._ray
        ref = ray.put(job.with_contents())  # Ray's workers may be on other machines
        pending = [self._remote.remote(job.key, [ref], task) for task in tasks]
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield ray.get(done[0])
        finally:
            for left in pending:
                ray.cancel(left)

    def close(self) -> None:
        if self._owned:
            self._ray.shutdown()
            self._owned = False


def make_executor(kind: str, *, workers: int | None = None,
                  address: str | None = None) -> Executor:
    """Return the ``local`` or ``ray`` executor."""
    if kind == "local":
        if address:
            raise PlannerError(f"--address applies to --executor ray (got {address!r} with "
                               "--executor local); add --executor ray or remove --address")
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(address, workers)
    raise PlannerError(f"--executor must be local or ray (got {kind!r}); use one of those")
