"""Exact quantiles per cell, from values that each stand for a number of fact rows.

A quantile cannot be combined from per-group parts, so the base is grouped by
the column it reads too (``base.KEYED``): each base row holds one value and
how many fact rows have it in that group. A cell's quantile is then a weighted
one over its base rows: sort them once by (cell, value), add the weights up,
and find the value at a rank with one binary search per cell. The work follows
the number of distinct (cell, value) pairs, not the number of fact rows, and
the grouping it starts from is one that maintained aggregates keep and keep up
to date (counts add and subtract exactly).

Ranks follow duckdb's definitions, interpolation by interpolation (see
``tiercube._wire.cubes.Interpolation``), so that both agree to the last bit
where the arithmetic allows.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import Array

VALUE = "\x1fvalue"
_INTERPOLATED = ("linear", "midpoint")


def quantiles(groups: pa.Table, keys: list[str], value: str, weight: str | None, q: float, interpolation: str) -> pa.Table:
    """The ``q`` quantile of ``value`` per combination of ``keys`` in ``groups`` (each row weighing
    ``weight`` rows, or one): a table of those keys and ``VALUE``, for combinations with a non-null value.

    Integer values give integers, except where ``interpolation`` averages two values.
    """
    columns = [*keys, value] + ([weight] if weight is not None else [])
    data = groups.select(columns)
    kernels: Any = pc  # the stubs lose these types on the way; the tests check them
    kept = pc.is_valid(data[value])
    if weight is not None:
        kept = kernels.and_(kept, kernels.greater(data[weight], pa.scalar(0, pa.int64())))  # a null weight drops the row
    data = data.filter(kept)
    value_type = data.schema.field(value).type
    result_type = pa.float64() if interpolation in _INTERPOLATED else value_type
    if data.num_rows == 0:
        return data.select(keys).append_column(VALUE, pa.nulls(0, cast(Any, result_type)))
    data = data.take(pc.sort_indices(data, sort_keys=[*((k, "ascending") for k in keys), (value, "ascending")]))
    starts = _starts(data, keys)
    weights: npt.NDArray[np.int64] = (
        data[weight].to_numpy().astype(np.int64) if weight is not None else np.ones(data.num_rows, dtype=np.int64)
    )
    total = np.cumsum(weights)
    ends = np.append(starts[1:], data.num_rows) - 1
    before = total[starts] - weights[starts]
    counts = total[ends] - before
    values = data[value].combine_chunks()
    low, high, fraction = _ranks(counts, q, interpolation)

    def at(rank: npt.NDArray[np.int64]) -> Array:
        found: Array = values.take(np.searchsorted(total, before + rank, side="right"))
        return found

    lower, upper = at(low), at(high)
    if interpolation in _INTERPOLATED:
        lo, hi = lower.cast(pa.float64()), upper.cast(pa.float64())
        step: Any = pa.array(fraction) if interpolation == "linear" else pa.scalar(0.5)
        chosen: Array = kernels.add(lo, kernels.multiply(step, kernels.subtract(hi, lo)))
    else:
        chosen = lower
    cells = data.take(starts).select(keys)
    return cells.append_column(VALUE, chosen.cast(result_type))


def _starts(data: pa.Table, keys: list[str]) -> npt.NDArray[np.int64]:
    """Where each run of equal keys starts in ``data`` (sorted by them)."""
    change = np.zeros(data.num_rows, dtype=bool)
    change[0] = True
    for key in keys:
        codes = data[key].to_numpy()
        change[1:] |= codes[1:] != codes[:-1]
    return np.flatnonzero(change).astype(np.int64)


def _ranks(counts: npt.NDArray[np.int64], q: float, interpolation: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The ranks (0 is the smallest) of the two values a quantile reads, and how far between them it lies."""
    if interpolation == "discrete":  # duckdb's quantile_disc: the value at ceil(n * q) - 1
        rank = np.maximum(np.ceil(counts * q).astype(np.int64) - 1, 0)
        return rank, rank, np.zeros(len(counts))
    position = (counts - 1) * q
    low = np.floor(position).astype(np.int64)
    high = np.ceil(position).astype(np.int64)
    if interpolation == "nearest":  # half to even, as numpy
        nearest = np.rint(position).astype(np.int64)
        return nearest, nearest, np.zeros(len(counts))
    if interpolation == "lower":
        return low, low, np.zeros(len(counts))
    if interpolation == "higher":
        return high, high, np.zeros(len(counts))
    return low, high, (position - low).astype(np.float64)


def check_quantile(q: float) -> bool:
    """Whether ``q`` can be a quantile: a finite number from 0 to 1."""
    return math.isfinite(q) and 0.0 <= q <= 1.0
