"""What every benchmark here shares: timing a command, interleaved repetitions, medians, the load."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

# The `rtc` console script beside this interpreter (what users run), else the same entry point through -c.
_SCRIPT = os.path.join(os.path.dirname(sys.executable), "rtc")
RTC = [_SCRIPT] if os.path.exists(_SCRIPT) else [sys.executable, "-c", "import sys; from rtc.cli import main; sys.exit(main())"]


def timed(argv: list[str], *, stdin: bytes | None = None, env: dict | None = None, check: bool = True) -> float:
    """Wall seconds of one run of `argv` (a failure stops the benchmark with its error)."""
    began = time.perf_counter()
    done = subprocess.run(argv, input=stdin, capture_output=True, env=env)
    took = time.perf_counter() - began
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr.decode(errors='replace')}")
    return took


def interleaved(commands: dict[str, callable], repeat: int, warmup: int = 1) -> dict[str, list[float]]:
    """Run each timing function `warmup` times unmeasured, then `repeat` rounds of all of them in turn."""
    for _ in range(warmup):
        for fn in commands.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, fn in commands.items():
            times[name].append(fn())
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def row(name: str, values: list[float], goal: str = "") -> str:
    shown = ", ".join(f"{v:.3f}" for v in values)
    return f"  {name:<34} median {median(values):7.3f}s  {goal}  ({shown})"
