"""Read a CSV file into Arrow: pyarrow's parser, with types that hold for the whole file.

pyarrow infers each column's type over the whole file: a column of integers
with a ``2.5`` at line 200,002 becomes float64, and so it should. But one
``abc`` there turns the whole column into text, silently: ``qty`` becomes a
level and ``qty.SUM`` disappears. So a column read as text whose first block
(about 1 MB, usually thousands of rows) holds another type is refused with a
``LoadError`` naming the column, the line and the value that broke the type,
and the ``data_types=`` that reads it as text. A column that is text from the
start stays text. Finding the line costs a second read of the file, only
when the load fails; checking costs a read of the first block, only when a
column came back as text.

Timestamps without an offset in a column declared with a time zone are read
as local times in that zone (``types.cast_column``). A unit the parser chose
coarser than microseconds (it reads ``10:00:00`` as seconds) becomes
microseconds, so later values with fractions still fit.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv

from tiercube._server.engine import csv_errors
from tiercube._server.engine.types import storage_type
from tiercube._wire.column_types import ColumnType, Timestamp
from tiercube._wire.messages import CsvOptions
from tiercube.errors import LoadError


def read_csv(source: Any, origin: str, options: CsvOptions, data_types: Mapping[str, ColumnType], reopen: csv_errors.Opener) -> pa.Table:
    """``source`` (a path or an open file; ``reopen`` opens it again) parsed as ``options`` say,
    the columns of ``data_types`` as those types; ``LoadError`` names what is wrong, and where."""
    _check_encoding(origin, options)
    if options.column_names is not None and len(set(options.column_names)) != len(options.column_names):
        raise LoadError(f"{origin}: column_names lists a name more than once", path=origin)
    parser = _Parser(options, {name: storage_type(t) for name, t in data_types.items()})
    try:
        try:
            table = parser.read(source)
        except pa.ArrowInvalid as error:
            zoned = {name: t for name, t in data_types.items() if isinstance(t, Timestamp) and t.time_zone is not None}
            if not zoned or "expected a zone offset" not in str(error):
                raise
            # Times without an offset in a zoned column: wall-clock times, which conform() puts in the zone.
            parser = _Parser(options, {**parser.column_types, **{n: pa.timestamp(t.unit) for n, t in zoned.items()}})
            with reopen() as again:
                table = parser.read(again)
        if not _names_usable(table):
            return table  # sources.read refuses it, naming why
        _refuse_undecodable(table, data_types, parser, reopen)
        _refuse_switch_to_text(table, data_types, parser, reopen, options, origin)
    except (AttributeError, TypeError, UnicodeError) as error:  # a Python codec that fails on what it is given
        raise LoadError(f"{origin}: the file cannot be decoded as {options.encoding}: {error}", path=origin) from None
    except pa.ArrowInvalid as error:
        explained = csv_errors.explain(str(error), reopen, options)
        if explained is None:
            raise
        raise LoadError(f"{origin}: {explained.text}", path=origin, line=explained.line, column=explained.column) from None
    return _at_least_microseconds(table, data_types)


def _check_encoding(origin: str, options: CsvOptions) -> None:
    try:
        codec = codecs.lookup(options.encoding)
    except LookupError:
        raise LoadError(f"{origin}: unknown encoding {options.encoding!r}", path=origin) from None
    # rot13 or zlib_codec are codecs too, but not between bytes and text.
    if not getattr(codec, "_is_text_encoding", True):
        raise LoadError(f"{origin}: {options.encoding!r} is not a text encoding (like utf-8 or latin-1)", path=origin)


class _Parser:
    """pyarrow's CSV reader set up as ``options`` say, the columns of ``column_types`` read as those."""

    def __init__(self, options: CsvOptions, column_types: Mapping[str, pa.DataType]) -> None:
        self.column_types = dict(column_types)
        self.read_options = pa_csv.ReadOptions(
            encoding=options.encoding,
            column_names=options.column_names,
            autogenerate_column_names=not options.header and options.column_names is None,
            skip_rows=1 if options.header and options.column_names is not None else 0,
        )
        self.parse_options = pa_csv.ParseOptions(
            delimiter=options.separator,
            quote_char=options.quote_char if options.quote_char is not None else False,
            # Without it, a quoted line break that falls on a block boundary (1 MB) splits a record in
            # two: rows are lost and columns silently become text. Measured: no slower on 3 M rows.
            newlines_in_values=True,
        )
        self._convert: dict[str, Any] = {
            "strings_can_be_null": True,
            # Strings are stored dictionary-encoded: let the parser encode them as it goes.
            "auto_dict_encode": True,
            "auto_dict_max_cardinality": 1 << 30,
        }
        if options.null_values is not None:
            self._convert["null_values"] = options.null_values
        if options.timestamp_formats:
            self._convert["timestamp_parsers"] = options.timestamp_formats

    def convert_options(self, column_types: Mapping[str, pa.DataType] | None = None) -> pa_csv.ConvertOptions:
        types = self.column_types if column_types is None else column_types
        return pa_csv.ConvertOptions(column_types=dict(types), **self._convert)

    def read(self, source: Any, column_types: Mapping[str, pa.DataType] | None = None) -> pa.Table:
        return pa_csv.read_csv(source, self.read_options, self.parse_options, self.convert_options(column_types))

    def first_block(self, source: Any) -> pa.Schema:
        """The types the parser infers from the first block alone."""
        return pa_csv.open_csv(source, self.read_options, self.parse_options, self.convert_options()).schema

    def stream(self, source: Any, column_types: Mapping[str, pa.DataType]) -> None:
        """Parse every block with ``column_types`` (nothing kept): raises at the first value that does not fit."""
        for _ in pa_csv.open_csv(source, self.read_options, self.parse_options, self.convert_options(column_types)):
            pass


def _refuse_switch_to_text(
    table: pa.Table, data_types: Mapping[str, ColumnType], parser: _Parser, reopen: csv_errors.Opener, options: CsvOptions, origin: str
) -> None:
    """``LoadError`` if a column came back as text though its first block holds another type."""
    texts = [name for name in table.column_names if name not in data_types and _text(table.schema.field(name).type)]
    if not texts:
        return
    with reopen() as raw:
        first = parser.first_block(raw)
    broken = {name: first.field(name).type for name in texts if not _text(first.field(name).type) and not pa.types.is_null(first.field(name).type)}
    if not broken:
        return
    # Parse once more, those columns at their first block's type (integers as float64: a 2.5 later
    # is a number still) and every other one as text: the first value that breaks one fails.
    checked: dict[str, pa.DataType] = {name: pa.string() for name in table.column_names}
    checked.update({name: pa.float64() if pa.types.is_integer(kind) else kind for name, kind in broken.items()})
    try:
        with reopen() as raw:
            parser.stream(raw, checked)
    except pa.ArrowInvalid as error:
        explained = csv_errors.explain_switch(str(error), reopen, options, broken)
        if explained is None:
            raise
        raise LoadError(f"{origin}: {explained.text}", path=origin, line=explained.line, column=explained.column) from None


def _refuse_undecodable(table: pa.Table, data_types: Mapping[str, ColumnType], parser: _Parser, reopen: csv_errors.Opener) -> None:
    """A column the parser read as bytes holds text that is not in the file's encoding: parsed
    again as text, it fails where ``csv_errors`` can tell the line."""
    undecodable = [c.name for c in table.schema if c.name not in data_types and _bytes(c.type)]
    if undecodable:
        with reopen() as raw:
            parser.read(raw, {**parser.column_types, **{name: pa.string() for name in undecodable}})


def _names_usable(table: pa.Table) -> bool:
    """Whether the columns have names that tell them apart: valid text, none twice."""
    try:
        names = table.column_names
    except UnicodeDecodeError:
        return False
    return len(set(names)) == len(names)


def _text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)


def _bytes(kind: pa.DataType) -> bool:
    """What the parser makes of text that is not valid in the file's encoding."""
    return pa.types.is_binary(kind.value_type if pa.types.is_dictionary(kind) else kind)


def _at_least_microseconds(table: pa.Table, data_types: Mapping[str, ColumnType]) -> pa.Table:
    """Timestamps and times the parser inferred in seconds or milliseconds, at microseconds."""
    for index, column in enumerate(table.schema):
        kind = column.type
        if column.name in data_types:
            continue
        if pa.types.is_timestamp(kind) and kind.unit in ("s", "ms"):
            wider: pa.DataType = pa.timestamp("us", kind.tz)
        elif pa.types.is_time(kind) and kind.unit in ("s", "ms"):
            wider = pa.time64("us")
        else:
            continue
        table = table.set_column(index, column.name, table.column(index).cast(wider))
    return table

