"""Ephemeral buffers (`_`), `bufferTtl`, `buffer create --ttl`: buffers that go away, on the real engine."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tyger_support import HELLO_YML, leftovers, rtc, rtc_json, wait_for


def test_ephemeral_buffers_live_as_long_as_their_run(tmp_path, docker_client):
    (tmp_path / "hello.yml").write_text(HELLO_YML)
    # exec: `_` is the buffer exec streams through; it is gone once the run is
    done = rtc("exec", "-f", str(tmp_path / "hello.yml"), "-b", "input=_,output=_", input=b"Paul\n")
    assert (done.returncode, done.stdout) == (0, b"Hello Paul\n"), done.stderr.decode()
    ids = rtc_json("run", "show", "1")["job"]["buffers"]
    assert all(b.startswith("temp-") for b in ids.values())
    for buffer_id in ids.values():
        gone = rtc("buffer", "show", buffer_id)
        assert gone.returncode == 1 and "not found" in gone.stderr.decode()
    # run create: an ephemeral output is read while the run lives, then removed
    run_id = rtc("run", "create", "-f", str(tmp_path / "hello.yml"), "--buffer", "output=_").stdout.decode().strip()
    ids = rtc_json("run", "show", run_id)["job"]["buffers"]
    assert ids["output"].startswith("temp-") and not ids["input"].startswith("temp-")
    # the reader starts first (the run cannot end before its input is written), so it gets everything
    reader = subprocess.Popen([sys.executable, "-m", "rtc", "buffer", "read", ids["output"]],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    wait_for(lambda: _has_open(reader.pid, ids["output"]), timeout=60, what="the reader to open the buffer")
    assert rtc("buffer", "write", ids["input"], input=b"Ada\n").returncode == 0
    out, err = reader.communicate(timeout=120)
    assert (reader.returncode, out) == (0, b"Hello Ada\n"), err.decode()
    wait_for(lambda: rtc_json("run", "show", run_id)["status"] == "Succeeded", timeout=60, what="Succeeded")
    assert rtc("buffer", "show", ids["output"]).returncode == 1
    assert rtc_json("buffer", "show", ids["input"])["complete"] is True  # a regular buffer stays
    assert leftovers(docker_client) == []


def test_buffer_ttl_on_create_and_in_run_specs(tmp_path, docker_client):
    short = rtc("buffer", "create", "--ttl", "2s").stdout.decode().strip()
    day = rtc("buffer", "create", "--ttl", "1.00:00").stdout.decode().strip()
    forever = rtc("buffer", "create").stdout.decode().strip()
    shown = rtc_json("buffer", "show", day)
    assert shown["expiresAt"] > shown["createdAt"]
    assert "expiresAt" not in rtc_json("buffer", "show", forever)
    time.sleep(2.5)
    gone = rtc("buffer", "read", short)
    assert gone.returncode == 1 and "not found" in gone.stderr.decode()
    assert rtc("buffer", "show", day).returncode == 0
    assert not any((tmp_path / "rtc-home" / "buffers").glob(short + "*"))  # the bytes went too

    (tmp_path / "hello.yml").write_text(HELLO_YML)
    (tmp_path / "run.yml").write_text("job:\n  codespec: hello\n  bufferTtl: \"0.00:00:03\"\n")
    done = rtc("exec", "-f", str(tmp_path / "run.yml"), input=b"Bo\n")
    assert (done.returncode, done.stdout) == (0, b"Hello Bo\n"), done.stderr.decode()
    shown = rtc_json("run", "show", "1")
    assert shown["job"]["bufferTtl"] == "0.00:00:03"
    time.sleep(3.5)
    for buffer_id in shown["job"]["buffers"].values():
        assert rtc("buffer", "show", buffer_id).returncode == 1
    # --buffer-ttl on the command line wins over the file
    done = rtc("exec", "-f", str(tmp_path / "run.yml"), "--buffer-ttl", "1h", input=b"Cy\n")
    assert done.returncode == 0, done.stderr.decode()
    assert rtc_json("run", "show", "2")["job"]["bufferTtl"] == "0.01:00:00"


def test_bad_lifetimes_are_messages(tmp_path):
    for args in (["buffer", "create", "--ttl", "soon"], ["buffer", "create", "--ttl", "1.25:00"]):
        done = rtc(*args)
        assert done.returncode == 1 and "bad buffer TTL" in done.stderr.decode(), args
        assert b"Traceback" not in done.stderr
    (tmp_path / "hello.yml").write_text(HELLO_YML)
    (tmp_path / "run.yml").write_text("job:\n  codespec: hello\n  bufferTtl: later\n")
    done = rtc("check", str(tmp_path / "run.yml"))
    assert done.returncode == 1 and "run.yml:3:" in done.stderr.decode(), done.stderr.decode()


def _has_open(pid: int, buffer_id: str) -> bool:
    """Whether process `pid` has the buffer's file open (Linux /proc)."""
    folder = f"/proc/{pid}/fd"
    try:
        return any(os.readlink(os.path.join(folder, fd)).endswith("/" + buffer_id) for fd in os.listdir(folder))
    except OSError:
        return False
