"""Read the sources a load names (CSV, Parquet, Arrow IPC, cloud objects) into Arrow.

Every failure becomes a ``LoadError`` that names the file and, where pyarrow
tells, the row and column; nothing here touches a stored table.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tiercube._server.engine.types import storage_type
from tiercube._wire.messages import (
    ArrowFileSource,
    CloudLocation,
    CsvOptions,
    CsvSource,
    DataType,
    ParquetSource,
    Source,
)
from tiercube.errors import LoadError

if TYPE_CHECKING:
    import pyarrow.fs as pa_fs


def describe(source: Source) -> str:
    """How error messages name a source."""
    path = source.path
    return path.uri if isinstance(path, CloudLocation) else path


def read(source: Source, data_types: Mapping[str, DataType]) -> pa.Table:
    """Read ``source``; columns named in ``data_types`` are parsed as those types."""
    origin = describe(source)
    try:
        match source:
            case CsvSource(path, options):
                return _read_csv(path, options, data_types)
            case ParquetSource(path):
                return _read_parquet(path)
            case ArrowFileSource(path):
                with pa.memory_map(_local(path)) as mapped:
                    return pa.ipc.open_file(mapped).read_all()
    except LoadError:
        raise
    except FileNotFoundError:
        raise LoadError(f"{origin}: no such file on the server's file system") from None
    except PermissionError:
        raise LoadError(f"{origin}: the server may not read this file") from None
    except UnicodeDecodeError as error:
        raise LoadError(f"{origin}: not valid text in the declared encoding: {error}") from None
    except (pa.ArrowException, OSError, ValueError) as error:
        raise LoadError(f"{origin}: {error}") from None
    raise LoadError(f"unknown source {source!r}")


def _local(path: str) -> str:
    if not os.path.isabs(path):
        raise LoadError(f"{path}: the server needs an absolute path")
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return path


def _open(path: str | CloudLocation) -> Any:
    if isinstance(path, str):
        return _local(path)
    file_system, inner = _cloud_file_system(path)
    return file_system.open_input_file(inner)


def _cloud_file_system(location: CloudLocation) -> tuple[pa_fs.FileSystem, str]:
    import pyarrow.fs as pa_fs

    # Only S3: from_uri would also open file:// paths, a shared file system by another name.
    if location.uri.startswith("s3://"):
        file_system = pa_fs.S3FileSystem(
            endpoint_override=location.endpoint,
            region=location.region or "us-east-1",
            access_key=location.access_key,
            secret_key=location.secret_key,
            scheme="http" if (location.endpoint or "").startswith("http://") else "https",
        )
        return file_system, location.uri.removeprefix("s3://")
    raise LoadError(f"{location.uri}: only s3:// cloud locations can be loaded")


def _read_csv(path: str | CloudLocation, options: CsvOptions, data_types: Mapping[str, DataType]) -> pa.Table:
    import pyarrow.csv as pa_csv

    try:
        codecs.lookup(options.encoding)
    except LookupError:
        origin = path.uri if isinstance(path, CloudLocation) else path
        raise LoadError(f"{origin}: unknown encoding {options.encoding!r}") from None
    read_options = pa_csv.ReadOptions(
        encoding=options.encoding,
        column_names=options.column_names,
        autogenerate_column_names=not options.header and options.column_names is None,
        skip_rows=1 if options.header and options.column_names is not None else 0,
    )
    parse_options = pa_csv.ParseOptions(
        delimiter=options.separator,
        quote_char=options.quote_char if options.quote_char is not None else False,
    )
    convert_kwargs: dict[str, Any] = {
        "column_types": {name: storage_type(t) for name, t in data_types.items()},
        "strings_can_be_null": True,
        # Strings are stored dictionary-encoded: let the parser encode them as it goes.
        "auto_dict_encode": True,
        "auto_dict_max_cardinality": 1 << 30,
    }
    if options.null_values is not None:
        convert_kwargs["null_values"] = options.null_values
    if options.timestamp_formats:
        convert_kwargs["timestamp_parsers"] = options.timestamp_formats
    return pa_csv.read_csv(_open(path), read_options, parse_options, pa_csv.ConvertOptions(**convert_kwargs))


def _read_parquet(path: str | CloudLocation) -> pa.Table:
    import pyarrow.parquet as pq

    source = _open(path)
    # Strings are stored dictionary-encoded, as Parquet usually holds them: read them so.
    strings = [f.name for f in pq.read_schema(source) if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    table = pq.read_table(source, read_dictionary=strings)
    # Parquet gives each row group its own dictionary; group_by needs one.
    return table.unify_dictionaries()
