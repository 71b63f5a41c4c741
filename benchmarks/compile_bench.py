"""Compile time and memory versus pipeline size: is compiling linear?

Generates `.rt` pipelines of 100, 1,000 and 10,000 nodes with one graph that
uses every node once (each step reads the previous step's output and waits
for the step at half its index, so edges grow with steps), compiles each to
IR JSON and prints the median time of several runs (split into parse,
check + lower, and JSON), the peak memory (tracemalloc, a separate run), the
time per node, and the ratio of per-node times against the smallest size.
A ratio near 1 means linear growth.

    .venv/bin/python benchmarks/compile_bench.py [--sizes 100 1000 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from rtc.compiler import compile_file, compile_modules, fewer_collections
from rtc.dsl import load_modules


def generate(n: int) -> str:
    lines = ["namespace bench", 'env py { base = "python:3.11-slim" pip = ["pandas==2.2.*"] }']
    for i in range(n):
        lines.append(
            f'node N{i} {{ env = py inputs {{ x: int, tag: str }} outputs {{ y: int, rows: list[str] }}\n'
            f'  command = ["sh", "-c", "echo {i}"] retries = 2 timeout = 10m }}'
        )
    lines.append('graph big {\n  schedule = "0 2 * * *" workers = 8\n  params { start: int = 1, tag: str = "t" }')
    lines.append("  s0 = N0(x = params.start, tag = params.tag)")
    for i in range(1, n):
        after = f" after [s{i // 2}]" if i > 1 else ""
        lines.append(f"  s{i} = N{i}(x = s{i - 1}.y, tag = params.tag){after}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def compile_once(path: Path) -> int:
    return len(compile_file(str(path)).to_json())


def phases(path: Path) -> tuple[float, float, float]:
    """Seconds spent parsing, checking + lowering, and writing JSON."""
    with fewer_collections():  # as compile_file does
        t0 = time.perf_counter()
        modules = load_modules(str(path))
        t1 = time.perf_counter()
        pipeline = compile_modules(modules, str(path))
        t2 = time.perf_counter()
        pipeline.to_json()
        return t1 - t0, t2 - t1, time.perf_counter() - t2


def measure(path: Path, runs: int) -> tuple[tuple[float, float, float], int]:
    times = [phases(path) for _ in range(runs)]
    tracemalloc.start()
    compile_once(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return tuple(statistics.median(t[i] for t in times) for i in range(3)), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        compile_once(_write(Path(folder), 10))  # warm up: grammar, imports
        rows = []
        for n in args.sizes:
            path = _write(Path(folder), n)
            split, peak = measure(path, args.runs if n < 10000 else max(3, args.runs // 2))
            rows.append((n, path.stat().st_size, split, peak))
    base = sum(rows[0][2]) / rows[0][0]
    print(f"{'nodes':>7} {'source KiB':>10} {'total s':>8} {'parse s':>8} {'check s':>8} {'json s':>7} {'peak MiB':>9} {'ms/node':>8} {'per-node ratio':>15}")
    for n, size, (parse, check, dump), peak in rows:
        total = parse + check + dump
        per_node = total / n
        print(
            f"{n:>7} {size / 1024:>10.0f} {total:>8.3f} {parse:>8.3f} {check:>8.3f} {dump:>7.3f}"
            f" {peak / 2**20:>9.1f} {per_node * 1000:>8.3f} {per_node / base:>15.2f}"
        )


def _write(folder: Path, n: int) -> Path:
    path = folder / f"bench{n}.rt"
    path.write_text(generate(n), encoding="utf-8")
    return path


if __name__ == "__main__":
    main()
