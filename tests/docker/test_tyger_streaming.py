"""Buffers stream: a run reads its input while it is written, and `rtc exec` prints output as it is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

from tyger_support import leftovers, rtc, rtc_json, wait_for

# Echo each input line at once, stamped with the container's clock; exit at end of input.
ECHO = """\
name: echo
image: rtc-test/busybox:1
buffers: {inputs: [input], outputs: [output]}
command: ["sh", "-c", "while read line; do echo \\"got $line\\"; done < \\"$INPUT_PIPE\\" > \\"$OUTPUT_PIPE\\""]
"""


def test_exec_streams_stdin_to_the_run_and_its_output_to_stdout(tmp_path, docker_client):
    (tmp_path / "echo.yml").write_text(ECHO)
    proc = subprocess.Popen([sys.executable, "-m", "rtc", "exec", "-f", str(tmp_path / "echo.yml")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        status = []
        err_reader = threading.Thread(target=lambda: status.extend(proc.stderr), daemon=True)
        err_reader.start()
        wait_for(lambda: any(b"Running" in line for line in status), timeout=120, what="the run to be Running")
        received: list[tuple[float, bytes]] = []
        out_reader = threading.Thread(target=lambda: received.extend((time.time(), line) for line in proc.stdout),
                                      daemon=True)
        out_reader.start()
        sent = []
        for i in range(4):
            sent.append(time.time())
            proc.stdin.write(f"line {i}\n".encode())
            proc.stdin.flush()
            # each line comes back before the next one is even written: the run is still Running
            wait_for(lambda: len(received) == i + 1, timeout=30, what=f"line {i} on stdout")
            assert rtc_json("run", "show", "1")["status"] == "Running"
            time.sleep(1)
        proc.stdin.close()
        assert proc.wait(timeout=120) == 0, b"".join(status).decode()
        out_reader.join(10)
    finally:
        proc.kill()
    assert [line for _, line in received] == [f"got line {i}\n".encode() for i in range(4)]
    # timestamps: line i reached stdout after it was sent and before line i+1 was sent (a second later)
    for i, (at, _) in enumerate(received):
        assert sent[i] <= at < (sent[i + 1] if i + 1 < len(sent) else float("inf"))
    assert sent[-1] - sent[0] >= 3
    assert leftovers(docker_client) == []


def test_run_create_reads_its_input_while_it_is_written(tmp_path, docker_client):
    """`run create` then `buffer write` and `buffer read` as separate commands, as in the seed."""
    (tmp_path / "echo.yml").write_text(ECHO)
    run_id = rtc("run", "create", "-f", str(tmp_path / "echo.yml")).stdout.decode().strip()
    ids = rtc_json("run", "show", run_id)["job"]["buffers"]
    wait_for(lambda: rtc_json("run", "show", run_id)["status"] == "Running", timeout=120, what="Running")
    writer = subprocess.Popen([sys.executable, "-m", "rtc", "buffer", "write", ids["input"]],
                              stdin=subprocess.PIPE, env=dict(os.environ))
    reader = subprocess.Popen([sys.executable, "-m", "rtc", "buffer", "read", ids["output"]],
                              stdout=subprocess.PIPE, env=dict(os.environ))
    try:
        writer.stdin.write(b"first\n")
        writer.stdin.flush()
        assert reader.stdout.readline() == b"got first\n"  # while the input buffer is still open
        assert rtc_json("buffer", "show", ids["input"])["complete"] is False
        writer.stdin.write(b"second\n")
        writer.stdin.close()
        assert writer.wait(60) == 0
        assert reader.stdout.read() == b"got second\n"
        assert reader.wait(60) == 0
    finally:
        writer.kill()
        reader.kill()
    wait_for(lambda: rtc_json("run", "show", run_id)["status"] == "Succeeded", timeout=60, what="Succeeded")


def test_a_job_that_ignores_its_input_and_one_that_stops_early(tmp_path, docker_client):
    (tmp_path / "ignore.yml").write_text(
        "name: ignore\nimage: rtc-test/busybox:1\nbuffers: {inputs: [input], outputs: [output]}\n"
        'command: ["sh", "-c", "echo done > $OUTPUT_PIPE"]\n')
    done = rtc("exec", "-f", str(tmp_path / "ignore.yml"), input=b"x" * 3_000_000)
    assert (done.returncode, done.stdout) == (0, b"done\n"), done.stderr.decode()
    (tmp_path / "head.yml").write_text(
        "name: head\nimage: rtc-test/busybox:1\nbuffers: {inputs: [input], outputs: [output]}\n"
        'command: ["sh", "-c", "head -c 5 $INPUT_PIPE > $OUTPUT_PIPE"]\n')
    done = rtc("exec", "-f", str(tmp_path / "head.yml"), input=b"abcdefgh" * 1_000_000)
    assert (done.returncode, done.stdout) == (0, b"abcde"), done.stderr.decode()
    assert leftovers(docker_client) == []
    assert json.loads(rtc("run", "list").stdout)[0]["status"] == "Succeeded"
