"""A run's buffers inside its containers: named pipes the runner feeds and drains while the job runs.

Tyger gives a job `<NAME>_PIPE`, a named pipe: reading it blocks until data
arrives or the writer ends, and what the job writes leaves at once. Here,
as in Tyger's own local Docker mode (pipes in a bind-mounted folder, one
sidecar per buffer), each replica gets a folder of FIFOs mounted at
/rtc/buffers, and a thread of the runner per buffer plays the sidecar:

- input: wait until the job opens the pipe, then copy the buffer file into it
  as the file grows (`buffers.follow`), and close it once the buffer is
  complete, which the job reads as end of file;
- output: hold the pipe open (read and write, so the job's `open` never waits
  and a job that closes and reopens it loses nothing) and append what the job
  writes to the buffer file; when the container has exited, take what is left.

Memory stays bounded: a chunk at a time, never a whole buffer.
"""

from __future__ import annotations

import os
import select
import shutil
import threading
from pathlib import Path

from rtc.runtime import contract
from rtc.integrations.tyger import buffers as buffer_ops
from rtc.integrations.tyger.store import Store

_CHUNK = 1 << 20


class ReplicaPipes:
    """The FIFOs of one container, and the threads that move bytes between them and the buffer files."""

    def __init__(self, store: Store, folder: Path, inputs: dict[str, str], outputs: dict[str, str],
                 output_lock: threading.Lock):
        self.store = store
        self.folder = folder
        self.inputs = inputs  # parameter -> buffer id
        self.outputs = outputs
        self.output_lock = output_lock  # replicas append to the same output file one chunk at a time
        self.stop = threading.Event()  # set once the container has exited
        # Written to once `stop` is set: the drainers wait on it beside their FIFO, so they stop at once
        # rather than at their next poll (a poll of 0.1 s was up to 0.1 s of every short run).
        self._wake_read, self._wake_write = os.pipe()
        self._opened = {parameter: threading.Event() for parameter in inputs}  # a feeder got past its open
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def fifo(self, parameter: str) -> Path:
        return self.folder / contract.buffer_file(parameter).rsplit("/", 1)[1]

    def create(self) -> tuple[str, str]:
        """Make the folder and its FIFOs; returns the bind mount (host folder, container folder)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o755)  # the job may run as any user of its image
        for parameter in [*self.inputs, *self.outputs]:
            os.mkfifo(self.fifo(parameter), 0o600)
            os.chmod(self.fifo(parameter), 0o666)
        return str(self.folder), contract.BUFFERS_DIR

    def start(self) -> None:
        for parameter, buffer_id in self.inputs.items():
            self._spawn(self._feed, parameter, buffer_id)
        for parameter, buffer_id in self.outputs.items():
            self._spawn(self._drain, parameter, buffer_id)

    def finish(self) -> None:
        """The container has exited: drain what is left, stop the feeders, remove the FIFOs."""
        self.stop.set()
        os.write(self._wake_write, b"x")
        # A feeder still waiting for the job to open its FIFO (the job never read it): open the read end
        # ourselves so its open returns; it then sees `stop` and ends without writing. Held until it has.
        readers = []
        for parameter in self.inputs:
            if not self._opened[parameter].is_set():
                try:
                    readers.append(os.open(self.fifo(parameter), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
                except OSError:
                    pass  # never created (the container did not start)
        for t in self.threads:
            t.join()
        for fd in readers:
            os.close(fd)
        os.close(self._wake_read)
        os.close(self._wake_write)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _spawn(self, target, parameter: str, buffer_id: str) -> None:
        def guarded() -> None:
            try:
                target(parameter, buffer_id)
            except BaseException as exc:  # noqa: BLE001 - reported by the runner after the container
                self.errors.append(exc)

        t = threading.Thread(target=guarded, daemon=True, name=f"rtc-pipe-{parameter}")
        t.start()
        self.threads.append(t)

    def _feed(self, parameter: str, buffer_id: str) -> None:
        # Blocks until the job opens its end, or finish() opens it to end this wait (the job never read it):
        # no poll, so the job's first read waits for nothing (a poll of 20 ms was ~10 ms of every run).
        fd = os.open(self.fifo(parameter), os.O_WRONLY | os.O_CLOEXEC)
        self._opened[parameter].set()
        if self.stop.is_set():
            os.close(fd)
            return

        def put(chunk: bytes) -> None:
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]

        try:
            buffer_ops.follow(self.store, buffer_id, put, stop=self.stop)
        except BrokenPipeError:
            pass  # the job closed its end before the whole buffer: it read what it wanted
        finally:
            os.close(fd)  # end of file for the job

    def _drain(self, parameter: str, buffer_id: str) -> None:
        fd = os.open(self.fifo(parameter), os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            with open(self.store.buffer_path(buffer_id), "ab", buffering=0) as out:
                while True:
                    stopping = self.stop.is_set()  # asked before reading: what was written before exit is taken
                    if stopping:
                        ready, _, _ = select.select([fd], [], [], 0)
                    else:
                        ready, _, _ = select.select([fd, self._wake_read], [], [])
                    if fd in ready:
                        chunk = os.read(fd, _CHUNK)
                        with self.output_lock:
                            out.write(chunk)
                    elif stopping:
                        return
        finally:
            os.close(fd)
