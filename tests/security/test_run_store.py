"""The run store ($RTC_HOME) is owner-only, and a damaged one is a message (issue 11, items 3, 13, 16)."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys

import pytest

from rtc.base.diagnostics import RtcError
from rtc.integrations.tyger import buffers
from rtc.integrations.tyger.store import LogWriter, Store


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def rtc(*args, env_home, stdin=None):
    env = {**os.environ, "RTC_HOME": str(env_home)}
    return subprocess.run([sys.executable, "-m", "rtc", *args], capture_output=True, text=True, env=env,
                          input=stdin, timeout=60)


def test_a_new_home_is_owner_only(tmp_path):
    home = tmp_path / "deep" / "home"
    store = Store(home)
    run = store.create_run({"job": {}})
    buffer = buffers.create(store, {"k": "v"})
    log = LogWriter(store.log_path(run.id))
    log.write("a line with a secret")
    log.close()
    assert mode(home) == 0o700
    for folder in ("buffers", "logs", f"logs/{run.id}"):
        assert mode(home / folder) == 0o700, folder
    assert mode(home / "store.db") == 0o600
    assert mode(store.buffer_path(buffer.id)) == 0o600
    assert mode(store.log_path(run.id)) == 0o600
    for wal in home.glob("store.db-*"):  # SQLite gives its WAL and shm files the database's mode
        assert mode(wal) == 0o600, wal


def test_an_old_loose_home_is_tightened_when_opened(tmp_path):
    home = tmp_path / "home"
    (home / "buffers").mkdir(parents=True)
    (home / "logs" / "7").mkdir(parents=True)
    for path in (home, home / "buffers", home / "logs", home / "logs" / "7"):
        path.chmod(0o755)
    old_buffer = home / "buffers" / "abc"
    old_buffer.write_bytes(b"data")
    old_buffer.chmod(0o666)
    old_log = home / "logs" / "7" / "run.log"
    old_log.write_text("x")
    old_log.chmod(0o644)
    sqlite3.connect(home / "store.db").close()
    (home / "store.db").chmod(0o644)
    outside = tmp_path / "outside.txt"
    outside.write_text("not rtc's")
    outside.chmod(0o644)
    (home / "logs" / "link").symlink_to(outside)

    rtc("run", "list", env_home=home)

    assert mode(home) == mode(home / "buffers") == mode(home / "logs") == mode(home / "logs" / "7") == 0o700
    assert mode(old_buffer) == mode(old_log) == mode(home / "store.db") == 0o600
    assert mode(outside) == 0o644, "a symlink in the home is never followed"


def test_buffer_write_keeps_it_private(tmp_path):
    store = Store(tmp_path / "home")
    record = buffers.create(store)
    import io

    buffers.write(store, record.id, io.BytesIO(b"payload"))
    assert mode(store.buffer_path(record.id)) == 0o600
    out = io.BytesIO()
    buffers.read(store, record.id, out)
    assert out.getvalue() == b"payload"


@pytest.mark.parametrize("damage", [b"this is not a database at all" * 10, b"SQLite format 3\x00" + b"\xff" * 200, b""])
def test_a_corrupt_store_db_is_a_message(tmp_path, damage):
    home = tmp_path / "home"
    Store(home)
    (home / "store.db").write_bytes(damage)
    for suffix in ("-wal", "-shm"):
        (home / f"store.db{suffix}").unlink(missing_ok=True)
    for args in (["run", "list"], ["run", "show", "1"], ["buffer", "create"]):
        result = rtc(*args, env_home=home)
        if damage == b"":  # an empty file is an empty store: SQLite starts it afresh
            assert "Traceback" not in result.stderr and "cannot be used" not in result.stderr, result.stderr
            continue
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert "store.db cannot be used" in result.stderr, result.stderr


def test_a_damaged_row_is_a_message(tmp_path):
    home = tmp_path / "home"
    store = Store(home)
    run = store.create_run({"job": {}})
    db = sqlite3.connect(home / "store.db")
    db.execute("UPDATE runs SET spec = ? WHERE id = ?", ("{not json", run.id))
    db.commit()
    db.close()
    with pytest.raises(RtcError, match="damaged"):
        store.get_run(run.id)
    result = rtc("run", "show", str(run.id), env_home=home)
    assert result.returncode == 1 and "damaged" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("make", ["file", "fifo", "dir-db"])
def test_a_home_that_is_not_a_folder_is_a_message(tmp_path, make):
    home = tmp_path / "home"
    if make == "file":
        home.write_text("oops")
    elif make == "fifo":
        os.mkfifo(home)
    else:
        (home / "store.db").mkdir(parents=True)
    result = rtc("run", "list", env_home=home)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "cannot use" in result.stderr or "cannot be used" in result.stderr, result.stderr


@pytest.mark.parametrize("args, message", [
    (["run", "list", "--limit", "-1"], "--limit -1"),
    (["run", "list", "--limit", "0"], "--limit 0"),
    (["run", "show", "99999999999999999999999"], "not found"),
    (["run", "show", "-5"], "not found"),
    (["run", "logs", "1", "--tail", "-3"], "not found"),
    (["run", "cancel", "9223372036854775808"], "not found"),
])
def test_numbers_beyond_sqlite_or_below_zero_are_messages(tmp_path, args, message):
    result = rtc(*args, env_home=tmp_path / "home")
    assert result.returncode == 1, result
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_huge_limit_lists_everything(tmp_path):
    home = tmp_path / "home"
    result = rtc("run", "list", "--limit", "99999999999999999999999", env_home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

