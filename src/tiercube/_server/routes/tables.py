"""Reading the data model and data of tables (the "read model" group).

A restricted caller sees only its rows, in the rows themselves and in the
row counts alike (``TableStore`` applies the caller's visibility). The
cluster's worker addresses are for callers who manage security: whoever
reaches a Dask scheduler runs code on it; so are the engine's statistics.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from tiercube._server.routing import Call, endpoint
from tiercube._wire import routes
from tiercube._wire.messages import ServerStats, TableInfo, TableQuery
from tiercube._wire.tiers import Group


def list_tables(call: Call[None]) -> list[TableInfo]:
    scope = call.grant.caller.scope if call.grant.caller is not None else None
    infos = call.state.tables.infos_for(call.grant.visibility, workers_shown=_manages_security(call))
    return [info for info in infos if scope is None or scope.allows_table(info.name)]


def table_info(call: Call[None]) -> TableInfo:
    return call.state.tables.info_for(call.params["table"], call.grant.visibility, workers_shown=_manages_security(call))


def query_table(call: Call[TableQuery]) -> pa.Table:
    return call.state.tables.query(call.params["table"], call.body, call.grant.visibility)


def stats(call: Call[None]) -> ServerStats:
    return call.state.stats(call.grant)


def _manages_security(call: Call[Any]) -> bool:
    return Group.SECURITY in call.grant.groups


served = [
    endpoint(routes.LIST_TABLES, list_tables),
    endpoint(routes.TABLE_INFO, table_info),
    endpoint(routes.QUERY_TABLE, query_table),
    endpoint(routes.STATS, stats),
]
