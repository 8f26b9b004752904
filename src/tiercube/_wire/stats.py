"""What ``session.stats()`` answers (``GET /api/v1/stats``): public, shown as ``tiercube.ServerStats`` and so on."""

# No ``from __future__ import annotations``: these Structs are shown as ``tiercube.X``,
# and msgspec would look their postponed annotations up in that namespace.

import msgspec

from tiercube._public import public


@public
class AggregateStats(msgspec.Struct, frozen=True):
    """The maintained aggregates: how many, their size against the budget, and how they served."""

    entries: int
    bytes: int
    budget: int
    hits: int
    misses: int
    maintained: int
    evicted: int


@public
class WorkerStats(msgspec.Struct, frozen=True):
    """A Dask worker: its address, threads, and memory in use and allowed (bytes, as it reports them)."""

    address: str
    threads: int
    memory: int
    memory_limit: int


@public
class ClusterStats(msgspec.Struct, frozen=True):
    """The Dask cluster a session's distributed tables live on."""

    scheduler: str
    workers: list[WorkerStats]


@public
class ServerStats(msgspec.Struct, frozen=True):
    """``GET /api/v1/stats``: the caller as the server sees it, and what the engine keeps to answer fast.

    ``aggregates``, the kept answers and ``cluster`` (the Dask cluster's
    workers) are for callers that manage security, None for others: their
    sizes grow with rows a restricted caller may not see. Every caller sees
    its own ``user`` (None: anonymous), ``tier`` and whether a restriction
    hides rows from it.
    """

    user: str | None
    tier: str
    restricted: bool
    aggregates: AggregateStats | None = None
    kept_answers: int | None = None
    kept_answer_bytes: int | None = None
    cluster: ClusterStats | None = None
