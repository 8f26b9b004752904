"""tiercube's benchmark suite: ``python -m bench [--quick | --smoke]``.

Every figure is measured against a baseline run in the same process and on
the same data (pyarrow, duckdb), on data the suite generates itself with a
fixed seed. See ``BENCHMARKS.md`` for the latest full run.
"""
