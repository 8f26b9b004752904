"""A query's answer: a part per set of levels (the rows, then the totals), the top rows kept, decoded.

Every part has a code column per query level (null where the part rolls the
level up) and a column per measure. ``kept_by_top`` keeps the best rows of the
finest part per member of ``Top.per``, and the total rows above them; the
totals themselves are computed over every row, shown or not.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import Array, Chunked, positions
from tiercube._server.engine.cubes.cells import Cells, LevelSet, code_column, nulls, threaded
from tiercube._server.engine.cubes.evaluate import NO_CONTEXT, Evaluator
from tiercube._server.engine.cubes.model import Cube
from tiercube._server.engine.cubes.scopes import order_key, partitions
from tiercube._server.engine.types import value_type
from tiercube._wire.cubes import CubeQuery, MeasureRef, Top
from tiercube.errors import QueryError


def result_part(evaluator: Evaluator, levels: LevelSet, request: CubeQuery) -> pa.Table:
    """The rows for ``levels``: codes for every query level (null when rolled up), then measures."""
    rows = evaluator.cells.at(levels)
    columns: dict[str, Array | Chunked] = {}
    for level in request.levels:
        columns[code_column(level)] = rows[code_column(level)] if level in levels else nulls(rows.num_rows, pa.int32())
    for name in request.measures:
        columns[name] = evaluator.measure(MeasureRef(name), levels, NO_CONTEXT)
    return pa.Table.from_pydict(columns) if columns else pa.table({"\x1frow": positions(rows.num_rows)})


def check_top(cube: Cube, request: CubeQuery) -> None:
    """``QueryError`` naming what is wrong with the query's ``top``."""
    top = request.top
    assert top is not None
    if top.n < 0:
        raise QueryError(f"Top needs a number of rows of 0 or more, not {top.n}")
    cube.measure(top.measure)
    if not request.levels:
        raise QueryError("Top keeps the best rows by some levels: give the query levels=[...]")
    if top.per is not None and top.per not in request.levels:
        raise QueryError(f"Top(per={top.per!r}) needs {top.per!r} among the query's levels ({', '.join(request.levels)}); add it")
    if top.per is not None and top.per == request.levels[-1] and len(request.levels) == 1:
        raise QueryError(f"Top(per={top.per!r}) ranks the members below it: add a level after {top.per!r}")


def kept_by_top(evaluator: Evaluator, top: Top, sets: list[LevelSet], parts: list[pa.Table]) -> list[pa.Table]:
    """``parts`` with only the ``top.n`` best rows of the finest level set per member of ``top.per``
    (ties: first in level order), and the total rows of the members they show."""
    finest, rows = sets[0], parts[0]
    values = evaluator.measure(MeasureRef(top.measure), finest, NO_CONTEXT)
    table = evaluator.cells.at(finest)
    by = [top.per] if top.per is not None else []
    codes = [table[code_column(level)].to_numpy().astype(np.int64) for level in finest]
    sorted_rows, partition = partitions(table, by, [order_key(values, ascending=False), *codes])
    start = np.searchsorted(partition, partition, side="left")
    number = np.arange(len(sorted_rows)) - start
    keep = np.zeros(len(sorted_rows), dtype=bool)
    keep[sorted_rows[number < top.n]] = True
    kept = rows.filter(pa.array(keep))
    result = [kept]
    for levels, part in zip(sets[1:], parts[1:], strict=True):
        names = [code_column(level) for level in levels]
        if not names:
            result.append(part)
            continue
        shown = kept.select(names).group_by(names, use_threads=threaded(kept)).aggregate([])
        marked = part.append_column("\x1fposition", positions(part.num_rows))
        found = marked.join(shown, keys=names, join_type="left semi", use_threads=threaded(marked))
        found = found.sort_by("\x1fposition").drop_columns(["\x1fposition"])
        result.append(found)
    return result


def finish(table: pa.Table, cells: Cells, request: CubeQuery) -> pa.Table:
    """Sort by the level codes (values order, nulls last), then decode them to values."""
    codes = [code_column(level) for level in request.levels]
    if codes:
        table = table.take(pc.sort_indices(table, sort_keys=[(code, "ascending") for code in codes]))  # pyrefly: ignore[no-matching-overload]
    columns = [
        _decoded(cells, level, table[code].combine_chunks()) for level, code in zip(request.levels, codes, strict=True)
    ]
    columns += [table[name].combine_chunks() for name in request.measures]
    return pa.table(columns, names=[*request.levels, *request.measures])


def _decoded(cells: Cells, level: str, codes: Array) -> Array:
    values = cells.values[level]
    decoded = values.take(codes)
    if pa.types.is_timestamp(values.type):
        return decoded  # as stored: a zoned timestamp keeps its zone
    converted: Array = decoded.cast(value_type(cells.types[level]))
    return converted
