"""Reading the data model and data of tables (the "read model" group).

A restricted caller sees only its rows, in the rows themselves and in the
row counts alike.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.filters import first_matches, to_expression
from tiercube._server.engine.tables import StoredTable
from tiercube._server.engine.types import decoded
from tiercube._server.routing import Call, endpoint
from tiercube._wire import routes
from tiercube._wire.tiers import Group
from tiercube._wire.messages import AggregateStats, ServerStats, TableInfo, TableQuery
from tiercube.errors import InvalidRequestError, NotFoundError, ResultTooLargeError


def list_tables(call: Call[None]) -> list[TableInfo]:
    return [_info(call, t) for t in call.state.tables.values()]


def table_info(call: Call[None]) -> TableInfo:
    return _info(call, call.state.tables.get(call.params["table"]))


def stats(call: Call[None]) -> ServerStats:
    cubes = call.state.cubes
    kept = cubes.partials.stats() if cubes.partials is not None else AggregateStats(0, 0, 0, 0, 0, 0, 0)
    answers, answer_bytes = cubes.results.size() if cubes.results is not None else (0, 0)
    cluster = call.state.tables.cluster
    shown = cluster.stats() if cluster is not None and Group.SECURITY in call.grant.groups else None
    return ServerStats(kept, answers, answer_bytes, shown)


def _info(call: Call[Any], table: StoredTable) -> TableInfo:
    plan = call.state.visible_rows(table.name, call.grant.restriction)
    if plan is None:
        info = table.info
        if info.partitions is not None and Group.SECURITY not in call.grant.groups:
            # The cluster's addresses are for admins: whoever reaches a Dask scheduler runs code on it.
            hidden = [msgspec.structs.replace(p, worker=f"worker {i}") for i, p in enumerate(info.partitions)]
            info = msgspec.structs.replace(info, partitions=hidden)
        return info
    # A restricted caller sees its own row count, and not how many rows each partition holds.
    rows = table.partitions.counted(plan) if table.partitions is not None else pc.sum(plan.mask(table.data)).as_py() or 0
    return msgspec.structs.replace(table.info_of(rows=rows), partitions=None)


def query_table(call: Call[TableQuery]) -> pa.Table:
    table = call.state.tables.get(call.params["table"])
    partitions = table.partitions
    data = table.stored  # a snapshot: concurrent writers swap, never mutate
    request = call.body
    for column in request.columns:
        if column not in table.columns:
            raise InvalidRequestError(NotFoundError.describe("column", column, table.columns, within=f"table {table.name!r}"))
    if request.max_rows is not None and request.max_rows < 0:
        raise InvalidRequestError("max_rows must be zero or more")
    condition = to_expression(request.filter, table.columns, table=table.name) if request.filter is not None else None
    plan = call.state.visible_rows(table.name, call.grant.restriction)
    limit = call.state.config.max_result_rows
    if partitions is not None:
        # Each worker stops at the rows asked for (or one past the limit, to tell that it was passed).
        wanted = request.max_rows if request.max_rows is not None else limit + 1
        data = partitions.selected(request.filter, table.columns, plan, wanted, request.columns)
    else:
        if plan is not None:
            data = data.filter(plan.mask(data))
        if condition is not None:
            data = first_matches(data, condition, request.max_rows)
    if request.max_rows is not None:
        data = data.slice(0, min(request.max_rows, data.num_rows))
    elif data.num_rows > limit:
        raise ResultTooLargeError(f"the result has {data.num_rows} rows, over the server's limit of {limit}; pass max_rows or a filter")
    if request.columns:
        data = data.select(request.columns)
    return decoded(data)


served = [
    endpoint(routes.LIST_TABLES, list_tables),
    endpoint(routes.TABLE_INFO, table_info),
    endpoint(routes.QUERY_TABLE, query_table),
    endpoint(routes.STATS, stats),
]
