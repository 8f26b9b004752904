"""The machine's description, the printed table, and the JSON file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import psutil

from bench.common import Figure, Mode
from bench.servers import ROOT


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class ForeignLoad:
    """CPU time other processes (not this run's) used meanwhile: the figures are only as clean as this."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.system = self._busy_system()
        self.ours = self._busy_ours()
        self.steal = float(getattr(psutil.cpu_times(), "steal", 0.0))  # time the hypervisor gave to others

    @staticmethod
    def _busy_system() -> float:
        times = psutil.cpu_times()
        return float(times.user + times.nice + times.system + getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0))

    @staticmethod
    def _busy_ours() -> float:
        times = psutil.Process().cpu_times()  # children: every process this run started and waited for
        return float(times.user + times.system + times.children_user + times.children_system)

    def summary(self) -> dict[str, float]:
        wall = time.monotonic() - self.started
        foreign = max(0.0, (self._busy_system() - self.system) - (self._busy_ours() - self.ours))
        capacity = wall * (os.cpu_count() or 1)
        return {
            "other_processes_cpu_s": round(foreign, 1),
            "share_of_capacity": round(foreign / capacity, 3) if capacity else 0.0,
            "steal_cpu_s": round(float(getattr(psutil.cpu_times(), "steal", 0.0)) - self.steal, 1),
        }


def python_speed() -> float:
    """Milliseconds for ``sum(range(10_000_000))``, median of 5: compares the CPU between runs and machines."""
    values: list[float] = []
    for _ in range(5):
        started = time.perf_counter()
        sum(range(10_000_000))
        values.append((time.perf_counter() - started) * 1000)
    return round(sorted(values)[2], 1)


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    memory = psutil.virtual_memory()
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gib": round(memory.total / 2**30, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {p: _version(p) for p in ("tiercube", "pyarrow", "duckdb", "numpy", "pandas", "httpx", "starlette", "uvicorn", "msgspec")},
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python_loop_ms_at_start": python_speed(),
    }


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "requests" or (abs(value) >= 100 and unit != "x"):
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"


def rows(figures: Sequence[Figure]) -> list[list[str]]:
    """The table's cells: figure, tiercube, baseline, ratio, target, met."""
    table = [["figure", "tiercube", "baseline", "ratio", "target", "met?"]]
    for figure in figures:
        spread = figure.spread
        ours = f"{_number(figure.value, figure.unit)} {figure.unit}"
        if spread and int(spread.get("runs", 1)) > 1:
            ours += f" [{_number(spread['min'], figure.unit)}-{_number(spread['max'], figure.unit)}]"
        baseline = "-" if figure.baseline is None else f"{_number(figure.baseline, figure.unit)} {figure.unit} ({figure.baseline_name})"
        ratio = "-" if figure.ratio is None else f"{figure.ratio:.2f}x"
        met = {True: "yes", False: "NO", None: "-"}[figure.met]
        table.append([figure.name, ours, baseline, ratio, figure.target.text if figure.target else "-", met])
    return table


def text_table(figures: Sequence[Figure]) -> str:
    cells = rows(figures)
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def notes(figures: Sequence[Figure]) -> str:
    """One line per figure that carries a note."""
    return "\n".join(f"- {figure.key}: {figure.note}" for figure in figures if figure.note)


def markdown_table(figures: Sequence[Figure]) -> str:
    cells = rows(figures)
    lines = ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in cells]
    lines.insert(1, "|" + "---|" * len(cells[0]))
    return "\n".join(lines)


def write_json(
    path: Path, mode: Mode, command: str, figures: Sequence[Figure], described: dict[str, object], seconds: float, foreign: ForeignLoad
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "command": command,
        "mode": mode.name,
        "rows": mode.rows,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(seconds, 1),
        "machine": described
        | {
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "python_loop_ms_at_end": python_speed(),
            "other_processes_during_run": foreign.summary(),
        },
        "figures": [figure.as_json() for figure in figures],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
