"""Which partition a row belongs to: a hash of its key (``engine.hashing``), the same in every process."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tiercube._server.engine.hashing import key_hashes


def partition_numbers(table: pa.Table, keys: Sequence[str], partitions: int) -> npt.NDArray[np.int64]:
    """For each row of ``table``, the partition (0 to ``partitions`` - 1) its key goes to."""
    return (key_hashes(table, keys) % np.uint64(partitions)).astype(np.int64)


def split(table: pa.Table, numbers: npt.NDArray[np.int64], partitions: int) -> list[pa.Table]:
    """``table``'s rows by partition number, each part keeping the rows' order."""
    return [table.filter(pa.array(np.equal(numbers, i), pa.bool_())) for i in range(partitions)]


def ranges(table: pa.Table, partitions: int) -> list[pa.Table]:
    """``table`` cut in ``partitions`` contiguous slices of nearly equal size (for tables without keys)."""
    size = -(-table.num_rows // partitions) if table.num_rows else 0
    return [table.slice(i * size, size) for i in range(partitions)]
