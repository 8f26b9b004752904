"""tiercube: in-memory analytics sessions whose capabilities are known to the type checker.

Start a session server and own it::

    session = tiercube.Session.start()
    sales = session.read_csv("sales.csv", keys=["id"])

Connect to one and get exactly the tier it grants you::

    remote = tiercube.connect(url, authentication=tiercube.BasicAuthentication("ann", "..."))
    if isinstance(remote, tiercube.LocalSession):
        remote.read_pandas(frame, table_name="forecast")

``import tiercube`` loads the client only: never the server, never pandas.
"""

from tiercube import agg, capabilities, errors
from tiercube._auth import Authenticate, BasicAuthentication, ClientCertificate
from tiercube._client.cloud_loading import CloudTable
from tiercube._client.cube_model import EditableCube, Hierarchy, Level, ReadOnlyCube
from tiercube._client.editing import EditableTable
from tiercube._client.endpoints import EndpointRequest
from tiercube._client.file_loading import LocalTable
from tiercube._client.negotiation import CapabilityReport, ConditionResult
from tiercube._client.query import QueryCube
from tiercube._client.read_model import ReadOnlyTable, TableSchema
from tiercube._client.security import Security
from tiercube._conditions import Column, Condition
from tiercube._config import SessionConfig, TlsConfig, UserConfig
from tiercube._connect import AnySession, connect
from tiercube._measures import Measure, MeasureCondition, MeasureExpression, filtered, level, parent_value, where
from tiercube._sessions import (
    LocalSession,
    MinimalSession,
    NoSecurityLocalSession,
    NoSecuritySession,
    ReadOnlySession,
    RemoteSession,
)
from tiercube._owner import Session
from tiercube._sources import CsvLoad, LocalFile, ParquetLoad, S3Location
from tiercube._version import __version__
from tiercube._wire.messages import DataType, User
from tiercube.errors import (
    AuthenticationError,
    CapabilityError,
    ConflictError,
    InvalidRequestError,
    LoadError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    QueryError,
    QueryTimeoutError,
    ResultTooLargeError,
    ServerStartError,
    ServerUnavailableError,
    TiercubeError,
)

__all__ = [
    "AnySession", "Authenticate", "AuthenticationError", "BasicAuthentication", "CapabilityError",
    "CapabilityReport", "ClientCertificate", "CloudTable", "Column", "Condition", "ConditionResult",
    "ConflictError", "CsvLoad", "DataType", "EditableCube", "EditableTable", "EndpointRequest", "Hierarchy",
    "InvalidRequestError", "Level", "LoadError", "LocalFile", "LocalSession", "LocalTable", "Measure",
    "MeasureCondition", "MeasureExpression", "MinimalSession", "NoSecurityLocalSession",
    "NoSecuritySession", "NotFoundError", "ParquetLoad", "PermissionDeniedError", "ProtocolError",
    "QueryCube", "QueryError", "QueryTimeoutError", "ReadOnlyCube", "ReadOnlySession", "ReadOnlyTable",
    "RemoteSession", "ResultTooLargeError", "S3Location", "Security", "ServerStartError",
    "ServerUnavailableError", "Session", "SessionConfig", "TableSchema", "TiercubeError", "TlsConfig",
    "User", "UserConfig", "__version__", "agg", "capabilities", "connect", "errors", "filtered", "level",
    "parent_value", "where",
]
