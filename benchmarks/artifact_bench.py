"""Handing a file from one step to the next (issue 19's goals), side by side in one run.

    .venv/bin/python benchmarks/artifact_bench.py [--mib 1024] [--repeat 3] [--s3]

- **default store**: `rtc run` of two steps (the first writes SIZE bytes at $DATA_PATH, the second reads
  them) against the floor, two `docker run`s sharing a bind-mounted folder (no copy at all). Goal <= 1.2x.
- **rtc's memory**: the peak RSS of the `rtc run` process, whatever SIZE (bytes are streamed). Goal < 150 MB.
- **--s3**: the same `rtc run` with RTC_STORE on SeaweedFS (scripts/services/seaweedfs.sh), against
  uploading then downloading the same bytes alone with s3fs (the client rtc uses; boto3 is not installed
  here): throughput ratio, goal >= 80 %.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_util import interleaved, load, median, row  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# rtc run, printing its own peak RSS when it exits (the engine does the containers' work, not rtc).
RTC = [sys.executable, "-c", "import atexit, resource, sys; atexit.register(lambda: print(f'RTC-PEAK-KIB "
       "{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr)); from rtc.cli import main; sys.exit(main())"]
PEAKS: list[float] = []
IMAGE = "rtc-test/busybox:1"
PIPELINE = '''namespace artbench
env bb {{ image = "{image}" }}
node Make {{
  env = bb
  outputs {{ data: file }}
  command = ["sh", "-c", "(head -c {size} /dev/zero; echo $RTC_RUN_ID) > $DATA_PATH"]  # new bytes each run
}}
node Use {{
  env = bb
  inputs {{ data: file }}
  command = ["sh", "-c", "wc -c < $DATA_PATH > /dev/null && cat $DATA_PATH > /dev/null"]
}}
graph g {{
  make = Make()
  use = Use(data = make.data)
}}
'''


def run(argv, env=None) -> float:
    began = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} failed:\n{done.stderr.decode(errors='replace')[-2000:]}")
    for line in done.stderr.decode(errors="replace").splitlines():
        if line.startswith("RTC-PEAK-KIB "):
            PEAKS.append(int(line.split()[1]) / 1024)
    return took


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--s3", action="store_true", help="also against SeaweedFS")
    args = ap.parse_args()
    size = args.mib * 1024 * 1024
    print(f"before: {load()}")
    with tempfile.TemporaryDirectory(prefix="rtc-artbench-") as tmp:
        tmp = Path(tmp)
        (tmp / "p.rt").write_text(PIPELINE.format(image=IMAGE, size=size), encoding="utf-8")
        shared = tmp / "shared"
        shared.mkdir()
        env = {**os.environ, "RTC_HOME": str(tmp / "home")}

        def floor():
            (shared / "f").unlink(missing_ok=True)
            return (run(["docker", "run", "--rm", "-v", f"{shared}:/d", IMAGE, "sh", "-c", f"head -c {size} /dev/zero > /d/f"])
                    + run(["docker", "run", "--rm", "-v", f"{shared}:/d:ro", IMAGE, "sh", "-c",
                           "wc -c < /d/f > /dev/null && cat /d/f > /dev/null"]))

        def rtc_run():
            return run([*RTC, "run", str(tmp / "p.rt"), "g", "--no-cache"], env=env)

        def sha256_alone():  # what content addressing costs: one SHA-256 pass over the same bytes
            import hashlib

            local = tmp / "hash.bin"
            with open(local, "wb") as f:
                f.truncate(size)
            began = time.perf_counter()
            h = hashlib.sha256()
            with open(local, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            took = time.perf_counter() - began
            local.unlink()
            return took

        commands = {"rtc run (default store)": rtc_run, "2 x docker run, shared folder": floor,
                    "sha256 of the file alone": sha256_alone}
        if args.s3:
            services = tmp / "services"
            subprocess.run([str(REPO / "scripts/services/seaweedfs.sh"), "start", str(services)], check=True)
            s3 = dict(line.split("=", 1) for line in (services / "seaweedfs.env").read_text().split())
            s3_env = {**env, **{k: v for k, v in s3.items() if k.startswith("AWS_")},
                      "RTC_STORE": f"s3://{s3['RTC_TEST_BUCKET']}/bench"}
            local = tmp / "alone.bin"
            with open(local, "wb") as f:
                f.truncate(size)
            # In a process of its own: s3fs's put_file holds much of the file in memory, and on Linux a
            # process's peak RSS is inherited by the children it starts (rtc's own figure would show it).
            alone = ("import sys, time, fsspec; fs = fsspec.filesystem('s3'); key = sys.argv[2] + '/alone/' + str(time.time_ns()); "
                     "fs.put_file(sys.argv[1], key); fs.get_file(key, sys.argv[1] + '.back'); fs.rm(key)")

            def s3_alone():
                took = run([sys.executable, "-c", alone, str(local), s3["RTC_TEST_BUCKET"]], env=s3_env)
                Path(str(local) + ".back").unlink()
                return took

            commands["rtc run (S3 store)"] = lambda: run([*RTC, "run", str(tmp / "p.rt"), "g", "--no-cache"], env=s3_env)
            commands["s3fs upload + download alone"] = s3_alone
        try:
            times = interleaved(commands, args.repeat)
        finally:
            if args.s3:
                subprocess.run([str(REPO / "scripts/services/seaweedfs.sh"), "stop", str(services)], check=True)
    print(f"after:  {load()}")
    print(f"file: {args.mib} MiB, repetitions: {args.repeat} (interleaved, after one warm-up round)")
    for name, values in times.items():
        print(row(name, values))
    ratio = median(times["rtc run (default store)"]) / median(times["2 x docker run, shared folder"])
    print(f"  ratio rtc / shared folder: {ratio:.2f} (goal <= 1.2)")
    print(f"  rtc run's own peak RSS: {max(PEAKS):.0f} MiB over {len(PEAKS)} runs (goal < 150 MB)")
    if args.s3:
        # What the S3 path adds over the default store's run, against the same bytes up and down alone.
        extra = median(times["rtc run (S3 store)"]) - median(times["rtc run (default store)"])
        alone = median(times["s3fs upload + download alone"])
        print(f"  S3: rtc's added time {extra:.2f}s vs up+down alone {alone:.2f}s: throughput {alone / extra:.0%} "
              "of the client alone (goal >= 80 %)" if extra > 0 else "  S3: rtc added no measurable time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
