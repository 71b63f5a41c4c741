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

from rtc import contract
from rtc.base.diagnostics import RtcError
from rtc.integrations.tyger.store import BufferRecord, Store

CONTAINER_DIR = contract.BUFFERS_DIR
_CHUNK = 1 << 16
_FOLLOW_CHUNK = 1 << 20
FOLLOW_POLL_SECONDS = 0.02  # how soon a follower sees new bytes


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
    with open(store.buffer_path(buffer_id), "rb", buffering=0) as src:
        while True:
            seen = _seals_here[0]
            done = _complete(store, buffer_id)  # asked before reading, so no last chunk is missed
            while chunk := src.read(_FOLLOW_CHUNK):
                put(chunk)
                copied += len(chunk)
                if not callable(sink):
                    sink.flush()
            if done or (stop is not None and stop.is_set()):
                return copied
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
    for buffer_id in gone:
        try:
            os.unlink(store.buffer_path(buffer_id))  # a reader that has it open still gets all of it
        except FileNotFoundError:
            pass
    return gone
