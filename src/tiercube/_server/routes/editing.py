"""Changing the data model and data: create, load, append, drop, delete.

Answers describe the changed table; a distributed table's worker addresses
only to callers who manage security (whoever reaches a Dask scheduler runs
code on it).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from tiercube._server.engine.tables import Loaded, StoredTable
from tiercube._server.routing import Call, endpoint
from tiercube._wire import routes
from tiercube._wire.messages import Append, CreateTable, Drop, DropResult, Load, LoadResult, Read, TableInfo
from tiercube._wire.tiers import Group


def create_table(call: Call[CreateTable]) -> TableInfo:
    return _info(call, call.state.tables.create(call.body))


def read(call: Call[Read]) -> LoadResult:
    return _after_load(_result(call, call.state.tables.read(call.body, call.state.files)))


def load(call: Call[Load]) -> LoadResult:
    loaded = call.state.tables.load(call.params["table"], call.body.source, call.state.files, call.body.on_duplicate_keys)
    return _after_load(_result(call, loaded))


def _info(call: Call[Any], table: StoredTable) -> TableInfo:
    return table.described(workers_shown=Group.SECURITY in call.grant.groups)


def _result(call: Call[Any], loaded: Loaded) -> LoadResult:
    return LoadResult(_info(call, loaded.table), loaded.rows, loaded.replaced)


def _after_load(result: LoadResult) -> LoadResult:
    # A load's intermediate buffers (parsed text, plain strings before encoding) are
    # garbage now; without this the allocator keeps them and the server's RSS with them.
    pa.default_memory_pool().release_unused()
    return result


def append(call: Call[Append]) -> LoadResult:
    return _result(call, call.state.tables.append(call.params["table"], call.body.rows))


def drop(call: Call[Drop]) -> DropResult:
    table, rows = call.state.tables.drop(call.params["table"], call.body.filter)
    return DropResult(_info(call, table), rows)


def delete_table(call: Call[None]) -> None:
    call.state.cubes.delete_table(call.params["table"])


served = [
    endpoint(routes.CREATE_TABLE, create_table),
    endpoint(routes.READ, read),
    endpoint(routes.LOAD, load),
    endpoint(routes.APPEND, append),
    endpoint(routes.DROP, drop),
    endpoint(routes.DELETE_TABLE, delete_table),
]
