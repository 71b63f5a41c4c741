"""Tyger's codespec `sockets`: a buffer relayed to a TCP port the job listens on, instead of a pipe.

For `sockets: [{port: 9002, inputBuffer: input, outputBuffer: output}]`
Tyger runs a sidecar (`buffer-sidecar socket-adapt`) in the job's pod that
connects to `localhost:9002`, retrying every second until the job listens,
then, over that one connection, writes the input buffer and half-closes its
sending side (the job reads end of file), and writes what the job sends back
to the output buffer until the job closes the connection. A socket without an
input buffer sends nothing; one without an output buffer drops what it gets.

Here a thread of the runner does the same for each socket of each replica.
It reaches `localhost` of the job as the sidecar does, from inside the job's
network namespace: a short-lived thread joins the namespace of the
container's process (`setns`, which needs the engine on this machine and
CAP_SYS_ADMIN, as root has) and connects to 127.0.0.1:PORT; the socket it
makes stays in that namespace and is used from the relay thread. Where that
is not possible (rootless, or the engine on another machine), it connects to
the container's address on its network instead, which reaches a job
listening on all addresses (0.0.0.0) but not one bound to 127.0.0.1 only
(docs/tyger-and-env.md says so).

Memory stays bounded: a chunk at a time, never a whole buffer.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
import time

from rtc.integrations.tyger import buffers as buffer_ops
from rtc.integrations.tyger.store import Store

_CHUNK = 1 << 20
_RETRY_SECONDS = 0.1  # Tyger's sidecar waits 1 s between tries; a local run need not
_CLONE_NEWNET = 0x40000000


class SocketRelays:
    """The relays of one replica: one thread per socket, started once its container exists."""

    def __init__(self, store: Store, sockets: list[dict], buffers: dict[str, str], output_lock: threading.Lock,
                 on_line=None):
        self.store = store
        self.sockets = sockets  # {"port", "input_buffer", "output_buffer"}
        self.buffers = buffers  # parameter -> buffer id
        self.output_lock = output_lock
        self.on_line = on_line
        self.stop = threading.Event()  # the container has exited
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []
        self.connections: list[socket.socket] = []
        self.outside: str | None = None  # the container's address, when the relay connects from outside its namespace

    def start(self, client, container_id: str) -> None:
        for spec in self.sockets:
            t = threading.Thread(target=self._guarded, args=(client, container_id, spec), daemon=True,
                                 name=f"rtc-socket-{spec['port']}")
            t.start()
            self.threads.append(t)

    def finish(self, grace: float = 5.0) -> None:
        """The container has exited: what it sent before is taken, then the relays end."""
        self.stop.set()
        limit = time.monotonic() + grace
        for t in self.threads:
            t.join(max(0.0, limit - time.monotonic()))
        for conn in self.connections:  # a relay still waiting on a connection the engine did not close
            try:
                conn.shutdown(socket.SHUT_RDWR)  # wakes a recv blocked in another thread (close alone does not)
            except OSError:
                pass
        for t in self.threads:
            t.join(1.0)

    def _guarded(self, client, container_id: str, spec: dict) -> None:
        try:
            self._relay(client, container_id, spec)
        except BaseException as exc:  # noqa: BLE001 - reported by the runner after the container
            self.errors.append(exc)

    def _relay(self, client, container_id: str, spec: dict) -> None:
        port = int(spec["port"])
        conn = self._connect(client, container_id, port)
        if conn is None:  # the container ended before the job listened (Tyger's sidecar gives up as well)
            if self.on_line is not None:
                self.on_line(self._never_connected(port))
            return
        self.connections.append(conn)
        with conn:
            sender = threading.Thread(target=self._send, args=(conn, spec.get("input_buffer")), daemon=True,
                                      name=f"rtc-socket-{spec['port']}-in")
            sender.start()
            self._receive(conn, spec.get("output_buffer"))
            sender.join(1.0)

    def _send(self, conn: socket.socket, parameter: str | None) -> None:
        def put(chunk: bytes) -> None:
            conn.sendall(chunk)

        try:
            if parameter is not None:
                buffer_ops.follow(self.store, self.buffers[parameter], put, stop=self.stop)
            conn.shutdown(socket.SHUT_WR)  # end of file for the job, as the sidecar's CloseWrite
        except OSError:
            pass  # the job closed the connection before the whole buffer: it read what it wanted

    def _receive(self, conn: socket.socket, parameter: str | None) -> None:
        path = self.store.buffer_path(self.buffers[parameter]) if parameter else os.devnull  # none: dropped
        with open(path, "ab", buffering=0) as out:
            while True:
                try:
                    chunk = conn.recv(_CHUNK)
                except OSError:
                    return  # reset, or shut down by finish(): what came before was kept
                if not chunk:
                    return
                with self.output_lock:
                    out.write(chunk)

    def _never_connected(self, port: int) -> str:
        text = f"rtc: socket {port}: the job accepted no connection on port {port} before it ended"
        if self.outside is not None:
            text += (f" (rtc could not enter the container's network namespace and connected to {self.outside}:{port}"
                     f" from outside it, which a job listening on 127.0.0.1 only does not answer: listen on 0.0.0.0)")
        return text

    # -- reaching localhost:PORT of the job

    def _connect(self, client, container_id: str, port: int) -> socket.socket | None:
        """Connect to the job's port, trying until it listens or the container exits (then None)."""
        pid, address, via_namespace, gone = None, None, True, None
        while not self.stop.is_set():
            if pid is None:
                pid, address = _where(client, container_id)
            if pid:
                conn = None
                if via_namespace:
                    conn, joined = _dial_in_namespace(pid, port)
                    if joined is None and pid == gone:  # running, says the engine, yet not here: another machine's
                        via_namespace = False
                    elif joined is None:  # the process is gone (exited, or restarted under another pid): ask again
                        gone, pid = pid, None
                    elif not joined:  # not allowed here: from outside, from now on
                        via_namespace = False
                if conn is None and not via_namespace and address:
                    self.outside = address
                    conn = _dial(address, port)
                if conn is not None:
                    return conn
            self.stop.wait(_RETRY_SECONDS)
        return None


def _where(client, container_id: str) -> tuple[int | None, str | None]:
    """The host pid of the container's process and its address on its network, once it runs."""
    try:
        info = client.call("GET", f"/containers/{container_id}/json")
    except Exception:  # noqa: BLE001 - not created or already gone: asked again
        return None, None
    state = info.get("State") or {}
    if not state.get("Running"):
        return None, None
    settings = info.get("NetworkSettings") or {}
    addresses = [n.get("IPAddress") for n in (settings.get("Networks") or {}).values()] + [settings.get("IPAddress")]
    return state.get("Pid") or None, next((a for a in addresses if a), None)


def _dial(host: str, port: int) -> socket.socket | None:
    try:
        conn = socket.create_connection((host, port), timeout=1.0)
    except OSError:
        return None
    conn.settimeout(None)
    return conn


def _dial_in_namespace(pid: int, port: int) -> tuple[socket.socket | None, bool | None]:
    """Connect to 127.0.0.1:PORT inside the network namespace of process `pid`.

    Returns (connection or None, whether the namespace could be joined): False
    when it may not be (no permission: the caller uses the container's address
    from then on), None when there is no such process here (it ended, or the
    engine is on another machine and its pids mean nothing here).
    """
    result: dict = {}

    def dial() -> None:  # a thread of its own: setns moves only the calling thread, which then ends
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        except PermissionError:
            result["joined"] = False
            return
        except OSError:
            result["joined"] = None
            return
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.setns(fd, _CLONE_NEWNET) != 0:
                result["joined"] = False
                return
        except (AttributeError, OSError):
            result["joined"] = False
            return
        finally:
            os.close(fd)
        result["joined"] = True
        try:
            conn = socket.create_connection(("127.0.0.1", port), timeout=1.0)
            conn.settimeout(None)
            result["conn"] = conn
        except OSError:
            pass

    t = threading.Thread(target=dial, daemon=True, name=f"rtc-socket-dial-{port}")
    t.start()
    t.join()
    return result.get("conn"), result.get("joined")
