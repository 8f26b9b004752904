"""One ``Protocol`` per capability group of the contract, and markers to ``require`` them.

Ask for "at least this" in a signature, or narrow a union at runtime::

    def refresh(session: tiercube.capabilities.SupportsEditing) -> None: ...

    if isinstance(session, SupportsFileLoading):
        session.read_pandas(frame, table_name="sales")

Every tier class either has all members of a protocol or lacks at least one,
so ``isinstance`` is exact. The members are typed here by hand; tests/test_surface.py
holds each signature to the implementation of every tier that has it. ``connect(require=SHARED_FILE_LOADING)`` returns
the granted session typed as the protocol, or raises ``CapabilityError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Generic, Protocol, Self, TypeVar, runtime_checkable

from typing_extensions import Unpack

from tiercube._client.cloud_loading import CloudTable
from tiercube._client.conditions import Value
from tiercube._client.cube_model import CubeMode, EditableCube, EditableCubes, ReadOnlyCube
from tiercube._client.editing import EditableTables
from tiercube._client.endpoints import HandlerT, HttpMethod
from tiercube._client.file_loading import DataFrameLike, LocalTable
from tiercube._client.query import Cubes, QueryCube
from tiercube._client.read_model import ReadOnlyTable, Tables
from tiercube._client.saved_views import SavedViews
from tiercube._client.security import Security
from tiercube._client.sources import CsvReadOptions, ReadOptions, S3Location, StrPath
from tiercube._wire.column_types import ColumnType
from tiercube._wire.stats import ServerStats
from tiercube._wire.tiers import CapabilityReport

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "CLOUD_LOADING", "EDITING", "LIFECYCLE", "QUERY", "READ_MODEL", "SECURITY", "SHARED_FILE_LOADING",
    "AnonymousCapability", "Capability", "SupportsCloudLoading", "SupportsEditing", "SupportsFileLoading", "SupportsLifecycle",
    "SupportsQuery", "SupportsReadModel", "SupportsSecurity",
]


@runtime_checkable
class SupportsQuery(Protocol):
    """Query: every tier has it."""

    @property
    def url(self) -> str: ...
    @property
    def link(self) -> str: ...
    @property
    def capabilities(self) -> CapabilityReport: ...
    @property
    def cubes(self) -> Cubes[QueryCube]: ...
    def query_mdx(self, mdx: str, /) -> pa.Table:
        """Run an MDX ``SELECT`` (the subset documented in ``tiercube.mdx``); same shape as ``cube.query``."""
        ...
    def health(self, timeout: float = 5.0) -> float:
        """Whether the server answers now: the seconds it took to answer a request that does no work."""
        ...
    def close(self) -> None:
        """Close the connection (the owner's ``close`` also stops the server)."""
        ...
    # So that ``with connect(url, require=SOME_CAPABILITY) as session:`` type-checks.
    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None, /
    ) -> None: ...


@runtime_checkable
class SupportsReadModel(SupportsQuery, Protocol):
    """Read the data model and data: tables, their schema and rows, cube structure; and the user's saved views."""

    @property
    def tables(self) -> Tables[ReadOnlyTable]: ...
    @property
    def cubes(self) -> Cubes[ReadOnlyCube]: ...
    @property
    def views(self) -> SavedViews:
        """The explorer's saved views this caller may open (``session.views``)."""
        ...
    def stats(self) -> ServerStats:
        """The caller as the server sees it (user, tier, restricted) and what the server holds."""
        ...
    def model(self) -> str:
        """The text of a typed data model module of this session's tables and cubes (``tiercube model``)."""
        ...


@runtime_checkable
class SupportsEditing(SupportsReadModel, Protocol):
    """Edit the data model and data: create and delete tables and cubes, append, drop, measures."""

    @property
    def tables(self) -> EditableTables[CloudTable]: ...
    @property
    def cubes(self) -> EditableCubes[EditableCube]: ...
    def create_table(
        self, name: str, /, *, data_types: Mapping[str, ColumnType], keys: Sequence[str] = (),
        default_values: Mapping[str, Value] | None = None, distributed: bool | None = None,
    ) -> CloudTable:
        """Create an empty table; raises ``ConflictError`` if the name is taken."""
        ...
    def create_cube(self, fact_table: ReadOnlyTable | str, /, *, name: str | None = None, mode: CubeMode = "auto") -> EditableCube:
        """Create a cube on a table (named after it unless ``name`` is given); raises ``ConflictError`` if the name is taken."""
        ...


@runtime_checkable
class SupportsCloudLoading(SupportsEditing, Protocol):
    """Load CSV and Parquet objects from cloud storage (the server reads them)."""

    def read_csv(self, location: S3Location, /, *, table_name: str | None = None, **options: Unpack[CsvReadOptions]) -> CloudTable:
        """Read a CSV object from cloud storage into a new table; raises ``LoadError``."""
        ...
    def read_parquet(self, location: S3Location, /, *, table_name: str | None = None, **options: Unpack[ReadOptions]) -> CloudTable:
        """Read a Parquet object from cloud storage into a new table; raises ``LoadError``."""
        ...


@runtime_checkable
class SupportsFileLoading(SupportsCloudLoading, Protocol):
    """Load local files, Arrow tables and pandas frames: needs a shared file system."""

    @property
    def tables(self) -> EditableTables[LocalTable]: ...
    def create_table(
        self, name: str, /, *, data_types: Mapping[str, ColumnType], keys: Sequence[str] = (),
        default_values: Mapping[str, Value] | None = None, distributed: bool | None = None,
    ) -> LocalTable:
        """Create an empty table; raises ``ConflictError`` if the name is taken."""
        ...
    def read_csv(self, path: StrPath | S3Location, /, *, table_name: str | None = None, **options: Unpack[CsvReadOptions]) -> LocalTable:
        """Read a local or cloud CSV file into a new table; raises ``LoadError``."""
        ...
    def read_parquet(self, path: StrPath | S3Location, /, *, table_name: str | None = None, **options: Unpack[ReadOptions]) -> LocalTable:
        """Read a local or cloud Parquet file into a new table; raises ``LoadError``."""
        ...
    def read_arrow(self, table: pa.Table | DataFrameLike, /, *, table_name: str, **options: Unpack[ReadOptions]) -> LocalTable:
        """Load a ``pyarrow.Table`` or a data frame into a new table; raises ``LoadError``."""
        ...
    def read_pandas(self, frame: DataFrameLike, /, *, table_name: str, **options: Unpack[ReadOptions]) -> LocalTable:
        """Load a data frame into a new table; raises ``LoadError``."""
        ...


@runtime_checkable
class SupportsSecurity(SupportsQuery, Protocol):
    """Manage users, passwords and roles (and query: every tier does)."""

    @property
    def security(self) -> Security: ...


@runtime_checkable
class SupportsLifecycle(SupportsQuery, Protocol):
    """What only the owner (the process that started the server) has (and query: every tier does)."""

    @property
    def port(self) -> int: ...
    @property
    def logs_path(self) -> Path: ...
    def wait(self, timeout: float | None = None) -> None:
        """Block until the server stops (or ``timeout`` seconds pass)."""
        ...
    def endpoint(
        self, route: str, *, method: HttpMethod = "GET", unrestricted: bool = False
    ) -> Callable[[HandlerT], HandlerT]:
        """A decorator that serves a function as a custom HTTP endpoint at ``route``."""
        ...


P = TypeVar("P", covariant=True)


@dataclass(frozen=True)
class Capability(Generic[P]):
    """A typed marker for ``connect(require=...)``: mypy cannot take a Protocol as ``type[T]``."""

    name: str
    # Not type[P]: mypy refuses a Protocol class where type[P] is expected.
    protocol: object

    def __repr__(self) -> str:
        return f"tiercube.capabilities.{self.name}"


class AnonymousCapability(Capability[P]):
    """A marker for what a caller without credentials may be granted (``QUERY``, ``READ_MODEL``).

    ``connect(url, require=QUERY)`` type-checks without ``authentication=``;
    the other markers need credentials, as the tiers that have them do, so
    ``connect(url, require=EDITING)`` is refused by the type checker instead
    of raising ``CapabilityError`` on every call.
    """


QUERY: AnonymousCapability[SupportsQuery] = AnonymousCapability("QUERY", SupportsQuery)
READ_MODEL: AnonymousCapability[SupportsReadModel] = AnonymousCapability("READ_MODEL", SupportsReadModel)
EDITING: Capability[SupportsEditing] = Capability("EDITING", SupportsEditing)
CLOUD_LOADING: Capability[SupportsCloudLoading] = Capability("CLOUD_LOADING", SupportsCloudLoading)
SHARED_FILE_LOADING: Capability[SupportsFileLoading] = Capability("SHARED_FILE_LOADING", SupportsFileLoading)
SECURITY: Capability[SupportsSecurity] = Capability("SECURITY", SupportsSecurity)
LIFECYCLE: Capability[SupportsLifecycle] = Capability("LIFECYCLE", SupportsLifecycle)
