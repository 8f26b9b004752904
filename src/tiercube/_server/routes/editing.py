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
from tiercube._wire.messages import Append, CreateTable, Drop, DropResult, Load, LoadProgress, LoadResult, Read, TableInfo
from tiercube._wire.tiers import Group


def create_table(call: Call[CreateTable]) -> TableInfo:
    return _info(call, call.state.tables.create(call.body))


def read(call: Call[Read]) -> LoadResult:
    with call.state.loads.following(_caller(call), call.body.load_id):
        loaded = call.state.tables.read(call.body, call.state.files)
    return _after_load(_result(call, loaded))


def load(call: Call[Load]) -> LoadResult:
    with call.state.loads.following(_caller(call), call.body.load_id):
        loaded = call.state.tables.load(call.params["table"], call.body.source, call.state.files, call.body.on_duplicate_keys)
    return _after_load(_result(call, loaded))


def load_progress(call: Call[None]) -> LoadProgress:
    return call.state.loads.progress(_caller(call), call.params["load"])


def _caller(call: Call[Any]) -> str | None:
    """Whose loads a request may follow: its user's (anonymous callers share None, and rely on the id being random)."""
    return call.grant.caller.username if call.grant.caller is not None else None


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
    # Answered on the event loop (a lookup): it answers even while loads keep every worker thread busy.
    endpoint(routes.LOAD_PROGRESS, load_progress, at_once=load_progress),
    endpoint(routes.APPEND, append),
    endpoint(routes.DROP, drop),
    endpoint(routes.DELETE_TABLE, delete_table),
]
