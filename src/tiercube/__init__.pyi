"""What ``import tiercube`` offers, for type checkers; ``__init__.py`` imports each name on first use.

The two lists (these imports and ``__init__._LAZY``) are held equal by a test.
"""

from tiercube import agg, capabilities, errors
from tiercube._client.auth import Authenticate, BasicAuthentication, ClientCertificate
from tiercube._client.cloud_loading import CloudTable
from tiercube._client.conditions import Column, Condition
from tiercube._client.cube_model import (
    EditableCube,
    EditableCubes,
    EditableHierarchies,
    EditableMeasures,
    Hierarchies,
    Hierarchy,
    Level,
    Levels,
    Measures,
    ReadOnlyCube,
)
from tiercube._client.editing import EditableTable, EditableTables
from tiercube._client.endpoints import EndpointRequest
from tiercube._client.file_loading import DataFrameLike, LocalTable
from tiercube._client.measures import Measure, MeasureCondition, MeasureExpression, filtered, level, parent_value, where
from tiercube._client.owner import Session, connect
from tiercube._client.query import Cubes, QueryCube
from tiercube._client.read_model import ReadOnlyTable, Tables, TableSchema
from tiercube._client.security import Security
from tiercube._client.token_auth import TokenAuthentication
from tiercube._client.tokens import Token
from tiercube._client.sessions import (
    AnySession,
    LocalSession,
    MinimalSession,
    NoSecurityLocalSession,
    NoSecuritySession,
    ReadOnlySession,
    RemoteSession,
)
from tiercube._client.sources import CsvLoad, LocalFile, ParquetLoad, S3Location
from tiercube._config import CloudStore, OidcConfig, SessionConfig, TableConfig, TlsConfig, UserConfig
from tiercube._version import __version__
from tiercube._wire.column_types import ColumnType, DataType, Decimal, Duration, Time, Timestamp
from tiercube._wire.messages import OnDuplicateKeys, Partition, User
from tiercube._wire.tiers import CapabilityReport, ConditionResult
from tiercube._wire.tokens import TokenInfo
from tiercube.errors import (
    AuthenticationError,
    CapabilityError,
    ClusterError,
    ConflictError,
    InvalidRequestError,
    LoadError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    QueryError,
    QueryTimeoutError,
    RequestTooLargeError,
    ResourceExhaustedError,
    ResultTooLargeError,
    ServerStartError,
    ServerUnavailableError,
    StorageError,
    TiercubeError,
    TooLargeForMemoryError,
    TooManyAttemptsError,
)

__all__ = [
    "AnySession",
    "Authenticate",
    "AuthenticationError",
    "BasicAuthentication",
    "CapabilityError",
    "CapabilityReport",
    "ClientCertificate",
    "ClusterError",
    "CloudStore",
    "CloudTable",
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
    "ServerUnavailableError",
    "Session",
    "SessionConfig",
    "StorageError",
    "TableConfig",
    "TableSchema",
    "Tables",
    "TiercubeError",
    "Time",
    "Timestamp",
    "TlsConfig",
    "TooLargeForMemoryError",
    "TooManyAttemptsError",
    "Token",
    "TokenAuthentication",
    "TokenInfo",
    "User",
    "UserConfig",
    "__version__",
    "agg",
    "capabilities",
    "connect",
    "errors",
    "filtered",
    "level",
    "parent_value",
    "where",
]
