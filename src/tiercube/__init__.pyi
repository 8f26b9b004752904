"""What ``import tiercube`` offers, for type checkers; ``__init__.py`` imports each name on first use.

The two lists (these imports and ``__init__._LAZY``) are held equal by a test. Every name is
imported as ``X as X``: jedi (and the editors that use it) completes only a stub's names
re-exported in that form, whatever ``__all__`` says.
"""

from pathlib import Path
from typing import Any, overload

from typing_extensions import TypeForm

from tiercube import (
    agg as agg,
    capabilities as capabilities,
    errors as errors,
)
from tiercube._client.auth import (
    Authenticate as Authenticate,
    BasicAuthentication as BasicAuthentication,
    ClientCertificate as ClientCertificate,
)
from tiercube._client.calculated import CalculatedColumn as CalculatedColumn
from tiercube._client.cloud_loading import CloudTable as CloudTable
from tiercube._client.connect import (
    AnonymousTierT,
    NoSecurityLocalT,
    NoSecurityT,
    P,
    ReadOnlyT,
    RemoteT,
    TierT,
    UpToNoSecurity,
    UpToReadOnly,
)
from tiercube._client.conditions import (
    Column as Column,
    Condition as Condition,
)
from tiercube._client.cube_model import (
    EditableCube as EditableCube,
    EditableCubes as EditableCubes,
    EditableHierarchies as EditableHierarchies,
    EditableMeasures as EditableMeasures,
    Hierarchies as Hierarchies,
    Hierarchy as Hierarchy,
    Levels as Levels,
    Measures as Measures,
    ReadOnlyCube as ReadOnlyCube,
)
from tiercube._client.editing import (
    EditableTable as EditableTable,
    EditableTables as EditableTables,
)
from tiercube._client.endpoints import EndpointRequest as EndpointRequest
from tiercube._client.explorer_widget import ExplorerWidget as ExplorerWidget
from tiercube._client.file_loading import (
    DataFrameLike as DataFrameLike,
    LocalTable as LocalTable,
)
from tiercube._client.formats import Format as Format
from tiercube._client.levels import Level as Level
from tiercube._client.measures import (
    Measure as Measure,
    MeasureCondition as MeasureCondition,
    MeasureExpression as MeasureExpression,
    filtered as filtered,
    level as level,
    parent_value as parent_value,
    where as where,
)
from tiercube._client.owner import Session as Session
from tiercube._client.query import (
    Cubes as Cubes,
    QueryCube as QueryCube,
)
from tiercube._client.read_model import (
    ReadOnlyTable as ReadOnlyTable,
    Tables as Tables,
    TableSchema as TableSchema,
)
from tiercube._client.results import (
    ShownResult as ShownResult,
    show as show,
)
from tiercube._client.scopes import (
    Top as Top,
    at as at,
    cumulative as cumulative,
    origin as origin,
    rank as rank,
    shift as shift,
    siblings as siblings,
    switch as switch,
)
from tiercube._client.security import Security as Security
from tiercube._client.saved_views import SavedView as SavedView, SavedViews as SavedViews, ViewDefinition as ViewDefinition
from tiercube._client.sessions import (
    AnySession as AnySession,
    LocalSession as LocalSession,
    MinimalSession as MinimalSession,
    NoSecurityLocalSession as NoSecurityLocalSession,
    NoSecuritySession as NoSecuritySession,
    ReadOnlySession as ReadOnlySession,
    RemoteSession as RemoteSession,
)
from tiercube._client.sources import (
    CsvLoad as CsvLoad,
    LocalFile as LocalFile,
    ParquetLoad as ParquetLoad,
    S3Location as S3Location,
)
from tiercube._client.token_auth import TokenAuthentication as TokenAuthentication
from tiercube._client.tokens import Token as Token
from tiercube._config import (
    CloudStore as CloudStore,
    OidcConfig as OidcConfig,
    SessionConfig as SessionConfig,
    TableConfig as TableConfig,
    TlsConfig as TlsConfig,
    UserConfig as UserConfig,
)
from tiercube._version import __version__ as __version__
from tiercube._wire.column_types import (
    ColumnType as ColumnType,
    DataType as DataType,
    Decimal as Decimal,
    Duration as Duration,
    Time as Time,
    Timestamp as Timestamp,
)
from tiercube._wire.cubes import Period as Period
from tiercube._wire.messages import (
    OnDuplicateKeys as OnDuplicateKeys,
    Partition as Partition,
    User as User,
)
from tiercube._wire.stats import (
    AggregateStats as AggregateStats,
    ClusterStats as ClusterStats,
    ServerStats as ServerStats,
    WorkerStats as WorkerStats,
)
from tiercube._wire.tiers import (
    CapabilityReport as CapabilityReport,
    ConditionResult as ConditionResult,
)
from tiercube.capabilities import AnonymousCapability, Capability
from tiercube._wire.tokens import TokenInfo as TokenInfo
from tiercube.errors import (
    AuthenticationError as AuthenticationError,
    CapabilityError as CapabilityError,
    ClusterError as ClusterError,
    ConflictError as ConflictError,
    InvalidRequestError as InvalidRequestError,
    LoadError as LoadError,
    NotFoundError as NotFoundError,
    PermissionDeniedError as PermissionDeniedError,
    ProtocolError as ProtocolError,
    QueryError as QueryError,
    QueryTimeoutError as QueryTimeoutError,
    RequestTooLargeError as RequestTooLargeError,
    ResourceExhaustedError as ResourceExhaustedError,
    ResultTooLargeError as ResultTooLargeError,
    ServerStartError as ServerStartError,
    ServerTimeoutError as ServerTimeoutError,
    ServerUnavailableError as ServerUnavailableError,
    StorageError as StorageError,
    TiercubeError as TiercubeError,
    TooLargeForMemoryError as TooLargeForMemoryError,
    TooManyAttemptsError as TooManyAttemptsError,
    TooManyRequestsError as TooManyRequestsError,
)

# Written out, not imported from tiercube._client.owner (where it is Session.connect assigned to a
# name): editors then show a function with its overloads and docstring, not a variable holding one.
# tests/test_namespace.py holds them equal to Connecting.connect's.
@overload
def connect(url: str, *, authentication: None = None, certificate_authority: Path | str | None = None, timeout: float | None = 300.0) -> ReadOnlySession | MinimalSession:
    """Connect to a running session server and return the session it grants.

    One request to ``{url}/versions/rest``, carrying the credentials, tells
    the conditions a to f of the capability contract; the returned object's
    class is the first tier whose conditions hold, and has exactly that
    tier's members (``session.capabilities`` prints why).

    ``authentication`` is an ``Authenticate`` callable such as
    ``BasicAuthentication(user, password)``, a ``ClientCertificate``, or a
    ``TokenAuthentication(token)``: a token never yields a wider tier than
    its own, in the type as on the server.
    ``certificate_authority`` is the CA file that signed the server's
    certificate, when it is not a public one.

    ``timeout`` is how many seconds a call waits for the server to answer
    (default 300); past it the call raises ``ServerTimeoutError`` instead
    of hanging on a stopped server. None waits forever.

    ``require`` names what the caller needs: a tier class, returned as
    exactly that class when the server grants at least its capabilities;
    a union of tier classes (``LocalSession | RemoteSession``), returned as
    the strongest of them the server grants; or a marker from
    ``tiercube.capabilities`` such as ``SHARED_FILE_LOADING``. Otherwise
    ``CapabilityError`` says which conditions failed and why. A tier above
    ``ReadOnlySession`` needs credentials: the type checker refuses
    ``require=LocalSession`` without ``authentication=``.

    Changes made through a connected session live in the server's memory;
    they survive a restart only when the server has a data directory.

    Raises ``AuthenticationError`` for rejected credentials,
    ``ServerUnavailableError`` when nothing answers at ``url`` (``ServerTimeoutError``
    when something accepts the connection but does not answer in time), and
    ``ProtocolError`` when ``/versions/rest`` does not exist there.

    What it returns, by its arguments (the overloads type checkers use):

    - without ``authentication``: ``ReadOnlySession | MinimalSession``;
    - with ``authentication=`` credentials: ``AnySession``, the six tiers' union;
    - with ``require=`` a tier class or a union of them: that class or union
      (a tier above ``ReadOnlySession`` only with credentials);
    - with ``require=`` a marker: its protocol, such as ``SupportsEditing``
      (only ``QUERY`` and ``READ_MODEL`` without credentials);
    - with ``authentication=TokenAuthentication(...)``: the token's tier or a narrower one.
    """
@overload
def connect(url: str, *, authentication: Authenticate | ClientCertificate, certificate_authority: Path | str | None = None, timeout: float | None = 300.0) -> AnySession: ...
@overload
def connect(url: str, *, authentication: None = None, certificate_authority: Path | str | None = None, timeout: float | None = 300.0, require: AnonymousCapability[P]) -> P: ...
@overload
def connect(url: str, *, authentication: Authenticate | ClientCertificate, certificate_authority: Path | str | None = None, timeout: float | None = 300.0, require: Capability[P]) -> P: ...
@overload
def connect(url: str, *, authentication: None = None, certificate_authority: Path | str | None = None, timeout: float | None = 300.0, require: TypeForm[AnonymousTierT]) -> AnonymousTierT: ...
@overload
def connect(url: str, *, authentication: Authenticate | ClientCertificate, certificate_authority: Path | str | None = None, timeout: float | None = 300.0, require: TypeForm[TierT]) -> TierT: ...
@overload
def connect(url: str, *, authentication: TokenAuthentication[MinimalSession], certificate_authority: Path | str | None = None, timeout: float | None = 300.0) -> MinimalSession: ...
@overload
def connect(url: str, *, authentication: TokenAuthentication[ReadOnlySession], certificate_authority: Path | str | None = None, timeout: float | None = 300.0) -> UpToReadOnly: ...
@overload
def connect(url: str, *, authentication: TokenAuthentication[NoSecuritySession], certificate_authority: Path | str | None = None, timeout: float | None = 300.0) -> UpToNoSecurity: ...
@overload
def connect(url: str, *, authentication: TokenAuthentication[NoSecurityLocalSession], certificate_authority: Path | str | None = None, timeout: float | None = 300.0) -> NoSecurityLocalSession | UpToNoSecurity: ...
@overload
def connect(url: str, *, authentication: TokenAuthentication[RemoteSession], certificate_authority: Path | str | None = None, timeout: float | None = 300.0) -> RemoteSession | UpToNoSecurity: ...
@overload
def connect(url: str, *, authentication: TokenAuthentication[LocalSession], certificate_authority: Path | str | None = None, timeout: float | None = 300.0) -> AnySession: ...
@overload
def connect(url: str, *, authentication: TokenAuthentication[MinimalSession], certificate_authority: Path | str | None = None, timeout: float | None = 300.0, require: type[MinimalSession]) -> MinimalSession: ...
@overload
def connect(url: str, *, authentication: TokenAuthentication[ReadOnlySession], certificate_authority: Path | str | None = None, timeout: float | None = 300.0, require: type[ReadOnlyT]) -> ReadOnlyT: ...
@overload
def connect(url: str, *, authentication: TokenAuthentication[NoSecuritySession], certificate_authority: Path | str | None = None, timeout: float | None = 300.0, require: type[NoSecurityT]) -> NoSecurityT: ...
@overload
def connect(url: str, *, authentication: TokenAuthentication[NoSecurityLocalSession], certificate_authority: Path | str | None = None, timeout: float | None = 300.0, require: type[NoSecurityLocalT]) -> NoSecurityLocalT: ...
@overload
def connect(url: str, *, authentication: TokenAuthentication[RemoteSession], certificate_authority: Path | str | None = None, timeout: float | None = 300.0, require: type[RemoteT]) -> RemoteT: ...
@overload
def connect(url: str, *, authentication: TokenAuthentication[LocalSession], certificate_authority: Path | str | None = None, timeout: float | None = 300.0, require: type[TierT]) -> TierT: ...
@overload
def connect(url: str, *, authentication: TokenAuthentication[Any], certificate_authority: Path | str | None = None, timeout: float | None = 300.0, require: Capability[P]) -> P: ...


__all__ = [
    "AggregateStats",
    "AnySession",
    "Authenticate",
    "AuthenticationError",
    "BasicAuthentication",
    "CalculatedColumn",
    "CapabilityError",
    "CapabilityReport",
    "ClientCertificate",
    "CloudStore",
    "CloudTable",
    "ClusterError",
    "ClusterStats",
    "Column",
    "ColumnType",
    "Condition",
    "ConditionResult",
    "ConflictError",
    "CsvLoad",
    "Cubes",
    "DataFrameLike",
    "DataType",
    "Decimal",
    "Duration",
    "EditableCube",
    "EditableCubes",
    "EditableHierarchies",
    "EditableMeasures",
    "EditableTable",
    "EditableTables",
    "EndpointRequest",
    "ExplorerWidget",
    "Format",
    "Hierarchies",
    "Hierarchy",
    "InvalidRequestError",
    "Level",
    "Levels",
    "LoadError",
    "LocalFile",
    "LocalSession",
    "LocalTable",
    "Measure",
    "MeasureCondition",
    "MeasureExpression",
    "Measures",
    "MinimalSession",
    "NoSecurityLocalSession",
    "NoSecuritySession",
    "NotFoundError",
    "OidcConfig",
    "OnDuplicateKeys",
    "ParquetLoad",
    "Partition",
    "Period",
    "PermissionDeniedError",
    "ProtocolError",
    "QueryCube",
    "QueryError",
    "QueryTimeoutError",
    "ReadOnlyCube",
    "ReadOnlySession",
    "ReadOnlyTable",
    "RemoteSession",
    "RequestTooLargeError",
    "ResourceExhaustedError",
    "ResultTooLargeError",
    "S3Location",
    "Security",
    "ServerStartError",
    "ServerStats",
    "ServerTimeoutError",
    "ServerUnavailableError",
    "Session",
    "SessionConfig",
    "ShownResult",
    "StorageError",
    "TableConfig",
    "TableSchema",
    "Tables",
    "TiercubeError",
    "Time",
    "Timestamp",
    "TlsConfig",
    "Token",
    "TokenAuthentication",
    "TokenInfo",
    "TooLargeForMemoryError",
    "TooManyAttemptsError",
    "TooManyRequestsError",
    "Top",
    "User",
    "UserConfig",
    "WorkerStats",
    "__version__",
    "agg",
    "at",
    "capabilities",
    "connect",
    "cumulative",
    "errors",
    "filtered",
    "level",
    "origin",
    "parent_value",
    "rank",
    "shift",
    "show",
    "siblings",
    "switch",
    "where",
    "SavedView",
    "SavedViews",
    "ViewDefinition",
]
