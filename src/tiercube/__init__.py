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
Type checkers read ``__init__.pyi`` instead of this module.
"""

# Where each public name lives (the names the type checkers see are in __init__.pyi).
_LAZY = {
    "AnySession": "tiercube._client.sessions",
    "Authenticate": "tiercube._client.auth",
    "AggregateStats": "tiercube._wire.stats",
    "AuthenticationError": "tiercube.errors",
    "BasicAuthentication": "tiercube._client.auth",
    "CalculatedColumn": "tiercube._client.calculated",
    "CapabilityError": "tiercube.errors",
    "CapabilityReport": "tiercube._wire.tiers",
    "ClientCertificate": "tiercube._client.auth",
    "CloudStore": "tiercube._config",
    "ClusterStats": "tiercube._wire.stats",
    "CloudTable": "tiercube._client.cloud_loading",
    "ClusterError": "tiercube.errors",
    "Column": "tiercube._client.conditions",
    "Condition": "tiercube._client.conditions",
    "ConditionResult": "tiercube._wire.tiers",
    "ConflictError": "tiercube.errors",
    "CsvLoad": "tiercube._client.sources",
    "Cubes": "tiercube._client.query",
    "DataFrameLike": "tiercube._client.file_loading",
    "ColumnType": "tiercube._wire.column_types",
    "DataType": "tiercube._wire.column_types",
    "Decimal": "tiercube._wire.column_types",
    "Duration": "tiercube._wire.column_types",
    "EditableCube": "tiercube._client.cube_model",
    "EditableCubes": "tiercube._client.cube_model",
    "EditableHierarchies": "tiercube._client.cube_model",
    "EditableMeasures": "tiercube._client.cube_model",
    "EditableTable": "tiercube._client.editing",
    "EditableTables": "tiercube._client.editing",
    "EndpointRequest": "tiercube._client.endpoints",
    "ExplorerWidget": "tiercube._client.explorer_widget",
    "Hierarchies": "tiercube._client.cube_model",
    "Hierarchy": "tiercube._client.cube_model",
    "InvalidRequestError": "tiercube.errors",
    "Level": "tiercube._client.levels",
    "Levels": "tiercube._client.cube_model",
    "LoadError": "tiercube.errors",
    "LocalFile": "tiercube._client.sources",
    "LocalSession": "tiercube._client.sessions",
    "LocalTable": "tiercube._client.file_loading",
    "Measure": "tiercube._client.measures",
    "MeasureCondition": "tiercube._client.measures",
    "MeasureExpression": "tiercube._client.measures",
    "Measures": "tiercube._client.cube_model",
    "MinimalSession": "tiercube._client.sessions",
    "NoSecurityLocalSession": "tiercube._client.sessions",
    "NoSecuritySession": "tiercube._client.sessions",
    "NotFoundError": "tiercube.errors",
    "OidcConfig": "tiercube._config",
    "OnDuplicateKeys": "tiercube._wire.messages",
    "ParquetLoad": "tiercube._client.sources",
    "Partition": "tiercube._wire.messages",
    "Period": "tiercube._wire.cubes",
    "PermissionDeniedError": "tiercube.errors",
    "ProtocolError": "tiercube.errors",
    "QueryCube": "tiercube._client.query",
    "QueryError": "tiercube.errors",
    "QueryTimeoutError": "tiercube.errors",
    "ReadOnlyCube": "tiercube._client.cube_model",
    "ReadOnlySession": "tiercube._client.sessions",
    "ReadOnlyTable": "tiercube._client.read_model",
    "RemoteSession": "tiercube._client.sessions",
    "RequestTooLargeError": "tiercube.errors",
    "ResourceExhaustedError": "tiercube.errors",
    "ResultTooLargeError": "tiercube.errors",
    "S3Location": "tiercube._client.sources",
    "Security": "tiercube._client.security",
    "ServerStartError": "tiercube.errors",
    "ServerTimeoutError": "tiercube.errors",
    "ServerUnavailableError": "tiercube.errors",
    "ServerStats": "tiercube._wire.stats",
    "Session": "tiercube._client.owner",
    "SessionConfig": "tiercube._config",
    "StorageError": "tiercube.errors",
    "TableConfig": "tiercube._config",
    "TableSchema": "tiercube._client.read_model",
    "Time": "tiercube._wire.column_types",
    "Timestamp": "tiercube._wire.column_types",
    "Tables": "tiercube._client.read_model",
    "TiercubeError": "tiercube.errors",
    "TlsConfig": "tiercube._config",
    "TooLargeForMemoryError": "tiercube.errors",
    "TooManyAttemptsError": "tiercube.errors",
    "TooManyRequestsError": "tiercube.errors",
    "Top": "tiercube._client.scopes",
    "Token": "tiercube._client.tokens",
    "TokenAuthentication": "tiercube._client.token_auth",
    "TokenInfo": "tiercube._wire.tokens",
    "User": "tiercube._wire.messages",
    "WorkerStats": "tiercube._wire.stats",
    "UserConfig": "tiercube._config",
    "__version__": "tiercube._version",
    "agg": "tiercube.agg",
    "at": "tiercube._client.scopes",
    "capabilities": "tiercube.capabilities",
    "connect": "tiercube._client.owner",
    "cumulative": "tiercube._client.scopes",
    "errors": "tiercube.errors",
    "filtered": "tiercube._client.measures",
    "level": "tiercube._client.measures",
    "origin": "tiercube._client.scopes",
    "parent_value": "tiercube._client.measures",
    "rank": "tiercube._client.scopes",
    "shift": "tiercube._client.scopes",
    "siblings": "tiercube._client.scopes",
    "switch": "tiercube._client.scopes",
    "where": "tiercube._client.measures",
    "Format": "tiercube._client.formats",
    "ShownResult": "tiercube._client.results",
    "show": "tiercube._client.results",
    "SavedView": "tiercube._client.saved_views",
    "SavedViews": "tiercube._client.saved_views",
    "ViewDefinition": "tiercube._client.saved_views",
}

__all__ = sorted(_LAZY)  # pyright: ignore[reportUnsupportedDunderAll]  # the typed list is in __init__.pyi


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
