"""Tyger buffers on this machine: write-once byte streams kept as files, read while they are written.

A buffer is a file under `$RTC_HOME/buffers/<id>` plus a row in the store.
Like Tyger's, a buffer is written once and then complete ("sealed"): a
second writer is refused, and readers *follow* it: they get its bytes as
they are written and stop when it is complete (`follow`). So a run reads its
input while `rtc buffer write` / `rtc exec` still writes it, and `rtc exec`
prints the output while the run writes it. Inside a container a buffer is a
named pipe fed from (or drained into) the file by the runner (`pipes.py`).

Lifetimes: a buffer may expire (`rtc buffer create --ttl`, a run's
`bufferTtl`); an ephemeral one (`_` as a run's buffer argument) lives as long
as its run. `remove_expired` deletes both kinds once their time is up.
`rtc exec`'s own standard input and output buffers expire after
`EXEC_BUFFER_TTL_SECONDS` (one hour) unless the run gives a `bufferTtl`.

A writer that dies (SIGKILL of `rtc buffer write` or `rtc exec`) cannot
complete its buffer. Each writer records its owner label
(`rtc.integrations.engine.owners`) when it starts and holds an exclusive
`flock` on the file while it writes; once that owner is provably gone and
the lock is free, the buffer is marked failed (`fail_abandoned`: by the run
store's reconcile, by `rtc gc`, and by a follower that waits on it), so its
readers end with an error instead of waiting forever.
"""

from __future__ import annotations

import base64
import fcntl
import os
import re
import threading
import time
from contextlib import contextmanager
from typing import BinaryIO

from rtc.runtime import contract
from rtc.base.diagnostics import RtcError
from rtc.integrations.tyger.store import BufferRecord, Store

CONTAINER_DIR = contract.BUFFERS_DIR
_CHUNK = 1 << 16
_FOLLOW_CHUNK = 1 << 20
FOLLOW_POLL_SECONDS = 0.02  # how soon a follower sees new bytes
WRITER_CHECK_SECONDS = 1.0  # how often a waiting follower checks that the writer still lives
EXEC_BUFFER_TTL_SECONDS = 3600.0  # `rtc exec`'s stdin/stdout buffers, unless the run gives a bufferTtl


def new_buffer_id() -> str:
    """26 lowercase base32 characters (128 random bits), shaped like Tyger's buffer ids."""
    return base64.b32encode(os.urandom(16)).decode().rstrip("=").lower()


def env_name(parameter: str) -> str:
    """`input` -> `INPUT`, `my-data` -> `MY_DATA`: the stem of the `<NAME>_PIPE` variable."""
    return re.sub(r"[^A-Za-z0-9]", "_", parameter).upper()


def pipe_variable(parameter: str) -> str:
    return contract.pipe_variable(parameter)


def container_path(parameter: str) -> str:
    return contract.buffer_file(parameter)


def create(store: Store, tags: dict[str, str] | None = None, *, ttl_seconds: float | None = None,
           ephemeral: bool = False) -> BufferRecord:
    """A new empty buffer; it expires `ttl_seconds` from now, or with its run when `ephemeral` (see `attach_to_run`)."""
    buffer_id = ("temp-" + new_buffer_id()[:21]) if ephemeral else new_buffer_id()
    record = store.create_buffer(buffer_id, dict(tags or {}))
    if ttl_seconds is not None or ephemeral:
        expires = None if ephemeral else record.created_at + ttl_seconds
        with _db(store) as db:
            db.execute("INSERT INTO buffer_lifetimes (id, expires_at, run) VALUES (?, ?, ?)", (buffer_id, expires, None))
    return record


def attach_to_run(store: Store, buffer_ids: list[str], run_id: int) -> None:
    """Ephemeral buffers `buffer_ids` live as long as run `run_id` (see `end_of_run`)."""
    with _db(store) as db:
        db.executemany("UPDATE buffer_lifetimes SET run = ? WHERE id = ?", [(run_id, b) for b in buffer_ids])


def write(store: Store, buffer_id: str, source: BinaryIO) -> int:
    """Copy `source` into the buffer as it comes, then complete it; returns the bytes written.

    Each chunk reaches the file at once (readers follow it); a buffer being
    written or already complete refuses a second writer.
    """
    record = get(store, buffer_id)
    if record.sealed_at is not None:
        raise RtcError(f"buffer {buffer_id} has already been written", hint="buffers are write-once; create a new one")
    read = getattr(source, "read1", source.read)  # what is there now, not a full chunk: lines pass one by one
    written = 0
    with open(store.buffer_path(buffer_id), "ab", buffering=0) as out:
        try:
            fcntl.flock(out.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RtcError(f"buffer {buffer_id} is being written by another writer",
                           hint="buffers are write-once; create a new one") from None
        if get(store, buffer_id).sealed_at is not None:  # completed while we waited for the lock
            raise RtcError(f"buffer {buffer_id} has already been written", hint="buffers are write-once; create a new one")
        _record_writer(store, buffer_id)
        while chunk := read(_CHUNK):
            out.write(chunk)
            written += len(chunk)
        seal(store, buffer_id)
    return written


# Followers in this process wait on this between polls; `seal` wakes them (a run's input completed by
# `rtc exec`'s stdin reaches the job at once, its output reaches stdout at once: not 20 ms later).
_sealed = threading.Condition()
_seals_here = [0]


def seal(store: Store, buffer_id: str) -> None:
    """Complete the buffer, and wake this process's followers so they see it now."""
    store.seal_buffer(buffer_id)
    with _sealed:
        _seals_here[0] += 1
        _sealed.notify_all()


def get(store: Store, buffer_id: str) -> BufferRecord:
    """The buffer's record; an expired buffer is removed first, and then not found."""
    remove_expired(store)
    return store.get_buffer(buffer_id)


def follow(store: Store, buffer_id: str, sink, *, stop=None, timeout: float | None = None) -> int:
    """Copy the buffer to `sink` (a writable binary file, or a callable taking bytes) as it is written.

    Returns once the buffer is complete and copied (or removed meanwhile:
    what was written is copied), when `stop` (an Event) is set, or raises
    when `timeout` seconds pass before the buffer is complete. A buffer
    completed by this process (`seal`) is seen at once; one completed by
    another process, at the next poll.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    put = sink if callable(sink) else sink.write
    copied = 0
    next_writer_check = time.monotonic() + WRITER_CHECK_SECONDS
    with open(store.buffer_path(buffer_id), "rb", buffering=0) as src:
        while True:
            seen = _seals_here[0]
            done = _complete(store, buffer_id)  # asked before reading, so no last chunk is missed
            while chunk := src.read(_FOLLOW_CHUNK):
                put(chunk)
                copied += len(chunk)
                if not callable(sink):
                    sink.flush()
            if done:
                failed = failure(store, buffer_id)
                if failed is not None:
                    raise RtcError(f"buffer {buffer_id} is incomplete: {failed}",
                                   hint="what was written before has been copied; write the data again into a new buffer")
                return copied
            if stop is not None and stop.is_set():
                return copied
            if time.monotonic() >= next_writer_check:  # a writer killed with SIGKILL never completes it
                next_writer_check = time.monotonic() + WRITER_CHECK_SECONDS
                fail_abandoned(store, only=buffer_id)
                continue
            if deadline is not None and time.monotonic() >= deadline:
                raise RtcError(f"buffer {buffer_id} was not completed within {timeout:g}s")
            with _sealed:
                if _seals_here[0] == seen:  # nothing completed here since we looked: wait for that, or the poll
                    _sealed.wait(FOLLOW_POLL_SECONDS)


def read(store: Store, buffer_id: str, sink: BinaryIO, timeout: float | None = None) -> int:
    """Copy the buffer to `sink` as it is written, until it is complete; returns the bytes copied."""
    get(store, buffer_id)  # a clear "not found" before anything is opened
    return follow(store, buffer_id, sink, timeout=timeout)


def _complete(store: Store, buffer_id: str) -> bool:
    """Sealed, or gone (an ephemeral buffer removed with its run is complete by then)."""
    try:
        return store.get_buffer(buffer_id).sealed_at is not None
    except RtcError:
        return True


# ---------------------------------------------------------------- writers that died

_WRITERS = """
CREATE TABLE IF NOT EXISTS buffer_writers (
    id      TEXT PRIMARY KEY,
    owner   TEXT NOT NULL,
    failed  TEXT
);
"""


@contextmanager
def _writers_db(store: Store):
    with store._connect() as db:
        if not getattr(store, "_buffer_writers_ready", False):
            db.executescript(_WRITERS)
            store._buffer_writers_ready = True
        yield db


def _record_writer(store: Store, buffer_id: str) -> None:
    from rtc.integrations.engine.owners import owner_label

    with _writers_db(store) as db:
        db.execute("INSERT OR REPLACE INTO buffer_writers (id, owner, failed) VALUES (?, ?, NULL)", (buffer_id, owner_label()))


def failure(store: Store, buffer_id: str) -> str | None:
    """Why the buffer is incomplete for good (its writer died), or None."""
    with _writers_db(store) as db:
        row = db.execute("SELECT failed FROM buffer_writers WHERE id = ?", (buffer_id,)).fetchone()
    return None if row is None else row["failed"]


def mark_failed(store: Store, buffer_id: str, reason: str) -> None:
    """The buffer will never be complete: readers copy what is there, then end with `reason`."""
    from rtc.integrations.engine.owners import owner_label

    with _writers_db(store) as db:
        db.execute("INSERT INTO buffer_writers (id, owner, failed) VALUES (?, ?, ?) "
                   "ON CONFLICT(id) DO UPDATE SET failed = excluded.failed WHERE failed IS NULL",
                   (buffer_id, owner_label(), reason))
    seal(store, buffer_id)


def _lock_free(path) -> bool:
    """No process (in any PID namespace of this kernel) holds the writer's lock on the buffer file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases our shared lock too


def fail_abandoned(store: Store, only: str | None = None) -> list[str]:
    """Mark failed every incomplete buffer whose writer is provably gone and whose lock is free; returns their ids."""
    from rtc.integrations.engine.owners import owner_pid, owner_state

    query = ("SELECT w.id, w.owner FROM buffer_writers w JOIN buffers b ON b.id = w.id "
             "WHERE w.failed IS NULL AND b.sealed_at IS NULL")
    params: tuple = ()
    if only is not None:
        query += " AND w.id = ?"
        params = (only,)
    with _writers_db(store) as db:
        rows = db.execute(query, params).fetchall()
    failed = []
    for row in rows:
        if owner_state(row["owner"]) == "gone" and _lock_free(store.buffer_path(row["id"])):
            mark_failed(store, row["id"], f"its writer ({owner_pid(row['owner'])}) ended before completing it")
            failed.append(row["id"])
    return failed


def fail_if_writer_gone(store: Store, buffer_id: str) -> bool:
    return bool(fail_abandoned(store, only=buffer_id))


# ---------------------------------------------------------------- lifetimes

_LIFETIMES = """
CREATE TABLE IF NOT EXISTS buffer_lifetimes (
    id         TEXT PRIMARY KEY,
    expires_at REAL,
    run        INTEGER
);
"""


@contextmanager
def _db(store: Store):
    """The store's database, with the lifetimes table (kept here: lifetimes are this module's business)."""
    with store._connect() as db:
        db.executescript(_LIFETIMES)
        yield db


def expires_at(store: Store, buffer_id: str) -> float | None:
    with _db(store) as db:
        row = db.execute("SELECT expires_at FROM buffer_lifetimes WHERE id = ?", (buffer_id,)).fetchone()
    return None if row is None else row["expires_at"]


def end_of_run(store: Store, run_id: int) -> None:
    """Run `run_id` ended: its ephemeral buffers expire now (they are complete by then)."""
    with _db(store) as db:
        db.execute("UPDATE buffer_lifetimes SET expires_at = ? WHERE run = ?", (time.time(), run_id))
    remove_expired(store)


def remove_expired(store: Store) -> list[str]:
    """Delete every buffer whose lifetime is over (row and bytes); returns their ids."""
    with _db(store) as db:
        rows = db.execute("SELECT id FROM buffer_lifetimes WHERE expires_at IS NOT NULL AND expires_at <= ?",
                          (time.time(),)).fetchall()
        gone = [r["id"] for r in rows]
        for buffer_id in gone:
            db.execute("DELETE FROM buffers WHERE id = ?", (buffer_id,))
            db.execute("DELETE FROM buffer_lifetimes WHERE id = ?", (buffer_id,))
    if gone:
        with _writers_db(store) as db:
            db.executemany("DELETE FROM buffer_writers WHERE id = ?", [(b,) for b in gone])
    for buffer_id in gone:
        try:
            os.unlink(store.buffer_path(buffer_id))  # a reader that has it open still gets all of it
        except FileNotFoundError:
            pass
    return gone
