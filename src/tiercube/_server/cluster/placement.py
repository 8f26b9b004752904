"""Where a session with a Dask cluster puts a new table's rows: on the workers, or on the server.

A table goes to the cluster when its creator asks (``distributed=True``) or,
when it does not say, when the server's rule (``distribute_over_rows``) says
so for its size. A source read straight into a distributed table is read by
the workers themselves (see ``reading``); Arrow files, which are the client's
data written on the server's disk, are read by the server and scattered.
"""

from __future__ import annotations

from tiercube._server.cluster.connection import Cluster
from tiercube._server.cluster.partitions import Partitions
from tiercube._server.cluster.reading import read_on_workers
from tiercube._server.engine import sources
from tiercube._server.engine.layout import Layout
from tiercube._server.engine.held import HeldRows, ServerPlacement, read_on_server
from tiercube._server.engine.rows import Change, Rows
from tiercube._wire.messages import ArrowFileSource, ClusterStats, Read


class ClusterPlacement(ServerPlacement):
    """Tables on ``cluster``'s workers as asked, or by ``distribute_over_rows``; the others on the server."""

    def __init__(self, cluster: Cluster, distribute_over_rows: int | None) -> None:
        self.cluster = cluster
        self.distribute_over_rows = distribute_over_rows

    def _distributes(self, distributed: bool | None, rows: int) -> bool:
        if distributed is not None:
            return distributed
        return self.distribute_over_rows is not None and rows >= self.distribute_over_rows

    def empty(self, layout: Layout, distributed: bool | None, rows: int) -> Rows:
        if self._distributes(distributed, rows):
            return Partitions.create(self.cluster, layout.name, layout.schema)
        return HeldRows.empty(layout)

    def _reads_on_server(self, request: Read) -> bool:
        """Whether the server reads a new table's source: unless the table goes to the cluster before its
        rows are counted (asked for, or every table does), and the source is not the client's Arrow file."""
        return isinstance(request.source, ArrowFileSource) or not self._distributes(request.distributed, 0)

    def read_memory(self, request: Read, access: sources.Access) -> int:
        return super().read_memory(request, access) if self._reads_on_server(request) else 0

    def read(self, request: Read, access: sources.Access, origin: str) -> tuple[Layout, Change, int]:
        if self._reads_on_server(request):
            return read_on_server(request, access, origin, self.empty)
        workers = sorted(self.cluster.workers())
        read, schema = read_on_workers(self.cluster, workers, request.source, request.data_types, access)
        layout = Layout.read(request, schema, origin)
        start = Partitions.create(self.cluster, request.table, layout.schema, workers)
        return layout, start.loaded(read, layout, origin), sum(rows for _, _, rows in read)

    def stats(self) -> ClusterStats | None:
        return self.cluster.stats()

    def close(self) -> None:
        self.cluster.close()
