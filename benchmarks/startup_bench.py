"""Start-up: `rtc --help`, `rtc check` of a small file, and `rtc exec` of the hello codespec vs `docker run --rm -i`.

Goals (issue 12, item 1): `rtc exec` at most 1.25x `docker run --rm -i` doing
the same thing; `rtc check` of a small file under 0.12 s wall; `rtc --help`
under 0.1 s. Every command is a fresh process, timed whole (interpreter start,
imports, work, exit); the commands run interleaved, one warm-up round first,
and the figures are medians.

`rtc check (small .rt)` is a repeated check of the unchanged file (it checked
clean before: `$RTC_HOME/cache/check/`); `rtc check (first)` empties that
cache before each run, so it parses, checks and lowers the file.

`rtc exec` is the repeated exec of an unchanged file (its codespecs come from
`$RTC_HOME/cache/exec/`, filled by the warm-up round); `rtc exec (cache
miss)` empties that cache before each run, so it compiles the file first.
Python writes bytecode here as it does for users (PYTHONDONTWRITEBYTECODE,
which some shells and CI set, is dropped): without it every start compiles
rtc's modules from source again (~0.2 s).

    .venv/bin/python benchmarks/startup_bench.py [--repeat 11] [--before "COMMAND"]

`--before COMMAND` also times `COMMAND exec -f hello.yml` (another rtc, e.g.
a launcher of an older checkout), interleaved with the rest: before and after
measured side by side under the same load.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_util import RTC, interleaved, load, median, row, timed  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HELLO = REPO / "examples" / "tyger" / "hello.yml"
SMALL = REPO / "examples" / "tyger" / "pipeline.rt"
# What the hello codespec runs, given to `docker run` as the same shell script over stdin/stdout.
DOCKER_HELLO = ["docker", "run", "--rm", "-i", "ubuntu", "bash", "-c", 'set -euo pipefail; inp=$(cat); echo "Hello ${inp}"']


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=11)
    ap.add_argument("--before", help="another rtc command to time the same exec with (e.g. an older checkout)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rtc-bench-home-") as home:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["RTC_HOME"] = home
        exec_argv = [*RTC, "exec", "-f", str(HELLO)]

        def first_check() -> float:
            shutil.rmtree(Path(home) / "cache" / "check", ignore_errors=True)
            return timed([*RTC, "check", str(SMALL)], env=env)

        def cold_exec() -> float:
            shutil.rmtree(Path(home) / "cache" / "exec", ignore_errors=True)
            return timed(exec_argv, stdin=b"Paul\n", env=env)

        commands = {
            "rtc --help": lambda: timed([*RTC, "--help"], env=env),
            "rtc check (small .rt)": lambda: timed([*RTC, "check", str(SMALL)], env=env),
            "rtc check (first)": first_check,
            "rtc exec -f hello.yml": lambda: timed(exec_argv, stdin=b"Paul\n", env=env),
            "docker run --rm -i (same)": lambda: timed(DOCKER_HELLO, stdin=b"Paul\n"),
            "rtc exec (cache miss)": cold_exec,
        }
        if args.before:
            before = [*shlex.split(args.before), "exec", "-f", str(HELLO)]
            # Its own RTC_HOME: the two rtcs' cache entries for one file would replace each other's.
            before_env = {**env, "RTC_HOME": str(Path(home) / "before")}
            commands["rtc exec (before)"] = lambda: timed(before, stdin=b"Paul\n", env=before_env)
            before_check = [*shlex.split(args.before), "check", str(SMALL)]

            def before_first_check() -> float:
                shutil.rmtree(Path(home) / "before" / "cache" / "check", ignore_errors=True)
                return timed(before_check, env=before_env)

            commands["rtc check (before, first)"] = before_first_check
        print(f"before: {load()}")
        times = interleaved(commands, args.repeat)
        print(f"after:  {load()}")
    print(f"repetitions: {args.repeat} (interleaved, after one warm-up round)")
    print(row("rtc --help", times["rtc --help"], "(goal < 0.100s)"))
    print(row("rtc check (small .rt)", times["rtc check (small .rt)"], "(goal < 0.120s)"))
    print(row("rtc check (first)", times["rtc check (first)"], "(goal < 0.120s)"))
    print(row("rtc exec -f hello.yml", times["rtc exec -f hello.yml"]))
    print(row("docker run --rm -i (same)", times["docker run --rm -i (same)"]))
    print(row("rtc exec (cache miss)", times["rtc exec (cache miss)"]))
    docker = median(times["docker run --rm -i (same)"])
    print(f"  ratio rtc exec / docker run: {median(times['rtc exec -f hello.yml']) / docker:.2f} (goal <= 1.25)")
    print(f"  ratio rtc exec (cache miss) / docker run: {median(times['rtc exec (cache miss)']) / docker:.2f}")
    if args.before:
        print(row("rtc exec (before)", times["rtc exec (before)"]))
        print(f"  ratio rtc exec (before) / docker run: {median(times['rtc exec (before)']) / docker:.2f}")
        print(row("rtc check (before, first)", times["rtc check (before, first)"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
