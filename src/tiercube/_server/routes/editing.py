"""Changing the data model and data: create, load, append, drop, delete."""

from __future__ import annotations

import pyarrow as pa

from tiercube._server.routing import Call, endpoint
from tiercube._wire import routes
from tiercube._wire.messages import Append, CreateTable, Drop, DropResult, Load, LoadResult, Read, TableInfo


def create_table(call: Call[CreateTable]) -> TableInfo:
    return call.state.tables.create(call.body).info


def read(call: Call[Read]) -> LoadResult:
    table, rows = call.state.tables.read(call.body, call.state.files)
    return _after_load(LoadResult(table.info, rows))


def load(call: Call[Load]) -> LoadResult:
    table, rows = call.state.tables.load(call.params["table"], call.body.source, call.state.files)
    return _after_load(LoadResult(table.info, rows))


def _after_load(result: LoadResult) -> LoadResult:
    # A load's intermediate buffers (parsed text, plain strings before encoding) are
    # garbage now; without this the allocator keeps them and the server's RSS with them.
    pa.default_memory_pool().release_unused()
    return result


def append(call: Call[Append]) -> LoadResult:
    table, rows = call.state.tables.append(call.params["table"], call.body.rows)
    return LoadResult(table.info, rows)


def drop(call: Call[Drop]) -> DropResult:
    table, rows = call.state.tables.drop(call.params["table"], call.body.filter)
    return DropResult(table.info, rows)


def delete_table(call: Call[None]) -> None:
    call.state.cubes.delete_table(call.state.tables, call.params["table"])


served = [
    endpoint(routes.CREATE_TABLE, create_table),
    endpoint(routes.READ, read),
    endpoint(routes.LOAD, load),
    endpoint(routes.APPEND, append),
    endpoint(routes.DROP, drop),
    endpoint(routes.DELETE_TABLE, delete_table),
]
