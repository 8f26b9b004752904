"""Say where a CSV file is wrong: the column's name and the line, which pyarrow does not tell.

pyarrow reports ``In CSV column #4: CSV conversion error to int64: invalid
value 'abc'`` (a zero-based index, no row) and ``Expected 3 columns, got 2``.
Only when a load fails, the file is read once more with Python's ``csv``
module, with the same dialect, to find the first record the message is about;
a record may span several lines (quoted line breaks), so the line reported is
the one the record starts on.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO

import pyarrow as pa

from tiercube._wire.messages import CsvOptions

Opener = Callable[[], AbstractContextManager[IO[bytes]]]

_CONVERSION = re.compile(r"In CSV column #(\d+): CSV conversion error to ([^:]+): invalid value '(.*)'", re.DOTALL)
_TEXT = re.compile(r"In CSV column #(\d+): CSV conversion error to string: invalid UTF8 data")
# Arrow's names for the types a column can be read as, in tiercube's words.
_TYPES = {"double": "float64", "float": "float32", "date32[day]": "date", "timestamp[s]": "timestamp", "timestamp[us]": "timestamp"}
_WIDTH = re.compile(r"Expected (\d+) columns, got (\d+)")
_ORDINALS = {1: "st", 2: "nd", 3: "rd"}


@dataclass(frozen=True)
class Explained:
    """What a failure is about, said better: the text, and the line and column it names (None: not known)."""

    text: str
    line: int | None
    column: str | None


def explain(message: str, opener: Opener, options: CsvOptions) -> Explained | None:
    """A better message for pyarrow's ``message``, or None when it is not about one record."""
    conversion = _CONVERSION.search(message)
    if conversion is not None:
        index, arrow_type, value = int(conversion[1]), conversion[2], conversion[3]
        header, found = _find(opener, options, lambda record: index < len(record) and record[index] == value)
        name = _name(header, options, index)
        return Explained(
            f"column {name!r} (the {_ordinal(index + 1)}), {_line(found)}: {value!r} is not a valid "
            f"{_TYPES.get(arrow_type, arrow_type)}; fix the value, or read the column as text with data_types={{{name!r}: 'string'}}",
            found,
            name,
        )
    text = _TEXT.search(message)
    if text is not None:
        index = int(text[1])
        header, found = _find(opener, options, lambda record: index < len(record) and _undecodable(record[index]))
        name = _name(header, options, index)
        return Explained(
            f"column {name!r} (the {_ordinal(index + 1)}), {_line(found)}: not valid {options.encoding} text; "
            "give the file's encoding, e.g. encoding='latin-1'",
            found,
            name,
        )
    width = _WIDTH.search(message)
    if width is not None:
        expected = int(width[1])
        _, found = _find(opener, options, lambda record: len(record) != expected and record != [])
        return Explained(f"{_line(found)} has {width[2]} values, but the file has {expected} columns", found, None)
    return None


def explain_switch(message: str, opener: Opener, options: CsvOptions, first_types: Mapping[str, pa.DataType]) -> Explained | None:
    """``message`` (a conversion error of a column whose first block holds ``first_types[column]``)
    said as the value that broke the column's type; None when it is not about such a value."""
    conversion = _CONVERSION.search(message)
    if conversion is None:
        return None
    index, value = int(conversion[1]), conversion[3]
    header, found = _find(opener, options, lambda record: index < len(record) and record[index] == value)
    name = _name(header, options, index)
    kind = first_types.get(name)
    what = "a number" if kind is None or pa.types.is_integer(kind) or pa.types.is_floating(kind) else f"a valid {_TYPES.get(str(kind), str(kind))}"
    return Explained(
        f"column {name!r} (the {_ordinal(index + 1)}), {_line(found)}: {value!r} is not {what}, though the column's values "
        f"before it are, so the column would be read as text. Fix the value, or read the column as text with "
        f"data_types={{{name!r}: 'string'}}",
        found,
        name,
    )


def record_lines(opener: Opener, options: CsvOptions, rows: list[int]) -> list[int] | None:
    """The line on which each of ``rows`` (data records, from 0, as the parser counts them: no header,
    no blank line) starts; None if the file has fewer records than that."""
    wanted = set(rows)
    lines: dict[int, int] = {}
    with opener() as raw:
        text = io.TextIOWrapper(raw, encoding=options.encoding, errors="surrogateescape", newline="")
        records = (found for found in _records(text, options) if found[1] != [])
        if options.header:
            next(records, None)
        for row, (line, _) in enumerate(records):
            if row in wanted:
                lines[row] = line
                if len(lines) == len(wanted):
                    break
    return [lines[row] for row in rows] if len(lines) == len(wanted) else None


def _line(number: int | None) -> str:
    return f"line {number}" if number is not None else "a line"


def _undecodable(field: str) -> bool:
    """Whether ``field`` holds bytes the encoding could not decode (kept as surrogates)."""
    return any("\udc80" <= character <= "\udcff" for character in field)


def _find(opener: Opener, options: CsvOptions, wrong: Callable[[list[str]], bool]) -> tuple[list[str] | None, int | None]:
    """The header (if the file has one) and the line on which the first ``wrong`` record starts."""
    with opener() as raw:
        text = io.TextIOWrapper(raw, encoding=options.encoding, errors="surrogateescape", newline="")
        records = _records(text, options)
        header = next(records, (0, []))[1] if options.header else None
        for line, record in records:
            if wrong(record):
                return header, line
    return header, None


def _records(text: IO[str], options: CsvOptions) -> Iterator[tuple[int, list[str]]]:
    if options.quote_char is None:
        reader = csv.reader(text, delimiter=options.separator, quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(text, delimiter=options.separator, quotechar=options.quote_char)
    ended = 0
    for record in reader:
        yield ended + 1, [field.lstrip("\ufeff") for field in record]
        ended = reader.line_num


def _name(header: list[str] | None, options: CsvOptions, index: int) -> str:
    if options.column_names is not None and index < len(options.column_names):
        return options.column_names[index]
    if header is not None and index < len(header):
        return header[index]
    return f"f{index}"  # pyarrow's own name for columns of a file without a header


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else _ORDINALS.get(number % 10, "th")
    return f"{number}{suffix}"
