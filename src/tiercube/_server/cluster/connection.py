"""The session server's client of a Dask scheduler: placing data on workers, running work there.

Two ways of running work, chosen on measurements on loopback (2 workers):

- Changes (loads, drops) are Dask tasks pinned to the worker that holds the
  partition: the scheduler then tracks the new data, its memory, and its
  loss. A task round trip costs 15 to 20 ms (the client and scheduler batch
  messages every 10 and 5 ms), which a load can afford.
- Queries read the partitions in place with ``Client.run``: one message to
  every worker at once and back, 2 to 4 ms, so that a small query stays
  small. The work runs in the worker's thread pool, not on its event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import CancelledError
from typing import TYPE_CHECKING, Any

from tiercube._wire.messages import ClusterStats, WorkerStats
from tiercube.errors import ClusterError, InvalidRequestError

if TYPE_CHECKING:
    from distributed import Client, Future

log = logging.getLogger("tiercube.server")

# How long to wait for a worker that does not answer; the default (30 s) would hang a query.
_CONNECT_TIMEOUT = "5s"
# Seconds between looks at the workers while a change runs on them.
_POLL = 1.0


class Cluster:
    """The Dask cluster at ``address``, which the session server holds distributed tables on."""

    def __init__(self, address: str) -> None:
        try:
            import dask.config
            from distributed import Client
        except ImportError:
            raise InvalidRequestError(
                "a cluster needs Dask: pip install 'tiercube[cluster]' (on the server and on every worker)"
            ) from None
        dask.config.set({"distributed.comm.timeouts.connect": _CONNECT_TIMEOUT})
        try:
            self.client: Client = Client(address, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {error}") from None
        self.scheduler = address

    def workers(self) -> dict[str, Mapping[str, Any]]:
        """The live workers, by address, as the scheduler describes them (one round trip)."""
        try:
            info = self.client.scheduler_info(n_workers=-1)
        except (OSError, TimeoutError) as error:
            # Its address is for the log and admins (stats): whoever reaches a scheduler runs code on it.
            log.warning("the Dask scheduler at %s does not answer: %r", self.scheduler, error)
            raise ClusterError("the session's Dask scheduler does not answer") from None
        return dict(info["workers"])

    def stats(self) -> ClusterStats:
        workers = [
            WorkerStats(address, int(info.get("nthreads", 0)), int(info.get("metrics", {}).get("memory", 0)), int(info.get("memory_limit", 0)))
            for address, info in sorted(self.workers().items())
        ]
        return ClusterStats(self.scheduler, workers)

    def put(self, worker: str, data: object) -> Future[Any]:
        """``data`` held on ``worker``."""
        # hash=False: equal data scattered for two partitions must stay two keys, each on its worker.
        (future,) = self.client.scatter([data], workers=[worker], direct=False, hash=False)
        return future

    def submit(self, worker: str, function: Callable[..., Any], *args: Any) -> Future[Any]:
        """``function(*args)`` as a task on ``worker`` only (never moved: it holds the partition)."""
        return self.client.submit(function, *args, workers=[worker], allow_other_workers=False, pure=False)

    def results(self, futures: Sequence[Future[Any]], workers: Sequence[str]) -> list[Any]:
        """The futures' results; an exception a task raised is raised here as it was.

        The tasks are pinned to ``workers``: should one leave, Dask would wait for it forever,
        so each wait is cut in slices and the workers looked for between them.
        """
        results: list[Any] = []
        try:
            for future in futures:
                while True:
                    try:
                        results.append(future.result(timeout=_POLL))
                        break
                    except TimeoutError:
                        if future.status == "error":
                            raise future.exception() from None  # the task's own error, not the wait's
                        if future.status == "finished":
                            continue  # it finished just after the wait gave up
                        live = self.workers()
                        if any(worker not in live for worker in workers):
                            raise ClusterError("a cluster worker left while it was working; nothing was changed") from None
        except (OSError, CancelledError) as error:
            # Cancelled: the scheduler lost the data a task needed (its worker left). The
            # details (addresses) go to the log: callers see the cluster's topology only as admins.
            log.warning("the cluster did not finish a task: %r", error)
            raise ClusterError(f"the cluster did not finish the work ({type(error).__name__}): a worker may have left") from None
        return results

    def run(self, work: Mapping[str, tuple[str, Callable[..., Any], tuple[Any, ...]]]) -> dict[str, Any]:
        """On each worker (the keys of ``work``), ``function(partition, *args)`` for its (key, function, args)."""
        if not work:
            return {}
        try:
            answers: dict[str, Any] = self.client.run(
                _on_worker, dict(work), workers=list(work), on_error="return"
            )
        except (OSError, TimeoutError) as error:
            log.warning("a worker did not answer: %r", error)
            raise ClusterError(f"a cluster worker did not answer ({type(error).__name__})") from None
        for worker, answer in answers.items():
            if isinstance(answer, _Lost):
                log.warning("worker %s no longer holds %s", worker, answer.key)
                raise ClusterError("a cluster worker no longer holds its partition (it restarted)")
            if isinstance(answer, OSError | TimeoutError | CancelledError):
                # The connection to the worker, not the work: it died or left while it worked.
                log.warning("worker %s did not finish its work: %r", worker, answer)
                raise ClusterError(f"a cluster worker did not finish its work ({type(answer).__name__}): it may have left the cluster")
            if isinstance(answer, BaseException):
                raise answer
        return answers

    def close(self) -> None:
        try:
            self.client.close(timeout=5)
        except (OSError, TimeoutError, RuntimeError) as error:  # the scheduler may be gone already
            log.info("closing the cluster client: %s", error)


class _Lost:
    """What a worker answers when the partition it should hold is gone (it restarted)."""

    def __init__(self, key: str) -> None:
        self.key = key


def use_worker_threads(threads: int) -> None:
    """Let Arrow use the threads the worker was given.

    Dask's nanny starts workers with OMP_NUM_THREADS=1, which Arrow reads to
    size its thread pool: a worker with 2 threads would group on one core.
    """
    import pyarrow as pa

    if threads > 0 and pa.cpu_count() != threads:
        pa.set_cpu_count(threads)


async def _on_worker(work: Mapping[str, tuple[str, Callable[..., Any], tuple[Any, ...]]], dask_worker: Any = None) -> Any:
    use_worker_threads(int(dask_worker.state.nthreads))
    key, function, args = work[dask_worker.address]
    try:
        data = dask_worker.data[key]
    except KeyError:
        return _Lost(key)
    # In the worker's thread pool: a long query must not stop its event loop (heartbeats, transfers).
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(function, data, *args))
