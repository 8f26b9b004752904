"""Loading through the shared file system: local files, Arrow tables and pandas frames.

CSV and Parquet paths are sent as absolute paths that the server opens
itself. Arrow tables and frames are written as an Arrow IPC file to a
temporary directory; the server memory-maps it, and the file is removed as
soon as the load answers. No table data ever travels as JSON.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
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
from tiercube._public import public
from tiercube._wire.messages import ArrowFileSource, ParquetSource
from tiercube.errors import LoadError

if TYPE_CHECKING:
    import pyarrow as pa


@public
@runtime_checkable
class DataFrameLike(Protocol):
    """A data frame: anything that exports Arrow data (pandas 2.2+, polars, DuckDB relations, pyarrow).

    A protocol rather than ``pandas.DataFrame``, so that pandas stays optional
    for the type checkers too: they need no pandas stubs to check a call.
    """

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

@contextmanager
def shared_arrow_file(table: pa.Table) -> Generator[ArrowFileSource]:
    """Write ``table`` where the server can memory-map it; remove it afterwards."""
    import pyarrow as pa

    directory = tempfile.mkdtemp(prefix="tiercube-transfer-")
    try:
        file_path = str(Path(directory, "data.arrow"))
        with pa.OSFile(file_path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        yield ArrowFileSource(file_path)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def as_arrow(data: pa.Table | DataFrameLike) -> pa.Table:
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
        raise LoadError(f"the DataFrame cannot be converted to Arrow: {error}") from None


@public
class LocalTable(CloudTable):
    """An editable table of a session that shares the server's file system: it loads anything."""

    _can: ClassVar[tuple[str, ...]] = (*CloudTable._can[:-1], "load (files, Arrow tables, frames, cloud storage)")

    def load(
        self, source: CsvLoad[Any] | ParquetLoad[Any] | pa.Table | DataFrameLike, /
    ) -> int:
        """Load a CSV or Parquet file (local or cloud), a ``pyarrow.Table`` or a data frame (pandas, polars...)."""
        if isinstance(source, CsvLoad | ParquetLoad):
            return self._load(source.to_wire(), file_size(source.path))
        arrow = as_arrow(source)
        with shared_arrow_file(arrow) as shared:
            return self._load(shared, arrow.nbytes)


class FileLoading(Editing[LocalTable]):
    """``read_*`` of local files, Arrow tables and pandas frames, and of cloud objects."""

    @property
    def tables(self) -> EditableTables[LocalTable]:
        """The tables by name; ``del tables[name]`` deletes one."""
        return EditableTables(self._connection, LocalTable)

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

    def read_arrow(self, table: pa.Table, /, *, table_name: str, **options: Unpack[ReadOptions]) -> LocalTable:
        """Create a table from a ``pyarrow.Table`` through the shared file system."""
        checked("read_arrow", options, ReadOptions)
        with shared_arrow_file(table) as shared:
            return self._read(shared, table_name, options, table.nbytes)

    def read_pandas(self, frame: DataFrameLike, /, *, table_name: str, **options: Unpack[ReadOptions]) -> LocalTable:
        """Create a table from a ``pandas.DataFrame`` (its index is not loaded), or any data frame that exports Arrow."""
        checked("read_pandas", options, ReadOptions)
        return self.read_arrow(as_arrow(frame), table_name=table_name, **options)
