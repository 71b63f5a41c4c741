"""Emitter time and memory: `rtc compile --target airflow|prefect` of 1,000 and 10,000 nodes.

Uses compile_bench.py's generated pipelines (one graph using every node once).
For each size and target it prints, as medians of interleaved runs: the front
end (source -> IR, speed's part, measured by compile_bench.py), the emitter
(IR -> files: render), their total against the goal (1,000 nodes < 0.5 s,
10,000 < 4 s), the emitter's share, and the peak memory of a whole compile
(tracemalloc, a separate run; goal < 500 MB). Beside the emitter: the same
files run through the checks rtc used to make on every compile (each literal
read back with `ast.literal_eval`, each file `ast.parse`d), measured in the same
run, so the ratio shows what dropping them saved.

    .venv/bin/python benchmarks/emit_bench.py [--sizes 1000 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import ast
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from compile_bench import generate  # noqa: E402

from rtc.compiler import compile_file  # noqa: E402
from rtc.integrations import codegen  # noqa: E402

TARGETS = ("airflow", "prefect")


def renderer(target: str):
    if target == "airflow":
        from rtc.integrations.airflow import render
    else:
        from rtc.integrations.prefect import render
    return render


def old_checks(files: dict[str, str], literals: list) -> None:
    """What every compile used to pay for: each literal read back, each Python file parsed."""
    for text in literals:
        ast.literal_eval(text)
    for name, text in files.items():
        if name.endswith(".py"):
            ast.parse(text)


def literals_of(pipeline, target: str) -> list[str]:
    """The literals one render writes, captured from the quoting filter (a fresh Jinja setup sees the spy)."""
    seen: list[str] = []
    original = codegen.py_literal

    def spy(value, indent=None):
        text = original(value, indent)
        seen.append(text)
        return text

    codegen.py_literal = spy
    codegen.jinja_environment.cache_clear()
    try:
        renderer(target)(pipeline)
    finally:
        codegen.py_literal = original
        codegen.jinja_environment.cache_clear()
    return seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"rtc compile --target airflow|prefect: CPU seconds of this process, median of {args.runs} interleaved runs")
    print(f"{'nodes':>6} {'target':>8} {'front end':>9} {'emit':>6} {'total':>6} {'goal':>5} "
          f"{'old checks':>10} {'emit+old/emit':>13} {'peak MB':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"big{n}.rt"
            path.write_text(generate(n), encoding="utf-8")
            front, emit, checks = [], {t: [] for t in TARGETS}, {t: [] for t in TARGETS}
            for _ in range(args.runs):
                start = time.process_time()
                pipeline = compile_file(str(path))
                front.append(time.process_time() - start)
                for target in TARGETS:
                    start = time.process_time()
                    files = renderer(target)(pipeline)
                    emit[target].append(time.process_time() - start)
                    literals = literals_of(pipeline, target)
                    start = time.process_time()
                    old_checks(files, literals)
                    checks[target].append(time.process_time() - start)
            for target in TARGETS:
                tracemalloc.start()
                renderer(target)(compile_file(str(path)))
                peak = tracemalloc.get_traced_memory()[1] / 1e6
                tracemalloc.stop()
                f, e, c = statistics.median(front), statistics.median(emit[target]), statistics.median(checks[target])
                goal = 0.5 if n <= 1000 else 4.0
                print(f"{n:>6} {target:>8} {f:>9.2f} {e:>6.2f} {f + e:>6.2f} {goal:>5.1f} {c:>10.2f} "
                      f"{(e + c) / e:>13.2f} {peak:>8.0f}")


if __name__ == "__main__":
    main()
