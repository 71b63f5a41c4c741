"""Compile time and memory versus pipeline size, for every target: is compiling fast and linear?

Generates `.rt` pipelines of 100, 1,000 and 10,000 nodes with one graph that
uses every node once (each step reads the previous step's output and waits
for the step at half its index, so edges grow with steps) and compiles each
to every target: `ir` (IR JSON), `airflow` and `prefect` (the generated
files, rendered in memory). Each (size, target) compile runs in a fresh
process, so that the peak resident memory (`ru_maxrss`) is that compile's
own; the targets are interleaved and the figures are medians. Times are CPU
seconds of that process (`time.process_time`): on the shared 2-core machine
wall time mostly measures the other jobs.

Columns: parse (front end: `rtc.dsl`), check (compiler: check + lower to the
IR), render (the target: IR JSON for `ir`; the Airflow / Prefect emitters for
the others), total, peak RSS, time per node, and the growth per node: the
time each node adds from one size to the next, (total(n) - total(previous
size)) / (n - previous size), so that what every compile pays once (a
template's first load, a cache filling) is not counted as a per-node cost;
"growth ratio" divides it by the growth between the first two sizes
(1.00 = linear). Goals (issue 12, item 3): 1,000 nodes < 0.5 s and 10,000
nodes < 4 s for every target, peak memory < 500 MB, growth per node flat
within 10 % from 100 to 10,000.

Who owns what: parse, check and the IR JSON are the "speed" work; the
Airflow and Prefect render times are the emitters' ("emit").

    .venv/bin/python benchmarks/compile_bench.py [--sizes 100 1000 10000] [--targets ir airflow prefect] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_util import load  # noqa: E402

TARGETS = ("ir", "airflow", "prefect")


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


# Runs in the child process: one compile of one file to one target, timed by phase.
CHILD = r"""
import json, resource, sys, time
from rtc.compiler import compile_modules, fewer_collections
from rtc.dsl import load_modules
from rtc.cli.compile_cmd import render_target
path, target = sys.argv[1], sys.argv[2]
import rtc.compiler.driver, rtc.dsl.fast_parser, rtc.integrations.ir_json  # imports are start-up, not compile
if target != "ir":
    import importlib
    from rtc.cli.compile_cmd import TARGETS
    importlib.import_module(TARGETS[target])
import gc
gc.collect()  # the imports' garbage: otherwise a collection of it lands in whichever phase comes first
with fewer_collections():
    t0 = time.process_time()
    modules = load_modules(path)
    t1 = time.process_time()
    pipeline = compile_modules(modules, path)
    t2 = time.process_time()
    files = render_target(pipeline, target)
    t3 = time.process_time()
print(json.dumps({"parse": t1 - t0, "check": t2 - t1, "render": t3 - t2, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "bytes": sum(len(t) for t in files.values())}))
"""


def one(path: Path, target: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), target], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"compiling {path.name} to {target} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"before: {load()}")
    results: dict[tuple[int, str], list[dict]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for n in args.sizes:
            path = Path(folder) / f"bench{n}.rt"
            path.write_text(generate(n), encoding="utf-8")
            for _ in range(args.runs):
                for target in args.targets:  # interleaved
                    results.setdefault((n, target), []).append(one(path, target))
    print(f"after:  {load()}")
    print(f"runs: {args.runs} per size and target, each in a fresh process; medians")
    print(f"{'target':>8} {'nodes':>7} {'parse s':>8} {'check s':>8} {'render s':>9} {'total s':>8} {'peak MiB':>9} {'out KiB':>8}"
          f" {'ms/node':>8} {'growth ms/node':>15} {'growth ratio':>13}")
    for target in args.targets:
        previous = first_growth = None
        for n in args.sizes:
            runs = results[(n, target)]
            parse, check, render = (statistics.median(r[k] for r in runs) for k in ("parse", "check", "render"))
            total = parse + check + render
            rss = statistics.median(r["rss"] for r in runs) / 2**20
            growth = ratio = ""
            if previous is not None:
                per_added = (total - previous[1]) / (n - previous[0])
                first_growth = first_growth or per_added
                growth, ratio = f"{per_added * 1000:.3f}", f"{per_added / first_growth:.2f}"
            previous = (n, total)
            print(
                f"{target:>8} {n:>7} {parse:>8.3f} {check:>8.3f} {render:>9.3f} {total:>8.3f} {rss:>9.1f}"
                f" {runs[0]['bytes'] / 1024:>8.0f} {total / n * 1000:>8.3f} {growth:>15} {ratio:>13}"
            )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
