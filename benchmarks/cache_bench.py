"""Steps that need not run again: re-running an unchanged 20-step pipeline whose nodes all have `cache = true`.

Goal (issue 12, item 5): under 0.3 s for the whole `rtc run` process. Peers,
measured in the same run, interleaved: the same command with `--no-cache`
(every step runs), and `rtc --help` (the floor: interpreter start and the
CLI). One uncached run first records the outputs; medians.

    .venv/bin/python benchmarks/cache_bench.py [--steps 20] [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_util import RTC, interleaved, load, median, row, timed  # noqa: E402

IMAGE = "rtc-test/busybox:1"


def chain(steps: int) -> str:
    lines = ["namespace cachebench", f'env bb {{ image = "{IMAGE}" }}']
    for i in range(steps):
        lines.append(
            f"node N{i} {{ env = bb  cache = true  inputs {{ n: int }}  outputs {{ n: int }}\n"
            f"  command = [\"sh\", \"-c\", \"printf '{{\\\"n\\\": {i}}}' > $RTC_OUTPUTS_FILE\"] }}"
        )
    lines.append("graph g {\n  s0 = N0(n = 0)")
    lines += [f"  s{i} = N{i}(n = s{i - 1}.n)" for i in range(1, steps)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    print(f"before: {load()}")
    with tempfile.TemporaryDirectory(prefix="rtc-cachebench-") as tmp:
        env = {**os.environ, "RTC_HOME": str(Path(tmp) / "home")}
        source = Path(tmp) / "chain.rt"
        source.write_text(chain(args.steps), encoding="utf-8")
        timed([*RTC, "run", str(source)], env=env)  # records every step's outputs
        times = interleaved(
            {
                "cached": lambda: timed([*RTC, "run", str(source)], env=env),
                "no-cache": lambda: timed([*RTC, "run", str(source), "--no-cache"], env=env),
                "help": lambda: timed([*RTC, "--help"], env=env),
            },
            args.repeat,
        )
    print(f"after:  {load()}")
    print(f"steps: {args.steps}, repetitions: {args.repeat} (interleaved, after one warm-up round)")
    print(row("rtc run (all cached)", times["cached"], "(goal < 0.300s)"))
    print(row("rtc run --no-cache", times["no-cache"]))
    print(row("rtc --help (start-up floor)", times["help"]))
    print(f"  ratio cached / --no-cache: {median(times['cached']) / median(times['no-cache']):.3f}")
    print(f"  ratio cached / rtc --help: {median(times['cached']) / median(times['help']):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
