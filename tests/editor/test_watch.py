"""`rtc check --watch` as a real process: a save of an imported file is re-checked, and only changes print."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

ENVS = 'env py { base = "python:3.11-slim" }\n'
PIPELINE = 'import "envs.rt"\n\nnode A { env = py  command = ["true"] }\n'


def start(*args, cwd):
    process = subprocess.Popen(
        [sys.executable, "-m", "rtc", "check", "--watch", *args], cwd=cwd, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in process.stdout], daemon=True).start()
    return process, lines


def read_until(lines: queue.Queue, predicate, timeout: float = 60) -> list[str]:
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if predicate(line):
            return seen
    raise AssertionError(f"timed out; output so far: {seen}")


def test_watch_rechecks_on_a_save_of_an_import_and_prints_only_changes(tmp_path):
    (tmp_path / "envs.rt").write_text(ENVS)
    (tmp_path / "pipeline.rt").write_text(PIPELINE)
    process, lines = start("pipeline.rt", cwd=tmp_path)
    try:
        first = read_until(lines, lambda line: line.startswith("watching"))
        assert "ok: pipeline.rt" in first
        assert first[-1] == "watching 2 files; Ctrl-C stops"
        time.sleep(0.5)
        (tmp_path / "envs.rt").write_text(ENVS.replace("env py", "env py2"))
        broken = read_until(lines, lambda line: "E300" in line)
        assert any("pipeline.rt:3:16: error[E300]: unknown environment `py`" in line for line in broken)
        (tmp_path / "envs.rt").write_text(ENVS)
        fixed = read_until(lines, lambda line: line == "ok: pipeline.rt")
        assert any(line.startswith("fixed: ") and "[E300]" in line for line in fixed)
        assert not any("error[" in line for line in fixed), "an unchanged problem was printed again"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
