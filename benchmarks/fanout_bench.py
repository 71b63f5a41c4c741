"""Fan-out: `rtc run` of one step mapped over N elements vs `xargs -P W docker run`, same concurrency.

Goal (issue 12, item 2): at most 1.05x for N = 20 and N = 200. The pipeline
is one node mapped with `each(params.items)` over N integers, `workers = W`;
each element runs `echo ITEM` in busybox. The peer runs the same N
containers with `xargs -P W -n 1 docker run --rm IMAGE echo`. Both are whole
processes (rtc's interpreter start, compile, image check and clean-up
included), run interleaved after one warm-up round; medians.

    .venv/bin/python benchmarks/fanout_bench.py [--sizes 20 200] [--workers 8] [--repeat 5] [--before "COMMAND"]

`--before COMMAND` also times `COMMAND run FILE` (another rtc, e.g. a launcher
of an older checkout), interleaved: before and after under the same load.
Python writes bytecode as it does for users (PYTHONDONTWRITEBYTECODE dropped).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_util import RTC, interleaved, load, median, row, timed  # noqa: E402

IMAGE = "rtc-test/busybox:1"


def pipeline(n: int, workers: int) -> str:
    items = ", ".join(str(i) for i in range(n))
    return (
        "namespace fanbench\n"
        f'env bb {{ image = "{IMAGE}" }}\n'
        'node Echo { env = bb inputs { item: int } command = ["sh", "-c", "echo $RTC_MAP_INDEX"] }\n'
        f"graph fan {{\n  workers = {workers}\n  params {{ items: list[int] = [{items}] }}\n"
        "  e = Echo(item = each(params.items))\n}\n"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 200])
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--before", help="another rtc command to time the same run with (e.g. an older checkout)")
    args = ap.parse_args()
    print(f"before: {load()}")
    with tempfile.TemporaryDirectory(prefix="rtc-fanbench-") as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["RTC_HOME"] = str(Path(tmp) / "home")
        results = {}
        for n in args.sizes:
            source = Path(tmp) / f"fan{n}.rt"
            source.write_text(pipeline(n, args.workers), encoding="utf-8")
            items = "".join(f"{i}\n" for i in range(n)).encode()
            xargs = ["xargs", "-P", str(args.workers), "-n", "1", "docker", "run", "--rm", IMAGE, "echo"]
            commands = {
                "rtc": lambda: timed([*RTC, "run", str(source)], env=env),
                "xargs": lambda: timed(xargs, stdin=items),
            }
            if args.before:
                before = [*shlex.split(args.before), "run", str(source)]
                commands["before"] = lambda: timed(before, env=env)
            results[n] = interleaved(commands, args.repeat)
    print(f"after:  {load()}")
    print(f"workers: {args.workers}, repetitions: {args.repeat} (interleaved, after one warm-up round)")
    for n, times in results.items():
        print(f"{n} elements")
        print(row(f"rtc run (each over {n})", times["rtc"]))
        print(row(f"xargs -P {args.workers} docker run", times["xargs"]))
        print(f"  ratio rtc / xargs: {median(times['rtc']) / median(times['xargs']):.2f} (goal <= 1.05)")
        if "before" in times:
            print(row("rtc run (before)", times["before"]))
            print(f"  ratio before / xargs: {median(times['before']) / median(times['xargs']):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
