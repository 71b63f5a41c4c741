"""Streams survive their writers and readers (issue 21, class 4). Real engine, real processes, real SIGKILL.

- `rtc exec` whose job stops reading early exits 0 while its stdin is still open (was 134:
  `Fatal Python error: _enter_buffered_busy`);
- after SIGKILL of `rtc buffer write` or `rtc exec`, the input buffer is marked failed (readers end
  with an error, not wait forever), and `rtc gc` removes the pipes folder;
- `rtc exec`'s own stdin/stdout buffers expire (`EXEC_BUFFER_TTL_SECONDS`) and `rtc gc` collects them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from fault_support import RTC, rtc as _rtc, wait_for as _wait_for


def rtc(*args, input=None, timeout=120):
    return _rtc(*args, input=input, timeout=timeout, env=dict(os.environ), text=False)


def wait_for(predicate, timeout=90.0, what="condition"):
    return _wait_for(predicate, timeout, what, every=0.1)


def spec(tmp_path: Path, script: str) -> Path:
    path = tmp_path / "s.yml"
    path.write_text(
        "name: s\nimage: rtc-test/busybox:1\nbuffers: {inputs: [input], outputs: [output]}\n"
        f"command: [\"sh\", \"-c\", {json.dumps(script)}]\n"
    )
    return path


def show(*args):
    done = rtc(*args)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


@pytest.mark.parametrize("script", [
    'head -n 1 "$INPUT_PIPE" > "$OUTPUT_PIPE"',          # reads one line, then stops
    'echo "never read" > "$OUTPUT_PIPE"',                # never opens its input
])
def test_exec_whose_job_stops_reading_early_exits_0_with_stdin_open(tmp_path, docker_client, script):
    proc = subprocess.Popen([*RTC, "exec", "-f", str(spec(tmp_path, script))], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        proc.stdin.write(b"first\nsecond\n")
        proc.stdin.flush()  # and stays open until the command has ended
        out, err = proc.stdout.read(), proc.stderr.read()
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    assert b"Fatal Python error" not in err and code == 0, (code, err.decode())
    assert out in (b"first\n", b"never read\n")
    run = show("run", "show", "1")
    input_buffer = run["job"]["buffers"]["input"]
    shown = show("buffer", "show", input_buffer)
    assert shown["complete"] is False and "standard input" in shown["failed"], shown


def test_sigkill_of_buffer_write_fails_the_buffer_and_readers_end(tmp_path):
    buffer_id = rtc("buffer", "create").stdout.decode().strip()
    writer = subprocess.Popen([*RTC, "buffer", "write", buffer_id], stdin=subprocess.PIPE, env=dict(os.environ))
    try:
        writer.stdin.write(b"partial data\n")
        writer.stdin.flush()
        wait_for(lambda: show("buffer", "show", buffer_id)["size"] == 13, what="the bytes in the buffer")
        writer.kill()
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.stdin.close()
    read = rtc("buffer", "read", buffer_id, timeout=60)  # used to wait forever
    assert read.returncode != 0 and read.stdout == b"partial data\n", read
    assert b"incomplete" in read.stderr and b"Traceback" not in read.stderr, read.stderr
    assert f"pid {writer.pid}".encode() in read.stderr
    shown = show("buffer", "show", buffer_id)
    assert shown["complete"] is False and "ended before completing it" in shown["failed"]
    again = rtc("buffer", "write", buffer_id, input=b"more")
    assert again.returncode != 0 and b"Traceback" not in again.stderr


def test_a_buffer_being_written_is_not_failed(tmp_path):
    buffer_id = rtc("buffer", "create").stdout.decode().strip()
    writer = subprocess.Popen([*RTC, "buffer", "write", buffer_id], stdin=subprocess.PIPE, env=dict(os.environ))
    try:
        writer.stdin.write(b"x")
        writer.stdin.flush()
        wait_for(lambda: show("buffer", "show", buffer_id)["size"] == 1, what="the byte")
        assert rtc("gc").returncode == 0
        assert "failed" not in show("buffer", "show", buffer_id)
        writer.stdin.close()
        assert writer.wait(timeout=60) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
    assert show("buffer", "show", buffer_id)["complete"] is True


def test_sigkill_of_exec_fails_its_input_and_gc_removes_the_pipes(tmp_path, docker_client):
    home = Path(os.environ["RTC_HOME"])
    proc = subprocess.Popen([*RTC, "exec", "-f", str(spec(tmp_path, 'cat "$INPUT_PIPE" > "$OUTPUT_PIPE"'))],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ), start_new_session=True)
    try:
        proc.stdin.write(b"hello\n")
        proc.stdin.flush()
        wait_for(lambda: (home / "pipes").is_dir() and os.listdir(home / "pipes"), what="the pipes folder")
        wait_for(lambda: proc.stdout.readline() == b"hello\n", what="the echo")
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    assert os.listdir(home / "pipes"), "SIGKILL left the pipes folder (as it would)"
    done = rtc("gc")
    assert done.returncode == 0, done.stderr
    assert b"finished tyger run 1" in done.stdout and f"pid {proc.pid}".encode() in done.stdout, done
    assert os.listdir(home / "pipes") == [], "gc removed the pipes folder"
    run = show("run", "show", "1")
    assert run["status"] == "Failed", run
    read = rtc("buffer", "read", run["job"]["buffers"]["input"], timeout=60)
    assert read.returncode != 0 and read.stdout == b"hello\n" and b"incomplete" in read.stderr, read
    assert not docker_client.containers.list(all=True, filters={"label": "rtc.tyger.run=1"}, sparse=True) or all(
        c.attrs["Labels"].get("rtc.store") != _store_key() for c in
        docker_client.containers.list(all=True, filters={"label": "rtc.tyger.run=1"}, sparse=True))


def _store_key() -> str:
    from rtc.integrations.tyger.store import Store

    return Store(reconcile=False).key


def test_execs_own_buffers_expire_and_a_given_buffer_ttl_wins(tmp_path, docker_client):
    from rtc.integrations.tyger import buffers

    path = spec(tmp_path, 'cat "$INPUT_PIPE" > "$OUTPUT_PIPE"')
    assert rtc("exec", "-f", str(path), input=b"x").returncode == 0
    run = show("run", "show", "1")
    created = show("buffer", "show", run["job"]["buffers"]["output"])
    from rtc.integrations.tyger.store import parse_time

    life = parse_time(created["expiresAt"]) - parse_time(created["createdAt"])
    assert abs(life - buffers.EXEC_BUFFER_TTL_SECONDS) < 1, created
    assert rtc("exec", "-f", str(path), "--buffer-ttl", "0.00:10:00", input=b"y").returncode == 0
    second = show("buffer", "show", show("run", "show", "2")["job"]["buffers"]["input"])
    assert abs(parse_time(second["expiresAt"]) - parse_time(second["createdAt"]) - 600) < 1, second
    # Their time is up: `rtc gc` (as any command reading buffers) deletes them, bytes and all.
    from rtc.integrations.tyger.store import Store

    store = Store(reconcile=False)
    with store._connect() as db:
        db.execute("UPDATE buffer_lifetimes SET expires_at = 1")
    assert rtc("gc").returncode == 0
    assert not list((Path(os.environ["RTC_HOME"]) / "buffers").iterdir())


def test_sigterm_still_cancels_exec_cleanly(tmp_path, docker_client):
    proc = subprocess.Popen([*RTC, "exec", "-f", str(spec(tmp_path, 'cat "$INPUT_PIPE" > "$OUTPUT_PIPE"'))],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        proc.stdin.write(b"hello\n")
        proc.stdin.flush()
        wait_for(lambda: proc.stdout.readline() == b"hello\n", what="the echo")
        proc.send_signal(signal.SIGTERM)
        err = proc.stderr.read()
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    assert code == 130 and b"Fatal Python error" not in err, (code, err)
