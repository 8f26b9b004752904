"""tiercube: in-memory analytics sessions whose capabilities are known to the type checker.

Start a session server and own it::

    session = tiercube.Session.start()
    sales = session.read_csv("sales.csv", keys=["id"])

Connect to one and get exactly the tier it grants you::

    remote = tiercube.connect(url, authentication=tiercube.BasicAuthentication("ann", "..."))
    if isinstance(remote, tiercube.LocalSession):
        remote.read_pandas(frame, table_name="forecast")

``import tiercube`` loads almost nothing: each name is imported on first use
(the client's modules, httpx and pyarrow are not needed to start a server
child or to print a version), never the server's modules and never pandas.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    from tiercube._config import CloudStore, SessionConfig, TlsConfig, UserConfig
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
        RequestTooLargeError,
        ResultTooLargeError,
        ServerStartError,
        ServerUnavailableError,
        TiercubeError,
        TooManyAttemptsError,
    )

__all__ = [
    "AnySession", "Authenticate", "AuthenticationError", "BasicAuthentication", "CapabilityError",
    "CapabilityReport", "ClientCertificate", "CloudStore", "CloudTable", "Column", "Condition", "ConditionResult",
    "ConflictError", "CsvLoad", "DataType", "EditableCube", "EditableTable", "EndpointRequest", "Hierarchy",
    "InvalidRequestError", "Level", "LoadError", "LocalFile", "LocalSession", "LocalTable", "Measure",
    "MeasureCondition", "MeasureExpression", "MinimalSession", "NoSecurityLocalSession",
    "NoSecuritySession", "NotFoundError", "ParquetLoad", "PermissionDeniedError", "ProtocolError",
    "QueryCube", "QueryError", "QueryTimeoutError", "ReadOnlyCube", "ReadOnlySession", "ReadOnlyTable",
    "RemoteSession", "RequestTooLargeError", "ResultTooLargeError", "S3Location", "Security", "ServerStartError",
    "ServerUnavailableError", "Session", "SessionConfig", "TableSchema", "TiercubeError", "TlsConfig",
    "TooManyAttemptsError", "User", "UserConfig", "__version__", "agg", "capabilities", "connect", "errors", "filtered", "level",
    "parent_value", "where",
]

# Where each public name lives; a name is imported the first time it is used.
_LAZY = {
    "AnySession": "tiercube._connect",
    "Authenticate": "tiercube._auth",
    "AuthenticationError": "tiercube.errors",
    "BasicAuthentication": "tiercube._auth",
    "CapabilityError": "tiercube.errors",
    "CapabilityReport": "tiercube._client.negotiation",
    "ClientCertificate": "tiercube._auth",
    "CloudStore": "tiercube._config",
    "CloudTable": "tiercube._client.cloud_loading",
    "Column": "tiercube._conditions",
    "Condition": "tiercube._conditions",
    "ConditionResult": "tiercube._client.negotiation",
    "ConflictError": "tiercube.errors",
    "CsvLoad": "tiercube._sources",
    "DataType": "tiercube._wire.messages",
    "EditableCube": "tiercube._client.cube_model",
    "EditableTable": "tiercube._client.editing",
    "EndpointRequest": "tiercube._client.endpoints",
    "Hierarchy": "tiercube._client.cube_model",
    "InvalidRequestError": "tiercube.errors",
    "Level": "tiercube._client.cube_model",
    "LoadError": "tiercube.errors",
    "LocalFile": "tiercube._sources",
    "LocalSession": "tiercube._sessions",
    "LocalTable": "tiercube._client.file_loading",
    "Measure": "tiercube._measures",
    "MeasureCondition": "tiercube._measures",
    "MeasureExpression": "tiercube._measures",
    "MinimalSession": "tiercube._sessions",
    "NoSecurityLocalSession": "tiercube._sessions",
    "NoSecuritySession": "tiercube._sessions",
    "NotFoundError": "tiercube.errors",
    "ParquetLoad": "tiercube._sources",
    "PermissionDeniedError": "tiercube.errors",
    "ProtocolError": "tiercube.errors",
    "QueryCube": "tiercube._client.query",
    "QueryError": "tiercube.errors",
    "QueryTimeoutError": "tiercube.errors",
    "ReadOnlyCube": "tiercube._client.cube_model",
    "ReadOnlySession": "tiercube._sessions",
    "ReadOnlyTable": "tiercube._client.read_model",
    "RemoteSession": "tiercube._sessions",
    "RequestTooLargeError": "tiercube.errors",
    "ResultTooLargeError": "tiercube.errors",
    "S3Location": "tiercube._sources",
    "Security": "tiercube._client.security",
    "ServerStartError": "tiercube.errors",
    "ServerUnavailableError": "tiercube.errors",
    "Session": "tiercube._owner",
    "SessionConfig": "tiercube._config",
    "TableSchema": "tiercube._client.read_model",
    "TiercubeError": "tiercube.errors",
    "TlsConfig": "tiercube._config",
    "TooManyAttemptsError": "tiercube.errors",
    "User": "tiercube._wire.messages",
    "UserConfig": "tiercube._config",
    "__version__": "tiercube._version",
    "agg": "tiercube.agg",
    "capabilities": "tiercube.capabilities",
    "connect": "tiercube._connect",
    "errors": "tiercube.errors",
    "filtered": "tiercube._measures",
    "level": "tiercube._measures",
    "parent_value": "tiercube._measures",
    "where": "tiercube._measures",
}

if not TYPE_CHECKING:  # checkers see the imports above; a module __getattr__ would hide typos from them

    def __getattr__(name: str) -> object:
        import importlib

        try:
            module = _LAZY[name]
        except KeyError:
            raise AttributeError(f"module 'tiercube' has no attribute {name!r}") from None
        value = importlib.import_module(module)
        value = value if module == f"tiercube.{name}" else getattr(value, name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_LAZY})
