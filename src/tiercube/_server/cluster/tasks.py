"""What a worker does with the partition it holds: the session server's engine code, on fewer rows.

Each function takes a partition (a ``pa.Table`` of the table's columns and
``SEQUENCE``, every row's arrival number) and plain, picklable arguments,
so that Dask can ship the call to the worker that holds the data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.cluster.hashing import partition_numbers, ranges, split
from tiercube._server.engine.arrays import aligned, dictionaries_differ
from tiercube._server.engine.duplicates import FirstRepeat, repeats_within
from tiercube._server.engine.filters import BoundFilter
from tiercube._server.engine.grouping import FactGrouping, RowMask, group_visible
from tiercube._server.engine.key_index import index_hashes, latest_of_each_key
from tiercube._server.engine.layout import Layout
from tiercube._server.engine.rows import first_rows, merge_rows
from tiercube._server.engine.visibility import RowPlan

SEQUENCE = "\x1fsequence"


def merged(old: pa.Table, keys: Sequence[str], *incoming: pa.Table) -> pa.Table:
    """``incoming`` (pieces in arrival order) added to ``old``; a row whose key exists replaces the old one.

    Rows are placed by key, so every row with a key lives on the worker that runs this.
    """
    pieces = [piece for piece in incoming if piece.num_rows]
    if not pieces:
        return old
    data, _, _ = merge_rows(old, aligned(pa.concat_tables(pieces)), keys)
    # Pieces from several readers have dictionaries of their own: unified once here, not by every query.
    return data.unify_dictionaries() if dictionaries_differ(data) else data


def repeated(keys: Sequence[str], *incoming: pa.Table) -> tuple[int, FirstRepeat | None]:
    """How many rows of a load coming to this partition (pieces in arrival order) a later one with
    the same key replaces, and the first key that repeats, its rows given by arrival number.

    Rows are placed by key, so every row of a key in the load comes here.
    """
    pieces = [piece for piece in incoming if piece.num_rows]
    if not keys or not pieces:
        return 0, None
    data = pa.concat_tables(pieces)
    kept, _ = latest_of_each_key(data, keys, index_hashes(data, keys))
    repeats = repeats_within(data, keys, kept.num_rows)
    if repeats is None:
        return 0, None
    first = repeats.first()
    arrivals: list[int] = data[SEQUENCE].take(first.rows).to_numpy().tolist()
    return repeats.count, FirstRepeat(first.key, arrivals)


def numbered(data: pa.Table, start: int) -> pa.Table:
    """``data`` with its rows' arrival numbers, from ``start``."""
    return data.append_column(SEQUENCE, pa.array(np.arange(start, start + data.num_rows, dtype=np.int64)))


def placed(data: pa.Table, keys: Sequence[str], partitions: int, home: int | None) -> list[pa.Table]:
    """``data`` cut into one piece per partition: by a hash of ``keys``; without keys, all of it
    stays ``home`` (where it was read), or, with no home, it is cut in equal slices."""
    if keys:
        return split(data, partition_numbers(data, keys, partitions), partitions)
    if home is None:
        return ranges(data, partitions)
    return [data if i == home else data.slice(0, 0) for i in range(partitions)]


def described(data: pa.Table) -> tuple[int, pa.Schema]:
    return data.num_rows, data.schema


def conformed(
    data: pa.Table, layout: Layout, origin: str, start: int, partitions: int, home: int | None
) -> list[pa.Table]:
    """Rows a worker read, in the table's columns and types, numbered and cut by partition."""
    return placed(numbered(layout.conform(data, origin), start), layout.keys, partitions, home)


def piece(pieces: list[pa.Table], number: int) -> pa.Table:
    return pieces[number]


def size(data: pa.Table) -> tuple[int, int]:
    return data.num_rows, data.nbytes


def dropped(data: pa.Table, condition: BoundFilter) -> pa.Table:
    """``data`` without the rows that match ``condition`` (a row whose condition is null stays)."""
    matches = condition.expression
    return data.filter(~matches | matches.is_null())


def grouped(data: pa.Table, grouping: FactGrouping, plan: RowPlan | None, narrow: RowMask | None) -> pa.Table:
    """The partition's rows (those ``plan`` lets the caller see and ``narrow`` keeps) grouped as the query needs."""
    if dictionaries_differ(data):
        data = data.unify_dictionaries()
    return group_visible(data, grouping, plan, narrow)


def selected(data: pa.Table, condition: BoundFilter | None, plan: RowPlan | None, limit: int | None, wanted: list[str]) -> pa.Table:
    """The first ``limit`` rows (in arrival order) that match ``condition`` and that ``plan`` shows:
    the ``wanted`` columns (all if none) and their arrival numbers."""
    data = first_rows(data, condition, plan.mask(data) if plan is not None else None, limit)
    return data.select([*wanted, SEQUENCE]) if wanted else data


def counted(data: pa.Table, plan: RowPlan | None) -> int:
    """How many of the partition's rows ``plan`` shows."""
    if plan is None:
        return data.num_rows
    return int(pc.sum(plan.mask(data)).as_py() or 0)
