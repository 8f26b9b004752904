"""Calculated columns: row-level expressions checked against column types and compiled to Arrow, once.

``compile_row`` checks a ``RowExpr`` against the types of the columns it reads
(an unknown column, a wrong type, a function given the wrong arguments raise
``InvalidRequestError`` naming the fix), once, when the measure or level is set.
``column_values`` computes it over whole columns by calling the same compute
kernels on the arrays directly (an Arrow expression evaluated by Acero takes
twice as long: ``qty * price`` of ten million rows, 65 ms against 27), and on a
dictionary column's dictionary, or on the distinct values of a date column, when
it reads only that column, so ``month`` of ten million dates computes 1,095
months and spreads them.

Calendar parts and truncations are computed in the column's own time zone when
it has one (Arrow's temporal kernels read a zoned timestamp's local time);
truncating to an hour or a minute subtracts the local time past the hour from the
instant, which stays right across a daylight-saving change (2:30 on the night the
clocks go back is two instants, each floored to its own 2:00).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, cast

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import Array, Chunked, evaluate
from tiercube._server.engine.filters import bind
from tiercube._server.engine.types import value_type
from tiercube._wire.calculated import Call, Cast, Field, FilterValue, RowExpr, RowLiteral, fields
from tiercube._wire.filters import And, Compare, Filter, IsIn, IsNull, Not, Or
from tiercube._wire.column_types import ColumnType, DataType, describe_type, type_name
from tiercube.errors import InvalidRequestError

NUMERIC: frozenset[DataType] = frozenset({"int32", "int64", "float32", "float64", "decimal"})
_INTEGER: frozenset[DataType] = frozenset({"int32", "int64"})
_TEMPORAL: frozenset[DataType] = frozenset({"date", "timestamp"})
_UNITS = ("year", "quarter", "month", "week", "day", "hour", "minute")
_SUB_DAY = ("hour", "minute")
_PARTS: dict[str, Callable[..., Any]] = {
    "year": pc.year,
    "quarter": pc.quarter,
    "month": pc.month,
    "week": pc.iso_week,
    "day": pc.day,
    "day_of_year": pc.day_of_year,
    "hour": pc.hour,
    "minute": pc.minute,
    "second": pc.second,
}
_COMPARISONS: dict[str, Callable[..., Any]] = {
    "equal": pc.equal, "not_equal": pc.not_equal, "less": pc.less,
    "less_equal": pc.less_equal, "greater": pc.greater, "greater_equal": pc.greater_equal,
}
_BOOL: frozenset[DataType] = frozenset({"bool"})
_TIMESTAMP: frozenset[DataType] = frozenset({"timestamp"})
_STRING: frozenset[DataType] = frozenset({"string"})
# The compute functions build expressions too, which the stubs type for some only: here they are untyped.
_KERNELS: Any = pc
_COALESCE: Callable[..., Any] = pc.coalesce
_FLOOR: Callable[..., Any] = pc.floor_temporal
_CHECKED: dict[str, Callable[..., Any]] = {"add": pc.add_checked, "subtract": pc.subtract_checked, "multiply": pc.multiply_checked}
Built: TypeAlias = Any
"""What the compiler builds: an Arrow expression, or the values themselves (arrays or a scalar)."""
Typed: TypeAlias = ColumnType | Literal["null"]
"""A compiled expression's type; "null" for a literal None, which takes the type of what it meets."""


@dataclass(frozen=True)
class Compiled:
    """A calculated column, checked and compiled: an expression over columns of one table.

    ``key`` names it wherever it becomes a column of its own (a grouping's input or key):
    equal definitions get equal keys, so groupings that need the same one share it.
    """

    # The expression with every column's table filled in; computed again over arrays (``column_values``).
    source: RowExpr = field(compare=False, hash=False)
    data_type: ColumnType
    table: str
    columns: tuple[str, ...]
    key: str
    # The types of ``columns``, in their order.
    types: tuple[ColumnType, ...] = ()

    @property
    def few_valued(self) -> bool:
        """Whether it reads only text, dates and booleans: columns with few distinct values, as a rule,
        so that computing it per distinct value (after grouping by them) beats computing it per row."""
        return all(t in ("string", "date", "bool") for t in self.types)


def calculated_key(expression: RowExpr) -> str:
    """A column name for ``expression`` that no stored column can have (control characters)."""
    return "\x1fcalc\x1f" + hashlib.sha256(msgspec.json.encode(expression)).hexdigest()[:20]


Resolve = Callable[[str, "str | None"], tuple[str, str, ColumnType]]
"""(column, table or None) -> (table, column, type): how a cube finds a column; raises when it cannot."""


def compile_row(expression: RowExpr, resolve: Resolve, where: str) -> Compiled:
    """Check ``expression`` against the columns ``resolve`` finds and compile it; mistakes raise
    ``InvalidRequestError`` starting with ``where`` (the measure or level being set)."""
    compiler = _Compiler(resolve, where)
    _, data_type = compiler.compile(expression)
    if compiler.table is None:
        raise InvalidRequestError(f"{where}: a calculated column must read at least one column, as in t['qty'] * 2")
    if data_type == "null":
        raise InvalidRequestError(f"{where}: the calculated column is null in every row; give its values a type with .cast(...)")
    source = compiler.resolved(expression)
    return Compiled(source, data_type, compiler.table, tuple(compiler.columns), calculated_key(source), tuple(compiler.columns.values()))


class _Compiler:
    """Checks an expression and builds it: as an Arrow expression, or computed over ``arrays`` (by column name).

    Arrow's compute functions take arrays and expressions alike, so one walk does both.
    """

    def __init__(self, resolve: Resolve, where: str, arrays: Mapping[str, Array | Chunked] | None = None) -> None:
        self.resolve = resolve
        self.where = where
        self.arrays = arrays
        self.table: str | None = None
        self.columns: dict[str, ColumnType] = {}

    def constant(self, scalar: pa.Scalar[Any]) -> Any:
        return scalar if self.arrays is not None else pc.scalar(cast(Any, scalar))

    def resolved(self, node: RowExpr) -> RowExpr:
        """``node`` with the table of every column it reads filled in: what names it (``calculated_key``)."""
        match node:
            case Field(column, _):
                return Field(column, self.table)
            case Call(function, arguments):
                return Call(function, [self.resolved(a) for a in arguments])
            case Cast(operand, data_type):
                return Cast(self.resolved(operand), data_type)
            case FilterValue(condition):
                return FilterValue(_with_table(condition, self.table))
            case RowLiteral():
                return node

    def fail(self, message: str) -> InvalidRequestError:
        return InvalidRequestError(f"{self.where}: {message}")

    def compile(self, node: RowExpr) -> tuple[Built, Typed]:
        match node:
            case Field(column, table):
                return self.field(column, table)
            case RowLiteral(value, data_type):
                return self.constant(_literal(value, data_type)), _literal_type(value, data_type)
            case Cast(operand, data_type):
                inner, _ = self.compile(operand)
                if data_type == "string":  # numbers and dates to text; stored text is read as plain text already
                    return inner.cast(pa.string()), data_type
                return inner.cast(value_type(data_type)), data_type
            case FilterValue(condition):
                read = fields(node)
                for found in read:
                    self.field(found.column, found.table)
                try:
                    bound = bind(condition, {f.column: self.columns[f.column] for f in read}, table=self.table)
                except InvalidRequestError as error:
                    raise self.fail(str(error)) from None
                if self.arrays is None:
                    return bound.expression, "bool"
                names = list(dict.fromkeys(f.column for f in read))
                return evaluate(pa.Table.from_arrays([self.arrays[n] for n in names], names=names), bound.expression), "bool"
            case Call(function, arguments):
                return self.call(function, arguments)

    def field(self, column: str, table: str | None) -> tuple[Built, ColumnType]:
        found_table, found_column, data_type = self.resolve(column, table)
        if self.table is None:
            self.table = found_table
        elif found_table != self.table:
            raise self.fail(
                f"a calculated column reads the columns of one table, but {found_column!r} is in {found_table!r} "
                f"and the others in {self.table!r}; calculate over one table's columns"
            )
        self.columns[found_column] = data_type
        reference: Any = self.arrays[found_column] if self.arrays is not None else pc.field(found_column)
        # Text kernels have no dictionary variants: strings are read as plain text.
        return (reference.cast(pa.string()) if data_type == "string" else reference), data_type

    def call(self, function: str, arguments: list[RowExpr]) -> tuple[Built, Typed]:
        literal_arguments = [a.value for a in arguments[1:] if isinstance(a, RowLiteral)]
        compiled: list[tuple[Built, Typed]] = [self.compile(a) for a in arguments]
        types: list[Typed] = [t for _, t in compiled]
        values = [e for e, _ in compiled]
        self._arity(function, len(arguments))
        if function in _CHECKED or function == "divide":
            self._require(function, types, NUMERIC, "numbers")
            if function == "divide":
                numerator, denominator = (_widened(v, t, "float64") for v, t in zip(values, types, strict=True))
                zero = pc.equal(denominator, pa.scalar(0.0))
                return pc.if_else(zero, pa.scalar(None, pa.float64()), pc.divide(numerator, denominator)), "float64"
            result_type = _promoted(types)
            left, right = (_widened(v, t, result_type) for v, t in zip(values, types, strict=True))
            return _CHECKED[function](left, right), result_type
        if function in ("negate", "abs"):
            self._require(function, types, NUMERIC, "a number")
            kernel: Callable[..., Any] = pc.negate_checked if function == "negate" else pc.abs_checked
            return kernel(values[0]), types[0]
        if function == "round":
            self._require(function, types[:1], NUMERIC, "a number")
            digits = self._literal_int(function, literal_arguments)
            # Halves away from zero, as SQL's round (Arrow's default rounds them to even).
            return _KERNELS.round(values[0].cast(pa.float64()), ndigits=digits, round_mode="half_towards_infinity"), "float64"
        if function in _COMPARISONS:
            left, right = self._comparable(function, arguments, compiled)
            return _COMPARISONS[function](left, right), "bool"
        if function in ("and", "or", "not"):
            self._require(function, types, _BOOL, "conditions (bool)")
            if function == "not":
                return pc.invert(values[0]), "bool"
            return _KERNELS.and_kleene(values[0], values[1]) if function == "and" else _KERNELS.or_kleene(values[0], values[1]), "bool"
        if function == "is_null":
            return pc.is_null(values[0]), "bool"
        if function == "if_else":
            self._require(function, types[:1], _BOOL, "a condition (bool) first")
            (then, otherwise), data_type = self._common(function, arguments[1:], compiled[1:])
            # A condition that is null does not hold (SQL's CASE WHEN): the row takes ``otherwise``.
            return _KERNELS.if_else(_COALESCE(values[0], self.constant(pa.scalar(False))), then, otherwise), data_type
        if function == "fill_null":
            (value, replacement), data_type = self._common(function, arguments, compiled)
            return _COALESCE(value, replacement), data_type
        if function in _PARTS or function == "day_of_week":
            allowed = _TIMESTAMP if function in ("hour", "minute", "second") else _TEMPORAL
            self._require(function, types, allowed, "a timestamp" if len(allowed) == 1 else "a date or a timestamp")
            if function == "day_of_week":  # ISO: Monday is 1, Sunday 7 (duckdb's isodow)
                return pc.day_of_week(values[0], count_from_zero=False, week_start=1), "int64"
            return _PARTS[function](values[0]), "int64"
        if function == "date_trunc":
            self._require(function, types[:1], _TEMPORAL, "a date or a timestamp")
            unit = literal_arguments[0] if literal_arguments else None
            if unit not in _UNITS or (_name(types[0]) == "date" and unit in _SUB_DAY):
                units = _UNITS if _name(types[0]) == "timestamp" else _UNITS[:5]
                raise self.fail(f"date_trunc of a {_described(types[0])} takes one of {', '.join(units)}, not {unit!r}")
            return truncated(values[0], str(unit)), types[0]
        return self._text(function, values, types, literal_arguments)

    def _text(self, function: str, values: list[Built], types: list[Typed], literals: list[Any]) -> tuple[Built, Typed]:
        if function == "concat":
            self._require(function, types, _STRING, "text")
            return _KERNELS.binary_join_element_wise(*values, self.constant(pa.scalar(""))), "string"
        self._require(function, types[:1], _STRING, "text")
        match function:
            case "upper":
                return _KERNELS.utf8_upper(values[0]), "string"
            case "lower":
                return _KERNELS.utf8_lower(values[0]), "string"
            case "length":
                return pc.utf8_length(values[0]).cast(pa.int64()), "int64"
            case "substring":
                if len(literals) != 2 or not all(isinstance(n, int) and not isinstance(n, bool) for n in literals):
                    raise self.fail("substring takes a start and a stop, both whole numbers, as Python's s[start:stop]")
                return pc.utf8_slice_codeunits(values[0], start=literals[0], stop=literals[1]), "string"
            case _:
                pattern = literals[0] if literals else None
                if not isinstance(pattern, str):
                    raise self.fail(f"{function} takes the text to look for, as in t['name'].{function}('abc')")
                kernel = {"starts_with": "starts_with", "ends_with": "ends_with", "contains": "match_substring"}[function]
                return getattr(_KERNELS, kernel)(values[0], pattern=pattern), "bool"

    def _arity(self, function: str, count: int) -> None:
        expected = {"add": 2, "subtract": 2, "multiply": 2, "divide": 2, "and": 2, "or": 2, "if_else": 3, "fill_null": 2,
                    "round": 2, "date_trunc": 2, "substring": 3, "starts_with": 2, "ends_with": 2, "contains": 2,
                    **{c: 2 for c in _COMPARISONS}}.get(function, 1)
        if function == "concat":
            if count < 2:
                raise self.fail("concat takes two texts or more")
        elif count != expected:
            raise self.fail(f"{function} takes {expected} argument(s), not {count}")

    def _require(self, function: str, types: list[Typed], allowed: frozenset[DataType], what: str) -> None:
        for data_type in types:
            if _name(data_type) not in allowed and data_type != "null":
                raise self.fail(f"{function} needs {what}, not {_described(data_type)}; convert with .cast(...) first")

    def _literal_int(self, function: str, literals: list[Any]) -> int:
        if len(literals) != 1 or not isinstance(literals[0], int) or isinstance(literals[0], bool):
            raise self.fail(f"{function} takes a whole number of digits, as in t['price'].round(2)")
        return int(literals[0])

    def _comparable(self, function: str, arguments: list[RowExpr], compiled: list[tuple[Built, Typed]]) -> tuple[Built, Built]:
        (left, right), _ = self._common(function, arguments, compiled)
        return left, right

    def _common(self, function: str, arguments: list[RowExpr], compiled: list[tuple[Built, Typed]]) -> tuple[tuple[Built, Built], Typed]:
        """Both operands in one type: numbers promoted, a literal cast to the other side's type."""
        (left, left_type), (right, right_type) = compiled
        if left_type == right_type or right_type == "null":
            return (left, right.cast(value_type(left_type)) if left_type != "null" else right), left_type
        if left_type == "null":
            return (left.cast(value_type(right_type)), right), right_type
        if _name(left_type) in NUMERIC and _name(right_type) in NUMERIC:
            common = _promoted([left_type, right_type])
            return (_widened(left, left_type, common), _widened(right, right_type, common)), common
        sides: tuple[tuple[RowExpr, Typed, int], ...] = ((arguments[0], right_type, 0), (arguments[1], left_type, 1))
        for literal, other_type, index in sides:
            if isinstance(literal, RowLiteral) and _fits(literal.value, other_type):
                converted = self.constant(_literal(literal.value, other_type))
                return ((converted, right) if index == 0 else (left, converted)), other_type
        raise self.fail(f"{function} cannot combine a {_described(left_type)} with a {_described(right_type)}; convert one with .cast(...)")


def _name(data_type: Typed) -> str:
    """The name of a type's kind (``Timestamp("ns", "UTC")`` is a ``"timestamp"``): what functions accept."""
    return "null" if data_type == "null" else type_name(data_type)


def _described(data_type: Typed) -> str:
    return "null" if data_type == "null" else describe_type(data_type)


def _widened(value: Built, data_type: Typed, common: DataType) -> Built:
    """A number as the wider type ``common``: as it is when it is one already; else cast without
    Arrow's check that every integer fits a float exactly (SQL does not check either), which takes
    eight times as long as the cast itself (71 ms against 8.5 for three million values)."""
    return value if data_type == common else value.cast(value_type(common), safe=False)


def _promoted(types: list[Typed]) -> DataType:
    return "int64" if all(_name(t) in _INTEGER for t in types) else "float64"


def _literal_type(value: object, data_type: DataType | None) -> Typed:
    if data_type is not None:
        return data_type
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "null"  # takes the type of what it is combined with


def _fits(value: object, data_type: Typed) -> bool:
    if isinstance(value, bool):
        return data_type == "bool"
    if isinstance(value, int | float):
        return _name(data_type) in NUMERIC
    return isinstance(value, str) and _name(data_type) in ("string", "date", "timestamp", "time")


def _literal(value: object, data_type: Typed | None) -> pa.Scalar[Any]:
    if value is None:
        empty: pa.Scalar[Any] = pa.scalar(None, value_type(data_type) if data_type is not None and data_type != "null" else pa.null())
        return empty
    scalar: Any = pa.scalar(cast(Any, value))
    if data_type is not None and data_type != "null":
        try:
            scalar = scalar.cast(value_type(data_type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise InvalidRequestError(f"{value!r} is not a {data_type}") from None
    converted: pa.Scalar[Any] = scalar
    return converted


def _with_table(condition: Filter, table: str | None) -> Filter:
    match condition:
        case Compare() | IsIn() | IsNull():
            return msgspec.structs.replace(condition, table=table)
        case And(operands):
            return And([_with_table(o, table) for o in operands])
        case Or(operands):
            return Or([_with_table(o, table) for o in operands])
        case Not(operand):
            return Not(_with_table(operand, table))


def truncated(value: Any, unit: str) -> Any:
    """``value`` (dates or timestamps, or an expression of them) truncated to the start of its ``unit``,
    in its own time zone."""
    if unit in _SUB_DAY:
        local = _KERNELS.local_timestamp(value)
        past = _KERNELS.subtract(local, _FLOOR(local, unit=unit))
        return _KERNELS.subtract(value, past)
    return _FLOOR(value, unit=unit, week_starts_monday=True)


def column_values(data: pa.Table, compiled: Compiled, names: Mapping[str, str] | None = None) -> Array:
    """``compiled`` computed for every row of ``data``, whose columns are ``compiled``'s own or
    named by ``names`` (the table's column -> ``data``'s)."""
    names = names or {}
    sources = {column: data[names.get(column, column)] for column in compiled.columns}
    if len(sources) == 1:
        ((column, values),) = sources.items()
        spread = _per_distinct_value(compiled, column, values)
        if spread is not None:
            return spread
    return _computed(compiled, sources, data.num_rows)


def expression_of(compiled: Compiled) -> pc.Expression:
    """``compiled`` as an Arrow expression over its columns by name: for a plan that evaluates it
    fused with what reads it (``grouping.group_facts``), batch by batch on every core, never
    holding the whole column."""
    types = dict(zip(compiled.columns, compiled.types, strict=True))
    compiler = _Compiler(lambda column, _: (compiled.table, column, types[column]), "a calculated column")
    built, _ = compiler.compile(compiled.source)
    expression: pc.Expression = built if isinstance(built, pc.Expression) else pc.scalar(built)
    return expression


def _computed(compiled: Compiled, arrays: Mapping[str, Array | Chunked], size: int) -> Array:
    """``compiled`` over ``arrays`` (by column name), each of ``size`` values, by the kernels themselves."""
    types = dict(zip(compiled.columns, compiled.types, strict=True))
    compiler = _Compiler(lambda column, _: (compiled.table, column, types[column]), "a calculated column", arrays)
    result, _ = compiler.compile(compiled.source)
    if isinstance(result, pa.Scalar):
        repeated: Array = pa.repeat(cast(Any, result), size)
        return repeated
    if isinstance(result, pa.ChunkedArray):
        combined: Array = result.combine_chunks()
        return combined
    computed: Array = result
    return computed


def _per_distinct_value(compiled: Compiled, column: str, values: Chunked) -> Array | None:
    """Computed once per dictionary value, or per distinct date: None when neither applies."""
    combined = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if isinstance(combined, pa.DictionaryArray):
        dictionary = combined.dictionary
        per_value = _computed(compiled, {column: dictionary}, len(dictionary))
        on_null = _computed(compiled, {column: pa.nulls(1, dictionary.type)}, 1)
        spread: Array = per_value.take(combined.indices)
        if combined.null_count:
            spread = pc.if_else(pc.is_null(combined.indices), on_null[0], spread)
        return spread
    if pa.types.is_date(combined.type) and len(combined) > 4096:
        distinct = pc.unique(combined)
        per_value = _computed(compiled, {column: distinct}, len(distinct))
        found: Array = per_value.take(pc.index_in(combined, value_set=distinct))
        return found
    return None
