"""Control messages: every request and response body that is not table data."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal, TypeAlias

import msgspec

from tiercube._public import public
# Re-exported: modules have always found DataType here.
from tiercube._wire.column_types import ColumnType as ColumnType, DataType as DataType
from tiercube._wire.filters import Filter, Scalar
# Re-exported: the server's modules find the statistics here with every other message.
from tiercube._wire.stats import AggregateStats as AggregateStats, ClusterStats as ClusterStats
from tiercube._wire.stats import ServerStats as ServerStats, WorkerStats as WorkerStats
from tiercube._wire.tokens import TokenScope
from tiercube.errors import ERRORS_BY_CODE, Detail, TiercubeError

OnDuplicateKeys: TypeAlias = Literal["error", "last"]
"""What a load does with a key that comes more than once in it: refuse the load, or keep the
last row of the key (as if the rows came one by one)."""

ADMIN_ROLE = "ROLE_ADMIN"
USER_ROLE = "ROLE_USER"


class ErrorBody(msgspec.Struct, frozen=True):
    """The body of every 4xx answer: a stable ``code``, a readable ``message``, and the error's fields.

    ``details`` is one flat mapping for every error (``{"path": ..., "line": 5, "column": "qty"}``),
    not a typed Struct per error: a peer of another version may send a field or a code this side
    does not know, and must still get the error. Types are checked where they are known, by the
    error class that declares the field (``TiercubeError.rebuilt``).
    """

    code: str
    message: str
    details: dict[str, Detail] = {}

    @classmethod
    def of(cls, error: TiercubeError) -> ErrorBody:
        return cls(error.code, str(error), error.details)

    def error(self) -> TiercubeError:
        """The exception this body describes: the class registered for its code, fields included."""
        return ERRORS_BY_CODE.get(self.code, TiercubeError).rebuilt(self.message, self.details)


class ShareProof(msgspec.Struct, frozen=True):
    """Where the server wrote its nonce, and the nonce's SHA-256 (never the nonce itself).

    A client that reads the file, finds the digest matching and sends the
    nonce back (``SHARE_PROOF_HEADER``) has proved condition d to the server.
    """

    path: str
    sha256: str

    @classmethod
    def of(cls, path: str, nonce: str) -> ShareProof:
        return cls(path, hashlib.sha256(nonce.encode()).hexdigest())


class Caller(msgspec.Struct, frozen=True):
    """Who the server authenticated the request as."""

    username: str
    roles: list[str]
    owner: bool = False
    # Given to administrators only: to anyone else a path on the server is no business.
    share_proof: ShareProof | None = None
    # When the caller presented a token (or is an explorer embedded in a notebook): the most it is granted.
    scope: TokenScope | None = None


class VersionsDocument(msgspec.Struct, frozen=True):
    """``GET /versions/rest``: all a client needs to decide its tier, in one answer."""

    protocol_version: int
    tiercube_version: str
    security: bool
    sdk_exposed: bool
    product: str = "tiercube"
    caller: Caller | None = None


class Column(msgspec.Struct, frozen=True):
    name: str
    # A name travels as a string, as it always did; a type with parameters as a tagged object.
    data_type: ColumnType


@public
class Partition(msgspec.Struct, frozen=True):
    """One part of a distributed table: the worker holding it, its rows and bytes (None: lost)."""

    worker: str
    rows: int | None
    bytes: int | None


class TableInfo(msgspec.Struct, frozen=True):
    """A table's schema and row count."""

    name: str
    columns: list[Column]
    keys: list[str]
    row_count: int
    # A distributed table's parts, one per worker; None for a table held by the session server.
    partitions: list[Partition] | None = None


class CreateTable(msgspec.Struct, frozen=True):
    name: str
    columns: list[Column]
    keys: list[str] = []
    default_values: dict[str, Scalar] = {}
    # On the cluster's workers; None: as the server's distribute_over_rows rule says.
    distributed: bool | None = None


class CsvOptions(msgspec.Struct, frozen=True):
    """How the server parses a CSV file."""

    separator: str = ","
    header: bool = True
    column_names: list[str] | None = None
    quote_char: str | None = '"'
    encoding: str = "utf-8"
    null_values: list[str] | None = None
    timestamp_formats: list[str] = []


class CloudLocation(msgspec.Struct, frozen=True):
    """An object in one of the server's cloud stores: named, or given by its exact endpoint.

    Without either, the server's only store. Credentials, when given, replace
    the store's own for this load.
    """

    uri: str
    store: str | None = None
    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = None


class CsvSource(msgspec.Struct, frozen=True, tag="csv"):
    """A CSV file to load, on the server's file system or in cloud storage."""

    path: str | CloudLocation
    options: CsvOptions = CsvOptions()


class ParquetSource(msgspec.Struct, frozen=True, tag="parquet"):
    """A Parquet file to load, on the server's file system or in cloud storage."""

    path: str | CloudLocation


class ArrowFileSource(msgspec.Struct, frozen=True, tag="arrow"):
    """An Arrow IPC file the client wrote on the shared file system.

    ``label``: how errors name the data, which the caller knows as a frame or table
    (``"the polars.DataFrame loaded into table 'sales'"``), not as a temporary file.
    """

    path: str
    label: str | None = None


Source: TypeAlias = CsvSource | ParquetSource | ArrowFileSource


# A load's id, chosen at random by its client to follow the load (``LoadProgress``): long enough that no one guesses it.
LoadId: TypeAlias = Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9_-]{16,64}$")]


class Load(msgspec.Struct, frozen=True):
    source: Source
    # "last" is what loads did before the choice existed; the typed client sends "error" unless told.
    on_duplicate_keys: OnDuplicateKeys = "last"
    load_id: LoadId | None = None


class Read(msgspec.Struct, frozen=True):
    """Create a table from a source, inferring its types: all or nothing."""

    table: str
    source: Source
    keys: list[str] = []
    data_types: dict[str, ColumnType] = {}
    default_values: dict[str, Scalar] = {}
    distributed: bool | None = None
    on_duplicate_keys: OnDuplicateKeys = "last"
    load_id: LoadId | None = None


class LoadProgress(msgspec.Struct, frozen=True):
    """``GET /api/v1/loads/{load}``: how many bytes of its file the caller's load has read, of how many.
    ``bytes_total`` is None when nothing is known: the load has not opened its file yet, has finished,
    reads a source that is not counted (only CSV files are), or is not the caller's."""

    bytes_done: int
    bytes_total: int | None


class LoadResult(msgspec.Struct, frozen=True):
    """A load's answer: the table now, the rows read, and how many of them a later row of the same
    load replaced (rows whose key came again; always 0 when the load refuses repeated keys)."""

    table: TableInfo
    rows_loaded: int
    duplicates_replaced: int = 0


class Append(msgspec.Struct, frozen=True):
    rows: list[list[Scalar]]


class Drop(msgspec.Struct, frozen=True):
    filter: Filter | None = None


class DropResult(msgspec.Struct, frozen=True):
    table: TableInfo
    rows_dropped: int


class TableQuery(msgspec.Struct, frozen=True):
    columns: list[str] = []
    filter: Filter | None = None
    max_rows: int | None = None


@public
class User(msgspec.Struct, frozen=True):
    """A user of the server and its roles (never its password)."""

    name: str
    roles: list[str]


class CreateUser(msgspec.Struct, frozen=True):
    name: str
    password: str
    roles: list[str]


class Restriction(msgspec.Struct, frozen=True):
    """What callers with ``role`` may see: rows matching ``filter``.

    Every comparison in the filter names its table (``Compare.table``), and
    only ``&`` may combine tables. Each table's part applies to that table and,
    along joins, to every table that references it; see the server's
    ``engine.visibility`` for the rules.
    """

    role: str
    filter: Filter


class UpdateUser(msgspec.Struct, frozen=True):
    password: str | None = None
    roles: list[str] | None = None


class EndpointRegistration(msgspec.Struct, frozen=True):
    """An owner's custom endpoint: requests for it go to ``forward_url``.

    Unless ``unrestricted``, the owner's queries made while it answers see
    only the rows its caller may see.
    """

    route: str
    method: str
    forward_url: str
    unrestricted: bool = False


class ForwardedRequest(msgspec.Struct, frozen=True):
    """A request for a custom endpoint, as the server hands it to the owner."""

    route: str
    method: str
    user: str | None
    roles: list[str]
    query: dict[str, str]
    body: bytes
    # Sent back by the owner's requests made on the caller's behalf (see DELEGATION_HEADER).
    delegation: str | None = None
    restricted: bool = False
