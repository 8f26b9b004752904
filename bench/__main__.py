"""``python -m bench [--quick | --smoke] [--only AREA,...] [--rows N] [--soak-seconds S] [--output FILE]``.

Runs every benchmark of issue 5, prints a table (figure, tiercube, baseline,
ratio, target, met?) and writes it as JSON with the machine's description to
``bench/results/latest.json``. Full mode uses the issue's sizes (10,000,000
rows); ``--quick`` finishes in under two minutes on 2 cores; ``--smoke`` only
proves the scripts work (the test suite runs it).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import (
    analytics, changes, cluster, concurrency, connect, durability, explorer, explorer_views, loads, mixed, peers, queries, report, soak,
    startup, transport, typecheck,
)  # fmt: skip
from bench.common import MODES, SEED, Context, Figure
from bench.data import Dataset

AREAS = (
    "import", "start", "connect", "transport", "loads", "queries", "concurrency", "peers", "analytics", "explorer", "cluster",
    "durability", "changes", "mixed", "soak", "typecheck",
)  # fmt: skip
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller data and fewer repeats: under two minutes on 2 cores")
    size.add_argument("--smoke", action="store_true", help="tiny data, one repeat: proves the scripts work (seconds)")
    parser.add_argument("--rows", type=int, help="fact table rows (default: 10,000,000; 200,000 with --quick)")
    parser.add_argument("--only", metavar="AREA,...", help=f"run only these areas: {', '.join(AREAS)}")
    parser.add_argument("--soak-seconds", type=float, help="how long the upsert soak runs (default: 300; 30 with --quick)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON (default: %(default)s)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown too")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    mode = MODES["smoke" if args.smoke else "quick" if args.quick else "full"]
    if args.rows:
        mode = dataclasses.replace(mode, rows=args.rows)
    if args.soak_seconds:
        mode = dataclasses.replace(mode, soak_seconds=args.soak_seconds)
    areas = AREAS if not args.only else tuple(a.strip() for a in args.only.split(","))
    unknown = [a for a in areas if a not in AREAS]
    if unknown:
        print(f"unknown area(s): {', '.join(unknown)}; choose from {', '.join(AREAS)}", file=sys.stderr)
        return 2
    command = " ".join(["python -m bench", *(sys.argv[1:] if argv is None else argv)])
    described = report.machine()
    foreign = report.ForeignLoad()
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {message}", file=sys.stderr, flush=True)

    speeds: dict[str, float] = {}

    def begin(area: str) -> None:
        """Log the area, with the CPU's speed just before it (this VM's varies from minute to minute)."""
        if mode.name == "smoke":
            log(area)
            return
        speeds[area] = report.python_speed()
        log(f"{area} (python loop {speeds[area]:.0f} ms)")

    log(f"{mode.name} mode, {mode.rows:,} rows; {described['cpu_model']}, {described['logical_cores']} cores")
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="tiercube-bench-") as directory:
        context = Context(mode, Path(directory), log)
        data = Dataset(mode.rows, SEED, Path(directory))
        if "import" in areas:
            begin("import")
            figures += startup.measure_import(context)
        if "start" in areas:
            begin("start")
            figures += startup.measure_start(context)
        if "connect" in areas:
            begin("connect")
            figures += connect.measure(context)
        if "transport" in areas:
            begin("transport")
            figures += transport.measure(context)
        if {"loads", "queries", "concurrency", "peers", "explorer"} & set(areas):
            log("generating data")
            _ = data.csv, data.parquet, data.products_parquet
        elif {"cluster", "durability", "mixed"} & set(areas):
            log("generating data")
            _ = data.parquet, data.products_parquet
        if "loads" in areas:
            begin("loads")
            figures += loads.measure(context, data)
        if {"queries", "concurrency"} & set(areas):
            log("loading the probe server")
            with queries.serve(data) as served:
                if "queries" in areas:
                    begin("queries")
                    figures += queries.measure(context, data, served)
                if "concurrency" in areas:
                    begin("concurrency")
                    figures += concurrency.measure(context, served, data.small_filter_products())
        if "peers" in areas:
            begin("peers")
            figures += peers.measure(context, data)
        if "analytics" in areas:
            begin("analytics")
            figures += analytics.measure(context)
        if "explorer" in areas:
            begin("explorer")
            figures += explorer.measure(context, data)
            figures += explorer_views.measure(context, data)
        if "cluster" in areas:
            begin("cluster")
            figures += cluster.measure(context, data)
        if "durability" in areas:
            begin("durability")
            figures += durability.measure_restart(context, data)
            figures += durability.measure_append(context)
        if "changes" in areas:
            begin("changes")
            figures += changes.measure(context)
        if "mixed" in areas:
            begin("mixed")
            figures += mixed.measure(context, data)
        if "soak" in areas:
            begin("soak")
            figures += soak.measure(context)
        if "typecheck" in areas:
            begin("typecheck")
            figures += typecheck.measure(context)
    seconds = time.perf_counter() - started
    print(f"\ntiercube benchmarks, {mode.name} mode ({mode.rows:,} fact rows), {seconds:.0f} s; medians [min-max]")
    print(report.text_table(figures))
    print("\nnotes:\n" + report.notes(figures))
    if args.markdown:
        print("\n" + report.markdown_table(figures))
    described["python_loop_ms_before_each_area"] = speeds
    report.write_json(args.output, mode, command, figures, described, seconds, foreign)
    other = foreign.summary()
    print(f"\nother processes used {other['other_processes_cpu_s']} CPU-seconds meanwhile ({other['share_of_capacity']:.0%} of the machine)")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
