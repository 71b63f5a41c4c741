"""Creating the containers of a fan-out's next elements while the running ones finish (`rtc run`).

A container's creation is ~10-20 % of its life here (the engine prepares its
file system and configuration). The runner starts at most `workers`
containers at once; while they run, one thread of this module creates the
containers of the elements queued next, at most `limit` ahead, so a worker
that becomes free starts one that already exists: creation leaves the
critical path. Measured in benchmarks/fanout_bench.py (benchmarks/README.md).

Each element is either taken from here (created ahead, or being created: the
worker waits for that one call) or claimed by its worker before this thread
reached it (then the worker creates it itself, as without this module). A
container created ahead that no worker takes (the run was canceled or failed)
has the run's label, and the run's final `remove_labelled` removes it.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from typing import Callable

from rtc.integrations.engine import containers as engine

_CLAIMED = object()

# prepare() -> (io folder, ContainerSpec) of the element's first run
Prepare = Callable[[], tuple]


class CreatedAhead:
    def __init__(self, client, limit: int, cancel: threading.Event):
        self.client = client
        self.cancel = cancel
        self._room = threading.Semaphore(max(1, limit))  # created and not yet taken
        self._lock = threading.Condition()
        self._queue: deque[tuple[str, Prepare]] = deque()
        self._state: dict[str, object] = {}  # label -> _CLAIMED, or a Future of (io_dir, spec, container id or None)
        self._closed = False
        self._thread = threading.Thread(target=self._create_ahead, daemon=True, name="rtc-create-ahead")
        self._thread.start()

    def add(self, label: str, prepare: Prepare) -> None:
        """An element that will run: create its container when there is room (unless its worker comes first)."""
        with self._lock:
            self._queue.append((label, prepare))
            self._lock.notify()

    def take(self, label: str) -> tuple | None:
        """(io folder, spec, container id or None) prepared for `label`, or None: its worker prepares it."""
        with self._lock:
            found = self._state.get(label)
            if found is None:
                self._state[label] = _CLAIMED
                return None
        try:
            return found.result()  # created, or being created now: one engine call at most
        finally:
            self._room.release()

    def close(self) -> None:
        """Stop creating; returns once no creation is in flight (so the run's clean-up sees every container)."""
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join()

    def _next(self) -> tuple[str, Prepare] | None:
        with self._lock:
            while not self._queue and not self._closed:
                self._lock.wait()
            return None if self._closed else self._queue.popleft()

    def _create_ahead(self) -> None:
        while (item := self._next()) is not None:
            label, prepare = item
            while not self._room.acquire(timeout=0.1):
                if self._closed or self.cancel.is_set():
                    return
            with self._lock:
                if self._closed or self.cancel.is_set():
                    self._room.release()
                    return
                if label in self._state:  # its worker got there first
                    self._room.release()
                    continue
                future: Future = Future()
                self._state[label] = future
            try:
                io_dir, spec = prepare()
            except BaseException as exc:  # noqa: BLE001 - the worker raises it, as it would have
                future.set_exception(exc)
                continue
            try:
                created = engine.create_for_run(self.client, spec)
            except Exception:  # noqa: BLE001 - the worker creates it itself and reports the error
                created = None
            future.set_result((io_dir, spec, created))
