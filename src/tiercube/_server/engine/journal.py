"""What the engine tells a write-ahead log: each committed change, as a record, before it is applied.

Every store of a session (tables, joins, cubes, users, restrictions, saved views) changes
in three steps: build the change (checked, nothing applied), then
``journal.committing(record, rows)``, then apply it inside that block. A
journal that keeps a data directory makes the record durable before the
block runs and keeps snapshots from looking while it runs; ``NO_JOURNAL``
(a session without a data directory) does nothing. The engine never knows
which one it has: the durability package implements ``Journal`` and imports
the engine, never the other way round.

A record is a change's *result*, not the request that asked for it: the rows
as conformed to the table (``rows``), the filter of a drop, a cube's whole
definition after a measure changed, a user's password hash. Applied again
in log order (``replay`` on each store) it rebuilds exactly the state the
live server had, without checking or computing anything twice.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol, TypeAlias

import msgspec
import pyarrow as pa

from tiercube._server.engine.layout import Layout
from tiercube._wire.cubes import CubeInfo
from tiercube._wire.filters import Filter, Scalar
from tiercube._wire.column_types import ColumnType
from tiercube._wire.tokens import TokenScope


class TableCreated(msgspec.Struct, frozen=True, tag="table_created"):
    """A new table; its first rows (a read) travel as the record's rows, none for ``create_table``."""

    name: str
    columns: dict[str, ColumnType]
    keys: list[str]
    defaults: dict[str, Scalar]

    @classmethod
    def of(cls, layout: Layout) -> TableCreated:
        return cls(layout.name, dict(layout.columns), list(layout.keys), dict(layout.defaults))

    @property
    def layout(self) -> Layout:
        return Layout(self.name, self.columns, tuple(self.keys), self.defaults)


class RowsAdded(msgspec.Struct, frozen=True, tag="rows_added"):
    """Rows went into ``table`` (a load or an append), a row whose key exists replacing the old one.

    The record's rows are those that went in, conformed to the table: of a
    batch that repeats a key, only its last row (``Change.added``), which is
    what adding them again makes of the same table.
    """

    table: str


class RowsDropped(msgspec.Struct, frozen=True, tag="rows_dropped"):
    """The rows of ``table`` that ``filter`` matches were dropped; None: every row."""

    table: str
    filter: Filter | None


class TableDeleted(msgspec.Struct, frozen=True, tag="table_deleted"):
    """``table`` and every join from or to it are gone."""

    table: str


class Joined(msgspec.Struct, frozen=True, tag="joined"):
    """A join from ``source`` to ``target``: (source column, target column) pairs."""

    source: str
    target: str
    pairs: list[tuple[str, str]]


class CubeDefined(msgspec.Struct, frozen=True, tag="cube_defined"):
    """A cube created, or its hierarchies or measures changed: its whole definition now."""

    cube: CubeInfo


class CubeDeleted(msgspec.Struct, frozen=True, tag="cube_deleted"):
    name: str


class UserSet(msgspec.Struct, frozen=True, tag="user_set"):
    """A user created or changed: its roles and password hash (never the password).

    ``serial`` tells this user from a former one of the same name: tokens are bound to it
    (empty in logs written before tokens existed).
    """

    name: str
    roles: list[str]
    password_hash: str
    serial: str = ""


class UserDeleted(msgspec.Struct, frozen=True, tag="user_deleted"):
    name: str


class TokenIssued(msgspec.Struct, frozen=True, tag="token_issued"):
    """A token: whom it is for (the user's serial), what it grants, until when, and its text's SHA-256."""

    id: str
    user: str
    serial: str
    scope: TokenScope
    expires_at: float
    digest: bytes


class TokenRevoked(msgspec.Struct, frozen=True, tag="token_revoked"):
    id: str


class RoleRestricted(msgspec.Struct, frozen=True, tag="role_restricted"):
    """``role``'s restriction as given (``filter``) and as it applies, one condition per table."""

    role: str
    filter: Filter
    tables: dict[str, Filter]


class RestrictionDeleted(msgspec.Struct, frozen=True, tag="restriction_deleted"):
    role: str


class ViewSaved(msgspec.Struct, frozen=True, tag="view_saved"):
    """``owner``'s explorer view ``name`` (the explorer's address fragment), and the roles it is shared with.

    ``serial`` is the owner's account serial when it saved the view: a user deleted
    and made again under the same name does not inherit the former one's views.
    """

    owner: str
    name: str
    fragment: str
    shared_with: list[str]
    serial: str = ""


class ViewDeleted(msgspec.Struct, frozen=True, tag="view_deleted"):
    owner: str
    name: str


TableRecord: TypeAlias = TableCreated | RowsAdded | RowsDropped
ModelRecord: TypeAlias = TableDeleted | Joined | CubeDefined | CubeDeleted
SecurityRecord: TypeAlias = UserSet | UserDeleted | RoleRestricted | RestrictionDeleted | TokenIssued | TokenRevoked
ViewRecord: TypeAlias = ViewSaved | ViewDeleted
Record: TypeAlias = TableRecord | ModelRecord | SecurityRecord | ViewRecord


class Journal(Protocol):
    """Where committed changes are recorded before they are applied."""

    def committing(self, record: Record, rows: pa.Table | None = None) -> AbstractContextManager[None]:
        """Record ``record`` (and ``rows``, its data) durably, then let the block apply the change.

        Raises before the block runs if the record cannot be kept (the change
        must then not be applied); the block itself must not fail.
        """
        ...


class NoJournal:
    """A session without a data directory: nothing is recorded."""

    def committing(self, record: Record, rows: pa.Table | None = None) -> AbstractContextManager[None]:
        return nullcontext()


NO_JOURNAL: Journal = NoJournal()

