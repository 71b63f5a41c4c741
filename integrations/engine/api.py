"""A small client of the Docker Engine API: HTTP/1.1 over the engine's socket, standard library only.

Why not the docker SDK here: importing `docker` (and `requests`, `urllib3`)
costs ~90 ms of every `rtc exec` and `rtc run`, more than the engine spends
creating a container, and its `containers.create` inspects each container it
creates (one more round trip per step). This client speaks only the calls a
step needs: ping, create, attach, start, follow logs, wait, kill, remove,
list, inspect an image. One connection per request (`Connection: close`), so
any thread may call it at any time without locking.

A step runs as `docker run --rm` runs a container (`engine.run_container`):
create it with `AutoRemove`, attach to its output and ask for its exit
(`wait?condition=removed`) before starting it, then start it; the engine
removes it as soon as it exits, and the wait answers once it is gone. Four
round trips, the last two answered when the container is done: no separate
remove, no log request after the start (which could miss a container that
ends at once).

Everything else (image builds and pulls, networks, `exec` into a running
environment) stays with the docker SDK: `Engine.sdk` creates that client on
first use for the same address, and attribute access that this class does not
answer (`engine.images`, `engine.networks`, `engine.api`, `engine.containers`)
goes to it, so code written against the SDK client keeps working.

Addresses: `unix:///path/docker.sock` and `tcp://host:port` (plain HTTP), as
in DOCKER_HOST. Other schemes (TLS, ssh) are refused with a clear message.
"""

from __future__ import annotations

import json
import socket
from typing import Iterator
from urllib.parse import quote, urlencode

_HEAD_LIMIT = 64 * 1024


class EngineError(Exception):
    """The engine answered with an error status; `message` is its explanation."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message
        self.explanation = message  # what rtc's messages show, as for docker.errors.APIError


class NotFound(EngineError):
    pass


class Engine:
    """The engine at `address`; see the module docstring."""

    def __init__(self, address: str):
        self.address = address
        if address.startswith("unix://"):
            self._unix = address[len("unix://"):] or "/var/run/docker.sock"
            self._tcp = None
        elif address.startswith("tcp://") or address.startswith("http://"):
            hostport = address.split("://", 1)[1].rstrip("/")
            host, _, port = hostport.rpartition(":")
            self._unix, self._tcp = None, (host or "127.0.0.1", int(port or 2375))
        else:
            raise ValueError(f"unsupported engine address {address!r} (rtc speaks unix:// and tcp://)")
        self._sdk = None

    # ---------------------------------------------------------------- the docker SDK, for the rest

    @property
    def sdk(self):
        """A docker SDK client of the same engine, created on first use."""
        if self._sdk is None:
            import docker

            self._sdk = docker.DockerClient(base_url=self.address)
        return self._sdk

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.sdk, name)

    # ---------------------------------------------------------------- calls

    def ping(self) -> None:
        self.call("GET", "/_ping")

    def create(self, config: dict, name: str | None = None) -> str:
        query = {"name": name} if name else None
        return self.call("POST", "/containers/create", config, query=query)["Id"]

    def start(self, container_id: str) -> None:
        self.call("POST", f"/containers/{container_id}/start")

    def wait(self, container_id: str) -> int | None:
        return self.call("POST", f"/containers/{container_id}/wait").get("StatusCode")

    def wait_later(self, container_id: str, condition: str = "next-exit") -> "Pending":
        """Ask now for the container's exit code (before starting it); `Pending.result()` blocks until then.

        `condition`: `next-exit`, or `removed` for a container created with
        AutoRemove (the answer comes once the engine has removed it).
        """
        response = self._open("POST", f"/containers/{container_id}/wait", None, {"condition": condition})
        if response.status >= 400:
            try:
                raise _error(response.status, response.read_all())
            finally:
                response.close()
        return Pending(response)

    def attach(self, container_id: str) -> "Stream":
        """The container's stdout and stderr from now until it ends (demultiplexed); attach before starting it.

        Unlike `follow_logs`, this works for a container created with
        AutoRemove: the stream is open before the container starts, so it ends
        with the container and nothing it printed is missed. The connection is
        made when this is called, not when the iterator is first read.
        """
        response = self._open("POST", f"/containers/{container_id}/attach", None,
                              {"stream": "1", "stdout": "1", "stderr": "1"})
        if response.status >= 400:
            try:
                raise _error(response.status, response.read_all())
            finally:
                response.close()
        return Stream(response)

    def kill(self, container_id: str) -> None:
        self.call("POST", f"/containers/{container_id}/kill")

    def remove(self, container_id: str) -> None:
        self.call("DELETE", f"/containers/{container_id}", query={"force": "1"})

    def list_ids(self, labels: list[str]) -> list[str]:
        """Ids of all containers (running or not) carrying every `key=value` in `labels`."""
        found = self.call("GET", "/containers/json", query={"all": "1", "filters": json.dumps({"label": labels})})
        return [c["Id"] for c in found]

    def image_id(self, ref: str) -> str:
        """The image's content digest (`sha256:...`); NotFound when it is not on this machine."""
        return self.call("GET", f"/images/{quote(ref, safe='/:@')}/json")["Id"]

    def image_exists(self, ref: str) -> bool:
        try:
            self.call("GET", f"/images/{quote(ref, safe='/:@')}/json")
        except NotFound:
            return False
        return True

    def follow_logs(self, container_id: str) -> Iterator[bytes]:
        """The container's stdout and stderr as they come, until it ends (demultiplexed)."""
        response = self._open("GET", f"/containers/{container_id}/logs", None, {"follow": "1", "stdout": "1", "stderr": "1"})
        if response.status >= 400:
            try:
                raise _error(response.status, response.read_all())
            finally:
                response.close()
        yield from Stream(response)

    def call(self, method: str, path: str, body: dict | None = None, *, query: dict | None = None):
        """One request; the decoded JSON answer (or None); an error status raises EngineError."""
        response = self._open(method, path, body, query)
        try:
            data = response.read_all()
        finally:
            response.close()
        if response.status >= 400:
            raise _error(response.status, data)
        if data and response.headers.get("content-type", "").startswith("application/json"):
            return json.loads(data)
        return None

    # ---------------------------------------------------------------- HTTP

    def _connect(self) -> socket.socket:
        if self._unix is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self._unix)
            except OSError:
                sock.close()
                raise
            return sock
        return socket.create_connection(self._tcp)

    def _open(self, method: str, path: str, body: dict | None, query: dict | None) -> "_Response":
        target = path + ("?" + urlencode(query) if query else "")
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {target} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Length: {len(payload)}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        sock = self._connect()
        try:
            sock.sendall(head.encode() + b"\r\n" + payload)
            return _Response(sock)
        except BaseException:
            sock.close()
            raise


class Stream:
    """A multiplexed output stream (stdout and stderr frames, each behind an 8-byte header): iterate for the payloads."""

    def __init__(self, response: "_Response"):
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        for _, payload in self.frames():
            yield payload

    def frames(self) -> Iterator[tuple[int, bytes]]:
        """(stream, payload) pairs: stream 1 is stdout, 2 stderr."""
        try:
            pending = b""
            for chunk in self._response.chunks():
                pending += chunk
                while len(pending) >= 8:
                    size = int.from_bytes(pending[4:8], "big")
                    if len(pending) < 8 + size:
                        break
                    yield pending[0], pending[8 : 8 + size]
                    pending = pending[8 + size :]
        finally:
            self._response.close()

    def close(self) -> None:
        self._response.close()


class Pending:
    """A call whose answer comes later (`Engine.wait_later`); `close()` gives it up."""

    def __init__(self, response: "_Response"):
        self._response = response

    def result(self) -> int | None:
        """The container's exit code, once it has exited (and been removed, with `removed`)."""
        try:
            data = self._response.read_all()
        finally:
            self._response.close()
        answer = json.loads(data) if data else {}
        error = (answer.get("Error") or {}).get("Message") if isinstance(answer.get("Error"), dict) else None
        if error:
            raise EngineError(500, error)
        return answer.get("StatusCode")

    def close(self) -> None:
        self._response.close()


class _Response:
    """An HTTP/1.1 response read from a socket: status, headers, then the body (chunked or not)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            data = sock.recv(65536)
            if not data or len(buffer) > _HEAD_LIMIT:
                raise ConnectionError("the engine closed the connection before answering")
            buffer += data
        head, _, self._rest = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ", 2)[1])
        self.headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            self.headers[key.strip().lower()] = value.strip()

    def close(self) -> None:
        self.sock.close()

    def _recv(self) -> bytes:
        return self.sock.recv(65536)

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives."""
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            yield from self._dechunk()
            return
        length = self.headers.get("content-length")
        remaining = int(length) if length is not None else None
        data = self._rest
        while True:
            if data:
                if remaining is not None:
                    data = data[:remaining]
                    remaining -= len(data)
                yield data
            if remaining == 0:
                return
            data = self._recv()
            if not data:
                return

    def _dechunk(self) -> Iterator[bytes]:
        buffer = self._rest
        while True:
            while b"\r\n" not in buffer:
                more = self._recv()
                if not more:
                    return
                buffer += more
            line, _, buffer = buffer.partition(b"\r\n")
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                return
            while len(buffer) < size + 2:
                more = self._recv()
                if not more:
                    if buffer:
                        yield buffer[:size]
                    return
                buffer += more
            yield buffer[:size]
            buffer = buffer[size + 2 :]

    def read_all(self) -> bytes:
        return b"".join(self.chunks())


def _error(status: int, data: bytes) -> EngineError:
    try:
        message = json.loads(data).get("message") or ""
    except (ValueError, AttributeError):
        message = data.decode("utf-8", "replace").strip()
    message = message or f"HTTP {status}"
    return (NotFound if status == 404 else EngineError)(status, message)


def container_config(spec, auto_remove: bool = False) -> tuple[dict, str | None]:
    """The engine's create body for an `engine.ContainerSpec` (what the SDK's `containers.create` sends)."""
    import os

    from rtc.integrations.engine.owners import owned_labels

    host: dict = {
        "Mounts": [
            {"Type": "bind", "Source": os.path.abspath(h), "Target": c, "ReadOnly": bool(ro)} for h, c, ro in spec.mounts
        ],
    }
    if getattr(spec, "group_add", None):  # the group that may write the step's io folder (docs/runtime.md)
        host["GroupAdd"] = [str(g) for g in spec.group_add]
    config: dict = {
        "Image": spec.image,
        "Cmd": list(spec.argv) if spec.argv else None,
        "Env": [f"{k}={v}" for k, v in spec.env.items()],
        "Labels": owned_labels(spec.labels),  # rtc.owner: what `rtc gc` goes by (owners.py)
        "OpenStdin": bool(spec.stdin_open),
        "HostConfig": host,
    }
    if auto_remove:  # the engine removes the container once it exits (`docker run --rm`)
        host["AutoRemove"] = True
    if spec.workdir:
        config["WorkingDir"] = spec.workdir
    if spec.entrypoint is not None:
        config["Entrypoint"] = list(spec.entrypoint)
    for option, key in (("nano_cpus", "NanoCpus"), ("mem_limit", "Memory"), ("cpu_shares", "CpuShares"),
                        ("mem_reservation", "MemoryReservation"), ("shm_size", "ShmSize")):
        if getattr(spec, option) is not None:
            host[key] = getattr(spec, option)
    if spec.network is not None:
        host["NetworkMode"] = spec.network
        config["NetworkingConfig"] = {"EndpointsConfig": {spec.network: {}}}
    if spec.ports:
        exposed, bindings = {}, {}
        for container_port, host_ip, host_port in spec.ports:
            key = f"{container_port}/tcp"
            exposed[key] = {}
            bindings.setdefault(key, []).append({"HostIp": host_ip, "HostPort": str(host_port) if host_port else ""})
        config["ExposedPorts"] = exposed
        host["PortBindings"] = bindings
    return config, spec.name
