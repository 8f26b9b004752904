"""Read the sources a load names (CSV, Parquet, Arrow IPC, cloud objects) into Arrow.

Every failure becomes a ``LoadError`` that names the file and, where pyarrow
tells, the row and column; nothing here touches a stored table.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from tiercube._server.engine import csv_errors, csv_files, load_progress
from tiercube._server.engine.duplicates import listed, row_numbers
from tiercube._wire.column_types import ColumnType
from tiercube._wire.messages import (
    ArrowFileSource,
    CloudLocation,
    CsvSource,
    ParquetSource,
    Source,
)
from tiercube.errors import LoadError

if TYPE_CHECKING:
    import pyarrow.fs as pa_fs


@dataclass(frozen=True)
class SharedFile:
    """A checked local file as another process (a cluster worker) may open it again: by its real
    path, and only if it is still the file that was checked (same inode and size)."""

    path: str
    inode: int
    size: int


class Access(Protocol):
    """Where a load may read from: the server's rules for its disk and its cloud stores."""

    def local(self, path: str) -> AbstractContextManager[str]: ...
    def cloud(self, location: CloudLocation) -> tuple[pa_fs.FileSystem, str]: ...
    def shared(self, path: str) -> SharedFile: ...


_LABEL_LENGTH = 200


def describe(source: Source) -> str:
    """How error messages name a source: the client's frame or table as the client named it, not
    the file that carried it here; a file by its path, a cloud object by its URI."""
    if isinstance(source, ArrowFileSource) and source.label:
        return source.label[:_LABEL_LENGTH]
    path = source.path
    return path.uri if isinstance(path, CloudLocation) else path


def places(source: Source, access: Access, rows: list[int]) -> tuple[str, int | None]:
    """``rows`` (from 0, in the source's order) as the source has them: a CSV file's lines, other sources' rows;
    with the first line, for a CSV file whose records could be found again."""
    if isinstance(source, CsvSource):
        lines = csv_errors.record_lines(lambda: _binary(source.path, access), source.options, rows)
        if lines is not None:
            return f"{'lines' if len(lines) > 1 else 'line'} {listed(lines)}", lines[0]
    return row_numbers(rows)


def read(
    source: Source, data_types: Mapping[str, ColumnType], access: Access, row_groups: Sequence[int] | None = None
) -> pa.Table:
    """Read ``source`` as ``access`` allows; columns named in ``data_types`` are parsed as those types.

    ``row_groups``: of a Parquet source, only these (a cluster worker reads its share of a file).
    """
    origin = describe(source)
    with _as_load_errors(origin), _opened(source.path, access) as opened:
        match source:
            case CsvSource(path, options):
                with _followed(opened) as followed:
                    table = csv_files.read_csv(followed, origin, options, data_types, lambda: _binary(path, access))
            case ParquetSource():
                with _followed(opened) as followed:
                    table = _read_parquet(followed, row_groups)
            case ArrowFileSource():
                with _followed(opened) as followed:
                    table = _read_arrow(followed)
    try:
        names = table.column_names
    except UnicodeDecodeError:
        raise LoadError(f"{origin}: the column names are not valid UTF-8 text; give the file's encoding, e.g. encoding='latin-1'", path=origin) from None
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise LoadError(f"{origin}: the column name(s) {', '.join(map(repr, repeated))} appear more than once", path=origin)
    return table


@contextmanager
def _as_load_errors(origin: str) -> Generator[None]:
    """Whatever reading ``origin`` raises, as a ``LoadError`` naming it."""
    try:
        yield
    except LoadError:
        raise
    except FileNotFoundError:
        raise LoadError(f"{origin}: no such file on the server's file system", path=origin) from None
    except PermissionError:
        raise LoadError(f"{origin}: the server may not read this file", path=origin) from None
    except UnicodeDecodeError as error:
        raise LoadError(f"{origin}: not valid text in the declared encoding: {error}", path=origin) from None
    except (pa.ArrowException, OSError, ValueError) as error:
        raise LoadError(f"{origin}: {error}", path=origin) from None


@contextmanager
def _opened(path: str | CloudLocation, access: Access) -> Generator[Any]:
    """What pyarrow's readers take: a checked local path, or an open cloud object."""
    if isinstance(path, str):
        with access.local(path) as local:
            yield local
        return
    file_system, inner = access.cloud(path)
    with file_system.open_input_file(inner) as opened:
        yield opened


@contextmanager
def _followed(opened: Any) -> Generator[Any]:
    """``opened`` (a local path or an open cloud object) as pyarrow reads it, its bytes counted if the
    caller follows the load (``load_progress``); a path is then opened here, else left to pyarrow."""
    if not load_progress.followed():
        yield opened
    elif isinstance(opened, str):
        with open(opened, "rb") as file, load_progress.counted(file, os.fstat(file.fileno()).st_size) as counted:
            yield counted
    else:
        with load_progress.counted(opened, opened.size()) as counted:
            yield counted


@contextmanager
def _binary(path: str | CloudLocation, access: Access) -> Generator[IO[bytes]]:
    """The source opened again as a binary file, to explain a failed load."""
    with _opened(path, access) as opened:
        if isinstance(opened, str):
            with open(opened, "rb") as file:
                yield file
        else:
            yield opened


def _read_arrow(source: Any) -> pa.Table:
    """An Arrow IPC file, from its path or (counted) opened."""
    # Read into memory the server owns, never mapped: a table over a mapped file changed when the
    # file was rewritten, and killed the server with SIGBUS when it was truncated. A Python file's
    # reads are copies (bytes objects) too.
    if isinstance(source, str):
        with pa.OSFile(source, "rb") as file:
            table = pa.ipc.open_file(file).read_all()
    else:
        table = pa.ipc.open_file(source).read_all()
    # The file is the caller's bytes: a corrupt one must fail here, not in every later query.
    table.validate(full=True)
    return table


# What reading a source holds at its peak, per byte of it (of a Parquet file: per byte once
# uncompressed). Measured on 5 M rows: a CSV file 2.6x (3.5x with keys), Parquet 1.8x (2.3x).
_PEAK_PER_BYTE: dict[type[Source], float] = {CsvSource: 3.5, ParquetSource: 2.5, ArrowFileSource: 2.5}


def memory_needed(source: Source, access: Access) -> int:
    """About how much memory reading ``source`` takes at its peak (checked as a read checks it)."""
    import pyarrow.parquet as pq

    with _as_load_errors(describe(source)), _opened(source.path, access) as opened:
        if isinstance(source, ParquetSource):
            metadata = pq.read_metadata(opened)
            size = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
        elif isinstance(opened, str):
            size = os.stat(opened).st_size
        else:
            size = opened.size()
    return int(size * _PEAK_PER_BYTE[type(source)])


def row_group_sizes(source: ParquetSource, access: Access) -> list[int]:
    """The rows of each row group of a Parquet source (its footer only); ``LoadError`` if unreadable."""
    import pyarrow.parquet as pq

    with _as_load_errors(describe(source)), _opened(source.path, access) as opened:
        metadata = pq.read_metadata(opened)
        return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


def _read_parquet(source: Any, row_groups: Sequence[int] | None = None) -> pa.Table:
    import pyarrow.parquet as pq

    # Strings are stored dictionary-encoded, as Parquet usually holds them: read them so.
    strings = [f.name for f in pq.read_schema(source) if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    if row_groups is None:
        table = pq.read_table(source, read_dictionary=strings)
    else:
        table = pq.ParquetFile(source, read_dictionary=strings).read_row_groups(list(row_groups))
    # Parquet gives each row group its own dictionary; group_by needs one.
    return table.unify_dictionaries()
