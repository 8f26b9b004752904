"""Import and start: ``import tiercube`` in a fresh interpreter, and ``Session.start()`` to a first answer.

Both run in fresh subprocesses, so every run pays what a user's first call
pays (the client's lazy imports of httpx and pyarrow included).
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import Context, Figure, Samples, Target, compare, timed

# Runs in a fresh interpreter after ``import tiercube``: the seconds to Session.start()
# returning, and to the first query answered (the cube list, a query-group request that
# passes through authentication, routing and the worker threads like any query).
_START = """
import json, time
import tiercube
started = time.perf_counter()
session = tiercube.Session.start()
returned = time.perf_counter()
cubes = list(session.cubes)
answered = time.perf_counter()
session.close()
print(json.dumps({"returned": returned - started, "answered": answered - started}))
"""


def _python(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def measure_import(context: Context) -> list[Figure]:
    runs = context.mode.import_runs
    _python("import tiercube")  # warm the page cache and the bytecode caches
    ours: list[float] = []
    bare: list[float] = []
    for _ in range(runs):  # interleaved, so drift hits both alike
        ours.append(timed(lambda: _python("import tiercube")) * 1000)
        bare.append(timed(lambda: _python("pass")) * 1000)
    return [
        compare(
            "import.wall",
            'python -c "import tiercube" (fresh process)',
            "ms",
            Samples(tuple(ours)),
            Samples(tuple(bare)),
            'python -c "pass"',
            Target(150, text="< 150 ms"),
            note="wall time of the whole process; the baseline is the bare interpreter",
        )
    ]


def measure_start(context: Context) -> list[Figure]:
    returned: list[float] = []
    answered: list[float] = []
    bare: list[float] = []
    for _ in range(context.mode.start_runs):
        output = subprocess.run([sys.executable, "-c", _START], check=True, capture_output=True, text=True).stdout
        times = json.loads(output.strip().splitlines()[-1])
        returned.append(float(times["returned"]))
        answered.append(float(times["answered"]))
        bare.append(timed(lambda: _python("import pyarrow, starlette, uvicorn")))
    baseline = Samples(tuple(bare))
    baseline_name = "fresh python importing pyarrow+starlette+uvicorn"
    return [
        compare(
            "start.first_query",
            "Session.start() until the first query answers",
            "s",
            Samples(tuple(answered)),
            baseline,
            baseline_name,
            Target(0.6, text="< 0.6 s"),
            note="measured after `import tiercube`, in a fresh process per run",
        ),
        compare("start.returned", "Session.start() returns", "s", Samples(tuple(returned)), baseline, baseline_name),
    ]
