"""Changing the data model and data: create, load, append, drop, delete."""

from __future__ import annotations

import pyarrow as pa

from tiercube._server.access import Group
from tiercube._server.routing import Call, endpoint
from tiercube._wire import paths
from tiercube._wire.messages import Append, CreateTable, Drop, DropResult, Load, LoadResult, Read, TableInfo


def create_table(call: Call[CreateTable]) -> TableInfo:
    return call.state.tables.create(call.body).info


def read(call: Call[Read]) -> LoadResult:
    table, rows = call.state.tables.read(call.body)
    return _after_load(LoadResult(table.info, rows))


def load(call: Call[Load]) -> LoadResult:
    table, rows = call.state.tables.load(call.params["table"], call.body.source)
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


routes = [
    endpoint("POST", paths.TABLES, Group.EDIT, create_table, CreateTable),
    endpoint("POST", paths.READ, Group.EDIT, read, Read),
    endpoint("POST", paths.TABLE_LOAD, Group.EDIT, load, Load),
    endpoint("POST", paths.TABLE_APPEND, Group.EDIT, append, Append),
    endpoint("POST", paths.TABLE_DROP, Group.EDIT, drop, Drop),
    endpoint("DELETE", paths.TABLE, Group.EDIT, delete_table),
]
