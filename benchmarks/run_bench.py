"""`rtc run` of a 20-step busybox pipeline vs the same 20 `docker run --rm` from a shell script.

Both run the same commands in the same order, one after another (the
pipeline is a chain, so `rtc run` cannot gain from parallelism). The figure
is the median wall time of a few repetitions of each, alternating, and
their ratio; the goal is rtc/shell <= 1.15.

    .venv/bin/python benchmarks/run_bench.py [--steps 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rtc.compiler.ir import Environment, Graph, Node, Pipeline, Step

IMAGE = "rtc-test/busybox:1"
RTC = [sys.executable, "-m", "rtc"]


def chain(steps: int, folder: Path) -> Pipeline:
    nodes = {f"N{i}": Node(name=f"N{i}", env="bb", command=["echo", f"step {i}"]) for i in range(steps)}
    graph_steps = [Step(id=f"s{i}", node=f"N{i}", upstream=[f"s{i - 1}"] if i else []) for i in range(steps)]
    graph = Graph(name="bench", steps=graph_steps, order=[s.id for s in graph_steps])
    return Pipeline(
        namespace="bench", source=str(folder / "bench.rt"),
        environments={"bb": Environment(name="bb", image=IMAGE)}, nodes=nodes, graphs={"bench": graph},
    )


def shell_script(steps: int) -> str:
    lines = ["#!/bin/sh", "set -e"]
    lines += [f"docker run --rm {IMAGE} echo 'step {i}'" for i in range(steps)]
    return "\n".join(lines) + "\n"


def timed(argv: list[str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rtc-bench-") as tmp:
        folder = Path(tmp)
        ir = folder / "bench.json"
        ir.write_text(chain(args.steps, folder).to_json(), encoding="utf-8")
        script = folder / "bench.sh"
        script.write_text(shell_script(args.steps), encoding="utf-8")
        rtc_argv, sh_argv = [*RTC, "run", str(ir)], ["sh", str(script)]
        timed(rtc_argv), timed(sh_argv)  # warm-up: page cache, image layers
        rtc_times, sh_times = [], []
        for _ in range(args.repeat):
            rtc_times.append(timed(rtc_argv))
            sh_times.append(timed(sh_argv))
    rtc_median, sh_median = statistics.median(rtc_times), statistics.median(sh_times)
    print(f"steps: {args.steps}, repetitions: {args.repeat}")
    print(f"rtc run        median {rtc_median:.2f}s  ({', '.join(f'{t:.2f}' for t in rtc_times)})")
    print(f"docker run x{args.steps} median {sh_median:.2f}s  ({', '.join(f'{t:.2f}' for t in sh_times)})")
    print(f"ratio rtc/shell: {rtc_median / sh_median:.2f} (goal <= 1.15)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
