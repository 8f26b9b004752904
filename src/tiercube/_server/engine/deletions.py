"""Which physical rows of a table are gone: a replaced or dropped row is marked, not copied out.

An upsert of a few rows into ten million used to rebuild the whole table.
Now the rows it replaces are only marked, in blocks of 65,536 rows: a new
version copies the blocks it touches and shares the others with the version
before, so a change costs the rows it touches, and every version stays
immutable for the queries reading it. A table with many marked rows is
compacted (``TableStore``) off the writers' path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa

Positions = npt.NDArray[np.int64]

_SHIFT = 12
_BLOCK = 1 << _SHIFT


class Deletions:
    """The marked positions of one version of a table: immutable, a new object per change."""

    __slots__ = ("_blocks", "count")

    def __init__(self, blocks: Sequence[npt.NDArray[np.bool_] | None] = (), count: int = 0) -> None:
        self._blocks = tuple(blocks)
        self.count = count

    def marked(self, positions: Positions) -> Deletions:
        """These marks, and ``positions`` too (each must be a live row's)."""
        if len(positions) == 0:
            return self
        blocks = list(self._blocks)
        ordered = np.sort(positions)
        last = int(ordered[-1]) >> _SHIFT
        if last >= len(blocks):
            blocks.extend([None] * (last + 1 - len(blocks)))
        for number, run in _runs(ordered):
            block = blocks[number]
            block = np.zeros(_BLOCK, dtype=np.bool_) if block is None else block.copy()
            block[run & (_BLOCK - 1)] = True
            blocks[number] = block
        return Deletions(blocks, self.count + len(positions))

    def dead(self, positions: Positions) -> npt.NDArray[np.bool_]:
        """Whether each of ``positions`` is marked."""
        if self.count == 0:
            return np.zeros(len(positions), dtype=np.bool_)
        order = np.argsort(positions, kind="stable")
        ordered = positions[order]
        found = np.zeros(len(positions), dtype=np.bool_)
        start = 0
        for number, run in _runs(ordered):
            if number < len(self._blocks) and (block := self._blocks[number]) is not None:
                found[start : start + len(run)] = block[run & (_BLOCK - 1)]
            start += len(run)
        dead = np.empty_like(found)
        dead[order] = found
        return dead

    def alive(self, rows: int) -> pa.Array[pa.BooleanScalar] | None:
        """Of ``rows`` physical rows, which are not marked; None when none is."""
        if self.count == 0:
            return None
        dead = np.zeros(rows, dtype=np.bool_)
        for number, block in enumerate(self._blocks):
            if block is not None:
                start = number << _SHIFT
                dead[start : start + _BLOCK] = block[: max(0, min(_BLOCK, rows - start))]
        return pa.array(~dead)


def _runs(ordered: Positions) -> list[tuple[int, Positions]]:
    """Ascending ``ordered`` positions cut into runs that fall in one block: (block number, run)."""
    numbers = ordered >> _SHIFT
    starts = np.flatnonzero(np.diff(numbers, prepend=-1))
    ends = [*starts[1:].tolist(), len(ordered)]
    return [(int(numbers[start]), ordered[start:end]) for start, end in zip(starts.tolist(), ends, strict=True)]


NONE = Deletions()
"""No row marked."""
