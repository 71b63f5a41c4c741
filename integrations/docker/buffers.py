"""Tyger buffers on this machine: write-once byte streams kept as files.

A buffer is a file under `$RTC_HOME/buffers/<id>` plus a row in the store.
Like Tyger's, a buffer is written once and then complete ("sealed"):
readers wait until it is complete, a second writer is refused, and a run
waits (Pending) until each of its input buffers is complete. This is what
makes Tyger's `run create` → `buffer write` → `buffer read` sequence work
with files instead of network streams.

Inside a container, the codespec's buffer parameter `NAME` is the file
`/rtc/buffers/<NAME>` named by `<NAME>_PIPE` (see `pipe_variable`).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import time
from typing import BinaryIO

from rtc import contract
from rtc.compiler.diagnostics import RtcError
from rtc.integrations.docker.store import BufferRecord, Store

CONTAINER_DIR = contract.BUFFERS_DIR
_CHUNK = 1 << 16


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


def create(store: Store, tags: dict[str, str] | None = None) -> BufferRecord:
    return store.create_buffer(new_buffer_id(), dict(tags or {}))


def write(store: Store, buffer_id: str, source: BinaryIO) -> int:
    """Copy `source` into the buffer and complete it; returns the bytes written."""
    record = store.get_buffer(buffer_id)
    if record.sealed_at is not None:
        raise RtcError(f"buffer {buffer_id} has already been written", hint="buffers are write-once; create a new one")
    written = 0
    with open(store.buffer_path(buffer_id), "wb") as out:
        while chunk := source.read(_CHUNK):
            out.write(chunk)
            written += len(chunk)
    store.seal_buffer(buffer_id)
    return written


def wait_sealed(store: Store, buffer_id: str, timeout: float | None = None, poll: float = 0.1) -> bool:
    """Wait until the buffer is complete; False when `timeout` seconds pass first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while store.get_buffer(buffer_id).sealed_at is None:
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True


def read(store: Store, buffer_id: str, sink: BinaryIO, timeout: float | None = None) -> int:
    """Copy the buffer to `sink` once it is complete; returns the bytes copied."""
    if not wait_sealed(store, buffer_id, timeout):
        raise RtcError(f"buffer {buffer_id} was not completed within {timeout:g}s")
    with open(store.buffer_path(buffer_id), "rb") as src:
        shutil.copyfileobj(src, sink, _CHUNK)
        copied = src.tell()
    sink.flush()
    return copied
