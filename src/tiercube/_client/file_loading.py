"""Loading through the shared file system: local files, Arrow tables and data frames.

CSV and Parquet paths are sent as absolute paths that the server opens
itself. Arrow tables and frames are written as an Arrow IPC file to a
temporary directory; the server memory-maps it, and the file is removed as
soon as the load answers. No table data ever travels as JSON. Frames go as
their producer made them (polars' ``string_view``, pandas' ``large_string``,
duckdb's decimals): the server reads every spelling, and its errors name the
frame, never the file that carried it.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast, runtime_checkable

from typing_extensions import Unpack

from tiercube._client.cloud_loading import CloudTable
from tiercube._client.editing import EditableTables, Editing, file_size
from tiercube._client.sources import (
    CsvLoad,
    CsvReadOptions,
    ParquetLoad,
    ReadOptions,
    S3Location,
    StrPath,
    checked,
    csv_source,
    default_table_name,
    wire_path,
)
from tiercube._client.wire_form import HasWireForm, wire_form
from tiercube._public import public
from tiercube._temporary import owned_directory, storage_errors
from tiercube._wire.messages import ArrowFileSource, CsvSource, OnDuplicateKeys, ParquetSource
from tiercube.errors import LoadError

if TYPE_CHECKING:
    import pyarrow as pa


@public
@runtime_checkable
class DataFrameLike(Protocol):
    """A data frame: anything that exports Arrow data (pandas 2.2+, polars, DuckDB relations, pyarrow),
    through the Arrow PyCapsule interface (``__arrow_c_stream__``).

    A protocol rather than ``pandas.DataFrame``, so that pandas stays optional
    for the type checkers too: they need no pandas stubs to check a call.
    """

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

@contextmanager
def shared_arrow_file(table: pa.Table, label: str) -> Generator[ArrowFileSource]:
    """Write ``table`` where the server can read it (into its own memory); remove it afterwards. ``label``: how
    errors name it (the caller's frame or table)."""
    import pyarrow as pa

    directory = owned_directory("transfer")
    try:
        file_path = str(Path(directory, "data.arrow"))
        with storage_errors(file_path, f"write {label} to"), pa.OSFile(file_path, "wb") as sink:
            with pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        yield ArrowFileSource(file_path, label)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def frame_label(data: object, table: str) -> str:
    """How errors name ``data``: ``the polars.DataFrame loaded into table 'sales'``."""
    kind = type(data)
    return f"the {kind.__module__.split('.')[0]}.{kind.__name__} loaded into table {table!r}"


_FAILED_COLUMN = re.compile(r"for column (.+?) with type")


def as_arrow(data: pa.Table | DataFrameLike, label: str) -> pa.Table:
    """``data`` as a ``pyarrow.Table``: a pandas frame without its index, any other producer through
    its Arrow stream; ``LoadError`` (naming ``label`` and, if pyarrow says, the column) if it cannot be."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    pandas = sys.modules.get("pandas")  # a pandas frame exists only if pandas was imported
    try:
        if pandas is not None and isinstance(data, pandas.DataFrame):
            return pa.Table.from_pandas(cast(Any, data), preserve_index=False)  # its index is not data
        return pa.table(data)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        # pyarrow names the column ("Conversion failed for column x with type object").
        failed = _FAILED_COLUMN.search(str(error))
        column = failed[1] if failed is not None else None
        raise LoadError(f"{label} cannot be converted to Arrow: {error}", path=label, column=column) from None


@public
class LocalTable(CloudTable):
    """An editable table of a session that shares the server's file system: it loads anything."""

    _can: ClassVar[tuple[str, ...]] = (*CloudTable._can[:-1], "load (files, Arrow tables, frames, cloud storage)")

    def load(
        self, source: CsvLoad[Any] | ParquetLoad[Any] | pa.Table | DataFrameLike, /, *, on_duplicate_keys: OnDuplicateKeys = "error"
    ) -> int:
        """Load a CSV or Parquet file (local or cloud), a ``pyarrow.Table`` or a data frame (pandas,
        polars, a duckdb relation...); returns the rows read.

        A key that comes more than once in ``source`` refuses the load (``LoadError`` naming it and
        its lines or rows), unless ``on_duplicate_keys="last"`` keeps its last row; either way a
        row whose key the table holds already replaces that row.
        """
        if isinstance(source, CsvLoad | ParquetLoad):
            loadable: HasWireForm[CsvSource | ParquetSource] = source  # declared: mypy would join the two forms to Struct
            return self._load(wire_form(loadable), on_duplicate_keys, file_size(source.path))
        label = frame_label(source, self._name)
        arrow = as_arrow(source, label)
        with shared_arrow_file(arrow, label) as shared:
            return self._load(shared, on_duplicate_keys, arrow.nbytes)


class FileLoading(Editing[LocalTable]):
    """``read_*`` of local files, Arrow tables and pandas frames, and of cloud objects."""

    @property
    def tables(self) -> EditableTables[LocalTable]:
        """The tables by name; ``del tables[name]`` deletes one."""
        return _LocalTables(self._connection, LocalTable)

    def _table(self, name: str) -> LocalTable:
        return LocalTable(self._connection, name)

    def read_csv(
        self, path: StrPath | S3Location, /, *, table_name: str | None = None, **options: Unpack[CsvReadOptions]
    ) -> LocalTable:
        """Create a table from a CSV file, inferring column types; ``options`` tune parsing."""
        checked("read_csv", options, CsvReadOptions)
        return self._read(csv_source(path, options), table_name or default_table_name(path), options, file_size(path))

    def read_parquet(
        self, path: StrPath | S3Location, /, *, table_name: str | None = None, **options: Unpack[ReadOptions]
    ) -> LocalTable:
        """Create a table from a Parquet file."""
        checked("read_parquet", options, ReadOptions)
        source = ParquetSource(wire_path(path))
        return self._read(source, table_name or default_table_name(path), options, file_size(path))

    def read_arrow(self, table: pa.Table | DataFrameLike, /, *, table_name: str, **options: Unpack[ReadOptions]) -> LocalTable:
        """Create a table from a ``pyarrow.Table`` (or anything that exports an Arrow stream, as polars
        frames and duckdb relations do) through the shared file system."""
        checked("read_arrow", options, ReadOptions)
        label = frame_label(table, table_name)
        arrow = as_arrow(table, label)
        with shared_arrow_file(arrow, label) as shared:
            return self._read(shared, table_name, options, arrow.nbytes)

    def read_pandas(self, frame: DataFrameLike, /, *, table_name: str, **options: Unpack[ReadOptions]) -> LocalTable:
        """Create a table from a ``pandas.DataFrame`` (its index is not loaded), or any data frame that exports Arrow."""
        checked("read_pandas", options, ReadOptions)
        return self.read_arrow(frame, table_name=table_name, **options)


class _LocalTables(EditableTables[LocalTable]):
    """``EditableTables[LocalTable]`` as a class of its own, so that jedi completes its items (see ``views.ObjectMapping``)."""
