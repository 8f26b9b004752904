"""A key that comes more than once in one load: refused, or its last row kept and counted.

A keyed change keeps the last row of each key it brings (``key_index.latest_of_each_key``,
which finds repeated keys at the cost of a sort of their hashes, not a grouping of every
key). That costs nothing more to count, so every change says how many of its own rows a
later one replaced (``Repeats``). Which key repeats, and on which rows, is only worked out
when a load refuses it (``on_duplicate_keys="error"``): a pass over the rows that share a
hash, on the failure path only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tiercube._server.engine.arrays import POSITION
from tiercube._server.engine.key_index import index_hashes
from tiercube._wire.messages import OnDuplicateKeys
from tiercube.errors import LoadError


@dataclass(frozen=True)
class FirstRepeat:
    """The first key of a change that comes more than once: its values, and the rows holding it
    (from 0, in the change's order)."""

    key: dict[str, object]
    rows: list[int]


@dataclass(frozen=True)
class Repeats:
    """How many rows of a change a later row with the same key replaced; ``first()`` says which
    key came first (it costs a pass over the rows, so it is asked only to refuse a load)."""

    count: int
    first: Callable[[], FirstRepeat]


def repeats_within(data: pa.Table, keys: Sequence[str], kept: int) -> Repeats | None:
    """The repeats of ``data``, of which ``kept`` rows are the last of their key; None: no key repeats."""
    count = data.num_rows - kept
    return Repeats(count, lambda: first_repeat(data, keys)) if count else None


def first_repeat(data: pa.Table, keys: Sequence[str]) -> FirstRepeat:
    """The key of ``data`` whose second row comes first, and its rows; only rows sharing a hash are grouped."""
    hashes = index_hashes(data, keys)
    ordered = np.sort(hashes)
    suspects = np.flatnonzero(np.isin(hashes, ordered[1:][ordered[1:] == ordered[:-1]]))
    grouped = (
        data.take(suspects)
        .select(list(keys))
        .unify_dictionaries()
        .append_column(POSITION, pa.array(suspects, pa.int64()))
        .group_by(list(keys), use_threads=False)
        .aggregate([(POSITION, "list")])
    )
    repeated = [rows for rows in grouped[f"{POSITION}_list"].to_pylist() if rows is not None and len(rows) > 1]
    rows = min(repeated, key=lambda found: found[1])
    return FirstRepeat(data.select(list(keys)).slice(rows[0], 1).to_pylist()[0], rows)


def refused(repeats: Repeats | None, on_duplicate_keys: OnDuplicateKeys) -> Repeats | None:
    """The repeats a load that asked for ``on_duplicate_keys`` is refused over; None: it is not."""
    return repeats if on_duplicate_keys == "error" else None


def replaced(repeats: Repeats | None) -> int:
    """How many rows of a change a later row with the same key replaced."""
    return repeats.count if repeats is not None else 0


def refusal(repeats: Repeats, keys: Sequence[str], origin: str, places: Callable[[list[int]], tuple[str, int | None]]) -> LoadError:
    """The error refusing a load over ``repeats``. ``places`` names rows as the source has them
    (a CSV file's lines, a frame's rows), with the line of the first if it has lines: it may
    read the source again, so it is called outside any lock."""
    first = repeats.first()
    key = ", ".join(f"{name}={value!r}" if isinstance(value, str) else f"{name}={value}" for name, value in first.key.items())
    where, line = places(first.rows)
    others = repeats.count - (len(first.rows) - 1)
    more = "" if not others else "; 1 more row repeats another key" if others == 1 else f"; {others:,} more rows repeat other keys"
    return LoadError(
        f"{origin}: the key {key} comes {len(first.rows)} times ({where}){more}. A load may hold each key once: "
        "fix the data, or pass on_duplicate_keys='last' to keep the last row of each key",
        path=origin,
        line=line,
        column=keys[0],
    )


def row_numbers(rows: list[int]) -> tuple[str, None]:
    """Rows as a table or frame has them: counting from 1."""
    return f"{'rows' if len(rows) > 1 else 'row'} {listed([row + 1 for row in rows])}, counting from 1", None


def listed(numbers: list[int]) -> str:
    """``3, 9 and 12``: the first five numbers, and how many more."""
    shown = [f"{number:,}" for number in numbers[:5]]
    if len(numbers) > 5:
        shown.append(f"{len(numbers) - 5} more")
    return ", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]
