"""Where each key of a table lives: a hash of the key columns -> the physical positions holding it.

An upsert must find the rows its keys replace. Grouping every key of the
table to find them cost the whole table per change (683 ms for 5 rows into
2 M); the index finds them at the cost of the rows that come in.

The index maps each hash to *candidate* positions: every live row's position
is among its hash's candidates, but a candidate may be a row since replaced
or dropped, or one of another key with the same hash. ``find`` therefore
checks each candidate against the table (alive, and the key equal), so a
stale or colliding entry can cost a comparison, never a wrong answer.

Most entries are in two sorted numpy arrays (hash, position); recent ones in
a dict, merged into the arrays once it holds a sixteenth as many (at most
262,144: a merge moves every entry once, about 0.2 s at 20 M). The index
is owned by the table's writer, which changes it only when a change is
committed; queries never read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tiercube._server.engine.arrays import last_positions, plain, take_rows
from tiercube._server.engine.deletions import Deletions, Positions
from tiercube._server.engine.hashing import Hashes, key_hashes

_MERGE_AT = 1 << 16
_MERGE_MOST = 1 << 18
# Entries of one hash stepped past one at a time before searching for the end of their run.
_STEPS = 4


class KeyIndex:
    """The positions of the keys (columns ``keys``) of one table's physical rows."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self._hashes: Hashes = np.zeros(0, dtype=np.uint64)
        self._positions: Positions = np.zeros(0, dtype=np.int64)
        self._recent: dict[int, list[int]] = {}
        self._recent_entries = 0

    @classmethod
    def built(cls, data: pa.Table, keys: Sequence[str], deletions: Deletions) -> KeyIndex:
        """The index of ``data``'s live rows."""
        index = cls(keys)
        positions = np.arange(data.num_rows, dtype=np.int64)
        alive = deletions.alive(data.num_rows)
        if alive is not None:
            positions = positions[alive.to_numpy(zero_copy_only=False)]
        hashes = index_hashes(data, keys)[positions]
        if len(hashes) > 1 and not np.all(hashes[1:] >= hashes[:-1]):  # keys loaded in order need no sort
            order = np.argsort(hashes, kind="stable")
            hashes, positions = hashes[order], positions[order]
        index._hashes, index._positions = hashes, positions
        return index

    def __len__(self) -> int:
        return len(self._hashes) + self._recent_entries

    def find(self, data: pa.Table, deletions: Deletions, probe: pa.Table, hashes: Hashes) -> Positions:
        """For each row of ``probe`` (key columns, no key twice), the live position of ``data`` holding
        its key, or -1."""
        rows, candidates = self._candidates(hashes)
        found = np.full(probe.num_rows, -1, dtype=np.int64)
        if len(candidates) == 0:
            return found
        live = ~deletions.dead(candidates)
        rows, candidates = rows[live], candidates[live]
        if len(candidates) == 0:
            return found
        order = np.argsort(candidates, kind="stable")
        rows, candidates = rows[order], candidates[order]
        same = _equal_keys(take_rows(data.select(self.keys), candidates), probe.take(rows), self.keys)
        found[rows[same]] = candidates[same]
        return found

    def put(self, hashes: Hashes, positions: Positions, replaced: Positions) -> None:
        """Rows at ``positions`` now hold keys of ``hashes``; those at ``replaced`` (-1: none) are gone."""
        if len(hashes) >= _MERGE_AT:
            self._merge(hashes, positions)
            return
        for value, position, old in zip(hashes.tolist(), positions.tolist(), replaced.tolist(), strict=True):
            found = self._recent.setdefault(value, [])
            if old >= 0 and old in found:
                found.remove(old)  # keeps a hot key's candidates few
                self._recent_entries -= 1
            found.append(position)
            self._recent_entries += 1
        if self._recent_entries >= max(_MERGE_AT, min(len(self._hashes) // 16, _MERGE_MOST)):
            self._merge(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64))

    def compacted(self, deletions: Deletions, rows: int) -> KeyIndex:
        """This index for the table once its marked rows are removed (positions shift down)."""
        self._merge(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64))
        index = KeyIndex(self.keys)
        alive = deletions.alive(rows)
        if alive is None:
            index._hashes, index._positions = self._hashes, self._positions
            return index
        live = alive.to_numpy(zero_copy_only=False)
        # Each live row moves down by the number of marked rows before it.
        moved = np.cumsum(live, dtype=np.int64) - 1
        kept = live[self._positions]
        index._hashes, index._positions = self._hashes[kept], moved[self._positions[kept]]
        return index

    def _candidates(self, hashes: Hashes) -> tuple[Positions, Positions]:
        """(probe row, candidate position) pairs: every entry whose hash is the probe's."""
        # Probes searched in ascending order: each search starts where the one before ended, in
        # memory it has just touched (100,000 probes into 20 M entries: 0.38 s in their own order,
        # 0.07 s sorted).
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        left = np.searchsorted(self._hashes, ordered, side="left")
        counts = self._run_lengths(ordered, left)
        rows = np.repeat(order, counts)
        # The entries of each probe's run, without a loop: its start plus 0, 1, ... within it.
        starts = np.repeat(left, counts)
        offsets = np.arange(len(rows), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        positions = self._positions[starts + offsets]
        if self._recent:
            extra = [(row, position) for row, value in enumerate(hashes.tolist()) for position in self._recent.get(value, ())]
            if extra:
                more = np.array(extra, dtype=np.int64)
                rows, positions = np.concatenate([rows, more[:, 0]]), np.concatenate([positions, more[:, 1]])
        return rows, positions

    def _run_lengths(self, ordered: Hashes, left: Positions) -> Positions:
        """How many entries from each of ``left`` hold the hash at the same place of ``ordered``.

        Mostly one or none (more only for a key replaced since the last compaction), so stepping
        past them costs less than a second search; a longer run falls back to that search.
        """
        counts = np.zeros(len(left), dtype=np.int64)
        for _ in range(_STEPS):
            at = left + counts
            inside = at < len(self._hashes)
            more = np.zeros(len(left), dtype=np.bool_)
            more[inside] = self._hashes[at[inside]] == ordered[inside]
            if not more.any():
                return counts
            counts += more
        return np.searchsorted(self._hashes, ordered, side="right") - left

    def _merge(self, hashes: Hashes, positions: Positions) -> None:
        """The recent entries and these into the sorted arrays."""
        if self._recent:
            recent = [(value, position) for value, found in self._recent.items() for position in found]
            pairs = np.array(recent, dtype=np.uint64)
            hashes = np.concatenate([hashes, pairs[:, 0]])
            positions = np.concatenate([positions, pairs[:, 1].astype(np.int64)])
            self._recent, self._recent_entries = {}, 0
        if len(hashes) == 0:
            return
        order = np.argsort(hashes, kind="stable")
        hashes, positions = hashes[order], positions[order]
        at = np.searchsorted(self._hashes, hashes)
        self._hashes = np.insert(self._hashes, at, hashes)
        self._positions = np.insert(self._positions, at, positions)


def index_hashes(table: pa.Table, keys: Sequence[str]) -> Hashes:
    """What the index files each row's key under: for one integer key column the value itself (no
    two keys share it, and keys loaded in order are sorted already), else a hash of the key."""
    if len(keys) == 1 and pa.types.is_integer(table.schema.field(keys[0]).type):
        column = table[keys[0]]
        values: npt.NDArray[np.int64] = pc.fill_null(column, pa.scalar(0, column.type)).to_numpy().astype(np.int64, copy=False)
        return values.view(np.uint64)
    return key_hashes(table, keys)


def latest_of_each_key(data: pa.Table, keys: Sequence[str], hashes: Hashes) -> tuple[pa.Table, Hashes]:
    """``data`` without the rows whose key comes again later in it (the last one counts, as if the
    rows came one by one), and the index hashes of the rows kept.

    Sorting the hashes tells which rows may share a key, without grouping them all (a hash
    aggregation of 10 M keys took 5.5 s); only those rows are grouped by their keys.
    """
    if data.num_rows < 2:
        return data, hashes
    ordered = np.sort(hashes)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if len(repeated) == 0:
        return data, hashes
    suspects = np.flatnonzero(np.isin(hashes, repeated))
    latest = last_positions(data.take(suspects).select(list(keys)).unify_dictionaries(), list(keys))
    keep = np.ones(data.num_rows, dtype=np.bool_)
    if latest is not None:
        keep[suspects] = False
        keep[suspects[latest.to_numpy()]] = True
    survivors = np.flatnonzero(keep)
    return data.take(survivors), hashes[survivors]


def _equal_keys(left: pa.Table, right: pa.Table, keys: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Row by row, whether two tables hold the same key (a null equal to a null, as grouping has it)."""
    same = np.ones(left.num_rows, dtype=np.bool_)
    for name in keys:
        a, b = plain(left[name]).combine_chunks(), plain(right[name]).combine_chunks()
        null_a, null_b = _flags(pc.is_null(a)), _flags(pc.is_null(b))
        same &= np.where(null_a | null_b, null_a & null_b, _flags(pc.equal(a, b)))
    return same


def _flags(values: Any) -> npt.NDArray[np.bool_]:
    """A boolean Arrow array as numpy, null as False (the stubs type the comparison kernels loosely)."""
    return np.asarray(values.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.bool_)
