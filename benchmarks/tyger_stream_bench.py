"""A stream through a Tyger run (`rtc exec`) beside the same bytes through `docker run -i`.

`rtc exec` of a codespec that copies its input pipe to its output pipe
(`cat "$INPUT_PIPE" > "$OUTPUT_PIPE"`, busybox), fed SIZE bytes on standard
input and read back on standard output, against `docker run -i --rm busybox
cat` piping the same bytes. Both are checked byte for byte (SHA-256). For
each repetition it records the wall time, the throughput and the peak RSS of
the rtc process (`wait4` rusage: the `rtc exec` process itself, which holds
the stdin writer, the pipe feeder and drainer and the stdout follower); it
prints medians and the ratio of throughputs. The goal: 1 GiB through rtc with
a peak RSS under 200 MB.

    .venv/bin/python benchmarks/tyger_stream_bench.py [--size 1GiB] [--repeat 3]

rtc's path keeps each buffer as a file in the run store (Tyger's buffers are
stored too), so the bytes are written to disk twice (the input and the output
buffer); `docker run -i` streams through the engine's attach socket only.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

IMAGE = "rtc-test/busybox:1"
CODESPEC = f"""\
name: copy
image: {IMAGE}
buffers: {{inputs: [input], outputs: [output]}}
command: ["sh", "-c", "cat \\"$INPUT_PIPE\\" > \\"$OUTPUT_PIPE\\""]
"""
BLOCK = os.urandom(1 << 20)


def parse_size(text: str) -> int:
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def expected_digest(size: int) -> str:
    digest = hashlib.sha256()
    for offset in range(0, size, len(BLOCK)):
        digest.update(BLOCK[: min(len(BLOCK), size - offset)])
    return digest.hexdigest()


def pipe_through(argv: list[str], size: int, env: dict) -> tuple[float, int, str]:
    """Feed `size` bytes to argv's stdin, hash its stdout; (seconds, peak RSS bytes of argv's process, digest)."""
    began = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def feed() -> None:
        try:
            for offset in range(0, size, len(BLOCK)):
                proc.stdin.write(BLOCK[: min(len(BLOCK), size - offset)])
        finally:
            proc.stdin.close()

    errors: list[bytes] = []
    threading.Thread(target=feed, daemon=True).start()
    threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True).start()
    digest = hashlib.sha256()
    while chunk := proc.stdout.read(1 << 20):
        digest.update(chunk)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - began
    if status != 0:
        time.sleep(0.5)
        raise SystemExit(f"{' '.join(argv)} failed ({status}):\n{b''.join(errors).decode(errors='replace')[-2000:]}")
    return took, usage.ru_maxrss * 1024, digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1GiB", help="bytes to stream (e.g. 1GiB, 200MiB)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    size = parse_size(args.size)
    want = expected_digest(size)
    rtc_times, rtc_rss, docker_times = [], [], []
    with tempfile.TemporaryDirectory(prefix="rtc-stream-bench-") as tmp:
        spec = Path(tmp) / "copy.yml"
        spec.write_text(CODESPEC)
        for rep in range(args.repeat):
            env = dict(os.environ, RTC_HOME=str(Path(tmp) / f"home-{rep}"))
            took, rss, digest = pipe_through([sys.executable, "-m", "rtc", "exec", "-f", str(spec)], size, env)
            assert digest == want, "rtc exec changed the bytes"
            rtc_times.append(took)
            rtc_rss.append(rss)
            subprocess.run(["rm", "-rf", env["RTC_HOME"]], check=True)  # 2 x SIZE of buffers
            took, _, digest = pipe_through(["docker", "run", "-i", "--rm", IMAGE, "cat"], size, dict(os.environ))
            assert digest == want, "docker run -i changed the bytes"
            docker_times.append(took)
            print(f"rep {rep + 1}: rtc exec {took_fmt(rtc_times[-1], size)}, peak RSS {rss / 1e6:.0f} MB; "
                  f"docker run -i {took_fmt(docker_times[-1], size)}", flush=True)
    rtc_median, docker_median = statistics.median(rtc_times), statistics.median(docker_times)
    print(f"size {size / (1 << 20):.0f} MiB, {args.repeat} repetitions")
    print(f"rtc exec       median {took_fmt(rtc_median, size)}, peak RSS max {max(rtc_rss) / 1e6:.0f} MB (goal < 200 MB)")
    print(f"docker run -i  median {took_fmt(docker_median, size)}")
    print(f"throughput ratio rtc / docker: {docker_median / rtc_median:.2f}")


def took_fmt(seconds: float, size: int) -> str:
    return f"{seconds:.1f}s ({size / (1 << 20) / seconds:.0f} MiB/s)"


if __name__ == "__main__":
    main()
