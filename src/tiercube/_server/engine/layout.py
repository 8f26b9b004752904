"""A table's layout: its name, typed columns, keys and default values, and how rows are made to fit.

A layout is what stays when a table's rows change, and all a cluster worker
needs to conform rows it read to the table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.types import cast_column, infer, null_column, storage_type
from tiercube._server.engine.values import ValueMismatch, exact_decimal, text_value
from tiercube._wire.column_types import ColumnType, canonical, describe_type, type_name
from tiercube._wire.filters import Scalar
from tiercube._wire.messages import Column, CreateTable, Read
from tiercube.errors import InvalidRequestError, LoadError

_NAME = re.compile(r"^[^\x00-\x1f/]{1,200}$")


def check_name(kind: str, name: str) -> str:
    """``name``, if it can name a ``kind`` (table, column, cube...); else ``InvalidRequestError``."""
    # "." and ".." could never be reached: URLs resolve them as path segments.
    if not _NAME.match(name) or name.strip() != name or name in (".", ".."):
        raise InvalidRequestError(f"{name!r} is not a valid {kind} name (1 to 200 printable characters, no '/', not '.' or '..')")
    return name


@dataclass(frozen=True)
class Layout:
    """The columns of table ``name`` and their types (``canonical``), its key columns and default values."""

    name: str
    columns: Mapping[str, ColumnType]
    keys: tuple[str, ...] = ()
    defaults: Mapping[str, Scalar] = field(default_factory=dict[str, Scalar])

    @classmethod
    def created(cls, request: CreateTable) -> Layout:
        """The layout ``create_table`` asks for, checked."""
        check_name("table", request.name)
        columns: dict[str, ColumnType] = {}
        for column in request.columns:
            if column.name in columns:
                raise InvalidRequestError(f"column {column.name!r} is declared twice")
            columns[check_name("column", column.name)] = canonical(column.data_type)
        if not columns:
            raise InvalidRequestError("a table needs at least one column")
        layout = cls(request.name, columns, tuple(request.keys), dict(request.default_values))
        layout._check()
        return layout

    @classmethod
    def read(cls, request: Read, schema: pa.Schema, origin: str) -> Layout:
        """The layout of a table read from a source of ``schema``: types inferred, unless overridden."""
        try:
            columns: dict[str, ColumnType] = {
                n: canonical(request.data_types[n]) if n in request.data_types else infer(schema.field(n).type, n) for n in schema.names
            }
        except LoadError as error:  # name the file, like every other load error
            raise LoadError(f"{origin}: {error}", path=origin, column=error.column) from None
        layout = cls(request.table, columns, tuple(request.keys), dict(request.default_values))
        _check_subset("type override", request.data_types, columns)
        layout._check()
        return layout

    def _check(self) -> None:
        _check_subset("key", self.keys, self.columns)
        _check_subset("default value", self.defaults, self.columns)
        for name, default in self.defaults.items():
            if default is not None:
                _fill(null_column(1, self.columns[name]), default, self.columns[name], name, "default_values")

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([(n, storage_type(t)) for n, t in self.columns.items()])

    def describe(self) -> list[Column]:
        """The columns as they travel: a type with default parameters by its name."""
        return [Column(n, t) for n, t in self.columns.items()]

    def conform(self, incoming: pa.Table, origin: str) -> pa.Table:
        """``incoming`` with exactly this table's columns and storage types, defaults filled in."""
        unknown = [c for c in incoming.column_names if c not in self.columns]
        if unknown:
            raise LoadError(
                f"{origin}: column(s) {', '.join(map(repr, unknown))} are not in table {self.name!r} "
                f"(its columns are {', '.join(self.columns)})",
                path=origin,
                column=unknown[0],
            )
        arrays: list[pa.ChunkedArray[Any]] = []
        for name, data_type in self.columns.items():
            if name in incoming.column_names:
                array = cast_column(incoming[name], data_type, column=name, origin=origin)
            else:
                array = null_column(incoming.num_rows, data_type)
            default = self.defaults.get(name)
            if default is not None and array.null_count:
                array = _fill(array, default, data_type, name, origin)
            arrays.append(array)
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _fill(array: pa.ChunkedArray[Any], default: Scalar, column_type: ColumnType, column: str, origin: str) -> pa.ChunkedArray[Any]:
    if column_type == "string":
        return array.cast(pa.string()).fill_null(pa.scalar(str(default), pa.string())).dictionary_encode()
    try:
        # The stubs type fill_null's value per element type; here it is only known at run time.
        return pc.fill_null(array, cast(Any, _default(default, column_type).cast(array.type)))
    except ValueMismatch as error:
        raise LoadError(
            f"{origin}: default value of column {column!r} ({describe_type(column_type)}) does not fit: {error}; give {error.expected}",
            path=origin,
            column=column,
        ) from None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError) as error:
        raise LoadError(f"{origin}: default value of column {column!r} does not fit: {error}", path=origin, column=column) from None


def _default(value: Scalar, column_type: ColumnType) -> pa.Scalar[Any]:
    """A default value as an Arrow value: text as the column's type reads it, a number as a decimal if the column is one."""
    if isinstance(value, str):
        return text_value(value, column_type)
    if type_name(column_type) == "decimal" and isinstance(value, int | float) and not isinstance(value, bool):
        return pa.scalar(exact_decimal(value))
    number: pa.Scalar[Any] = pa.scalar(cast(Any, value))
    return number


def _check_subset(what: str, names: Iterable[str], columns: Mapping[str, ColumnType]) -> None:
    for name in names:
        if name not in columns:
            raise InvalidRequestError(f"{what} {name!r} is not a column (columns: {', '.join(columns)})")
