"""Readers in linear time and memory: the `build.envd` reader and the `.rt` front end on files up to 10 MB.

Each size is read in a fresh child process (`parse_text`, what `rtc check` and the
loader call), so peak memory is that read's alone: wall and CPU seconds of the read,
and the child's peak RSS (`wait4`'s ru_maxrss, imports included). Linear means the
seconds per MB and MiB per MB stay flat as the size grows. The documented bound
(docs/security.md) is 60 s and 700 MiB for a 10 MB file.

    .venv/bin/python benchmarks/reader_bench.py [--sizes-mb 1 2.5 5 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

BOUND_SECONDS, BOUND_MIB = 60.0, 700.0


def envd_text(size: int) -> str:
    lines = ["# syntax=v1", "def build():", '    base(image="python:3.11-slim")']
    total, i = 0, 0
    while total < size:
        line = (f'    install.python_packages(name=["pkg{i}", "other{i}"])' if i % 4 else
                f'    runtime.environ(env={{"K{i}": "v{i}", "L{i}": "w"}})')
        lines.append(line)
        total += len(line) + 1
        i += 1
    return "\n".join(lines) + "\n"


def rt_text(size: int) -> str:
    out = ['namespace bench', 'env py { base = "python:3.11-slim" }', ""]
    total, i = 0, 0
    while total < size:
        block = (f'node N{i} {{\n  env     = py\n  inputs  {{ x: int, tag: str = "t{i}" }}\n  outputs {{ y: int }}\n'
                 f'  command = ["sh", "-c", "echo {i}", "--flag", "value-{i}"]\n}}\n')
        out.append(block)
        total += len(block)
        i += 1
    return "\n".join(out)


CHILD = textwrap.dedent("""
    import sys, time, resource
    from rtc.dsl import parse_text
    path = sys.argv[1]
    text = open(path, encoding="utf-8").read()
    wall, cpu = time.perf_counter(), time.process_time()
    parse_text(text, path)
    print(time.perf_counter() - wall, time.process_time() - cpu)
""")


def measure(path: Path) -> tuple[float, float, float]:
    """(wall s, cpu s, peak MiB) of reading `path` in a child process."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"reading {path} failed:\n{err.decode(errors='replace')}")
    wall, cpu = map(float, out.split())
    return wall, cpu, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=float, nargs="+", default=[1, 2.5, 5, 10])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    one, five, _ = os.getloadavg()
    print(f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores; medians of {args.runs} runs")
    print(f"{'reader':>6} {'MB':>5} {'wall s':>8} {'cpu s':>7} {'peak MiB':>9} {'s/MB':>6} {'MiB/MB':>7}  bound")
    with tempfile.TemporaryDirectory() as tmp:
        for name, make, file in (("envd", envd_text, "e/build.envd"), (".rt", rt_text, "p.rt")):
            for mb in args.sizes_mb:
                path = Path(tmp) / file
                path.parent.mkdir(exist_ok=True)
                path.write_text(make(int(mb * 1_000_000)))
                runs = [measure(path) for _ in range(args.runs)]
                wall, cpu, peak = (statistics.median(r[k] for r in runs) for k in range(3))
                size = path.stat().st_size / 1_000_000
                ok = "ok" if wall <= BOUND_SECONDS and peak <= BOUND_MIB else "OVER"
                print(f"{name:>6} {size:>5.1f} {wall:>8.2f} {cpu:>7.2f} {peak:>9.0f} {wall / size:>6.2f} {peak / size:>7.1f}  {ok}",
                      flush=True)


if __name__ == "__main__":
    main()
