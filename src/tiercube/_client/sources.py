"""What a load reads from: local files, cloud objects, and their options.

A cloud object is always an ``S3Location``, never a bare ``str``, so that the
type checker can tell a load any tier may do (cloud) from one that needs the
server to see the caller's files (a local path).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypedDict, TypeVar, get_type_hints, overload

from tiercube._client.wire_form import wire_form
from tiercube._public import public
from tiercube._wire.filters import Scalar
from tiercube._wire.column_types import ColumnType
from tiercube._wire.messages import CloudLocation, CsvOptions, CsvSource, OnDuplicateKeys, ParquetSource

StrPath = str | os.PathLike[str]


@public
@dataclass(frozen=True)
class S3Location:
    """An object in one of the server's cloud stores, read by the server itself.

    The server reads only from stores its operator declared (``cloud_stores``
    in its config): name one with ``store``, or give its exact ``endpoint``
    (``http://127.0.0.1:9000``); without either, the server's only store.
    Credentials, when given, are sent to the server and used for this object
    instead of the store's own.
    """

    uri: str
    store: str | None = None
    endpoint: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.uri.startswith("s3://"):
            raise ValueError(f"an S3 location starts with 's3://', not {self.uri!r}")

    def _to_wire(self) -> CloudLocation:
        return CloudLocation(self.uri, self.store, self.endpoint, self.access_key, self.secret_key)


@public
class LocalFile:
    """Type marker: the source is a path on the caller's file system."""


LocationT = TypeVar("LocationT", S3Location, LocalFile)


def wire_path(path: StrPath | S3Location) -> str | CloudLocation:
    if isinstance(path, S3Location):
        return wire_form(path)
    return str(Path(path).expanduser().resolve())


class ReadOptions(TypedDict, total=False):
    """Options of every ``read_*`` method; every key is optional.

    ``keys`` (one name, or several) give the new table upsert semantics, ``data_types`` override the
    inferred type of some columns (a name, ``"decimal"``, or ``tiercube.Decimal(18, 2)``,
    ``tiercube.Timestamp("us", "Europe/Paris")``...), ``default_values`` replace nulls.
    ``on_duplicate_keys``: a key that comes more than once in the source refuses the read
    (``"error"``, the default: a key that is not one is a mistake in the data, and keeping one
    row of it would change totals without a word) or keeps its last row (``"last"``, for sources
    that are a sequence of changes). ``distributed`` puts the table on the session's Dask
    cluster (default: as the server's ``distribute_over_rows`` rule says).
    """

    keys: str | tuple[str, ...] | list[str]
    data_types: Mapping[str, ColumnType]
    default_values: dict[str, Scalar]
    on_duplicate_keys: OnDuplicateKeys
    distributed: bool


class CsvReadOptions(ReadOptions, total=False):
    """Options of ``read_csv``: those of every read plus how to parse the text.

    Quoted values may hold separators, quotes (doubled) and line breaks. An
    empty field reads as null, and so do the markers ``NA``, ``N/A``,
    ``null``, ``NULL``, ``NaN``, ``nan``, ``#N/A`` (and a few more, as in
    pyarrow) unless ``null_values`` lists others. A UTF-8 byte order mark is
    skipped; blank lines between records are ignored.
    """

    separator: str
    header: bool
    column_names: list[str]
    quote_char: str | None
    encoding: str
    null_values: list[str]
    timestamp_formats: list[str]


@public
class CsvLoad(Generic[LocationT]):
    """A CSV file to load into an existing table with ``table.load(CsvLoad(...))``.

    ``CsvLoad("data.csv")`` is a ``CsvLoad[LocalFile]``, which only sessions
    sharing the server's file system may load; ``CsvLoad(S3Location(...))``
    is a ``CsvLoad[S3Location]``, which any editing session may load.
    """

    @overload
    def __init__(
        self: CsvLoad[S3Location], path: S3Location, *, separator: str = ..., header: bool = ...,
        column_names: list[str] | None = ..., quote_char: str | None = ..., encoding: str = ...,
        null_values: list[str] | None = ..., timestamp_formats: list[str] = ...,
    ) -> None: ...
    @overload
    def __init__(
        self: CsvLoad[LocalFile], path: StrPath, *, separator: str = ..., header: bool = ...,
        column_names: list[str] | None = ..., quote_char: str | None = ..., encoding: str = ...,
        null_values: list[str] | None = ..., timestamp_formats: list[str] = ...,
    ) -> None: ...
    def __init__(
        self, path: StrPath | S3Location, *, separator: str = ",", header: bool = True,
        column_names: list[str] | None = None, quote_char: str | None = '"', encoding: str = "utf-8",
        null_values: list[str] | None = None, timestamp_formats: list[str] = [],  # noqa: B006 (never mutated)
    ) -> None:
        self.path = path
        self._options = CsvOptions(separator, header, column_names, quote_char, encoding, null_values, list(timestamp_formats))

    def _to_wire(self) -> CsvSource:
        return CsvSource(wire_path(self.path), self._options)

    def __repr__(self) -> str:
        return f"CsvLoad({self.path!r})"


@public
class ParquetLoad(Generic[LocationT]):
    """A Parquet file to load into an existing table; typed like ``CsvLoad``."""

    @overload
    def __init__(self: ParquetLoad[S3Location], path: S3Location) -> None: ...
    @overload
    def __init__(self: ParquetLoad[LocalFile], path: StrPath) -> None: ...
    def __init__(self, path: StrPath | S3Location) -> None:
        self.path = path

    def _to_wire(self) -> ParquetSource:
        return ParquetSource(wire_path(self.path))

    def __repr__(self) -> str:
        return f"ParquetLoad({self.path!r})"


OptionsT = TypeVar("OptionsT", ReadOptions, CsvReadOptions)


def checked(function: str, options: OptionsT, allowed: type[OptionsT]) -> OptionsT:
    """``options`` if ``allowed`` knows every name; a misspelt one must not be silently ignored.

    ``read_csv(path, key=["id"])`` would load without keys and later append
    duplicates: it raises ``TypeError`` naming ``keys`` instead.
    """
    known = sorted(get_type_hints(allowed))
    for name, value in options.items():
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"its options are {', '.join(known)}"
            raise TypeError(f"{function}() got an unexpected keyword argument {name!r}; {hint}")
        if name == "keys" and isinstance(value, str):
            options["keys"] = [value]  # one key, by name
    return options


def csv_source(path: StrPath | S3Location, options: CsvReadOptions) -> CsvSource:
    """The wire source for ``read_csv(path, **options)``."""
    csv = CsvOptions(
        separator=options.get("separator", ","),
        header=options.get("header", True),
        column_names=options.get("column_names"),
        quote_char=options.get("quote_char", '"'),
        encoding=options.get("encoding", "utf-8"),
        null_values=options.get("null_values"),
        timestamp_formats=list(options.get("timestamp_formats", [])),
    )
    return CsvSource(wire_path(path), csv)


def default_table_name(path: StrPath | S3Location) -> str:
    raw = path.uri if isinstance(path, S3Location) else os.fspath(path)
    return Path(raw.rstrip("/")).name.split(".")[0]
