"""The one place that creates, runs and removes containers.

Everything rtc starts goes through `run_container` (a step that runs to its
end) or `start_container` (a long-lived container, `rtc env up`), so that
labels, log streaming, timeouts, cancellation and removal behave the same
everywhere. `run_container` removes its container in a `finally`: success,
failure, timeout, cancel and an exception all end with the container gone.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from rtc.base.diagnostics import RtcError
from rtc.integrations.engine.api import Engine, EngineError, NotFound, container_config

LOG_TAIL_LINES = 40
DEFAULT_SOCKET = "unix:///var/run/docker.sock"


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def connect(ping: bool = True) -> Engine:
    """A client of the engine named by the environment (DOCKER_HOST), checked with a ping.

    An `engine_api.Engine`: steps run through its own small HTTP client (no
    docker SDK import); the SDK's API is there too, loaded on first use.
    `ping=False` saves the round trip for a caller whose first call is as good
    a check (and turns its failure into `unreachable(...)`).
    """
    address = engine_address()
    try:
        client = Engine(address)
    except ValueError as exc:
        raise RtcError(f"cannot use the Docker engine at {address}: {exc}", hint="point DOCKER_HOST at a unix:// socket or a tcp:// address") from None
    if ping:
        try:
            client.ping()
        except (OSError, EngineError) as exc:
            raise unreachable(exc) from None
    return client


def unreachable(exc: BaseException) -> RtcError:
    """The message for an engine that does not answer."""
    return RtcError(
        f"cannot reach the Docker engine at {engine_address()}: {_short(exc)}",
        hint="start the engine (e.g. `sudo systemctl start docker` or `dockerd &`), "
        "or point DOCKER_HOST at a running one",
    )


@dataclass
class ContainerSpec:
    """Everything needed to create one container; no Docker types, so callers stay plain."""

    image: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # (host path, container path, read only)
    mounts: list[tuple[str, str, bool]] = field(default_factory=list)
    # (container port, host ip, host port); host port 0 picks a free one
    ports: list[tuple[int, str, int]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    name: str | None = None
    stdin_open: bool = False
    entrypoint: list[str] | None = None
    # Resource limits (Tyger codespec resources): CPUs in units of 1e-9, bytes of memory.
    nano_cpus: int | None = None
    mem_limit: int | None = None
    cpu_shares: int | None = None
    mem_reservation: int | None = None
    shm_size: int | None = None  # bytes of /dev/shm (Tyger's resources.shm)
    # A user-defined network to join (Tyger distributed runs); containers there resolve each other by name.
    network: str | None = None
    # Supplementary groups of the container's process (the group that may write the step's io folder).
    group_add: list[int] = field(default_factory=list)


@dataclass
class ContainerResult:
    """How one container ended: exit code (None when it never exited), timeout or cancel, and its last log lines."""

    exit_code: int | None
    timed_out: bool
    canceled: bool
    log_tail: list[str]
    started_at: float
    finished_at: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.canceled


def create_container(client, spec: ContainerSpec):
    """Create (not start) a container from `spec`; engine errors become RtcError."""
    import docker
    from docker.types import Mount

    from rtc.integrations.engine.owners import owned_labels

    labels = owned_labels(spec.labels)  # what `rtc gc` goes by
    kwargs = dict(
        image=spec.image,
        command=list(spec.argv) if spec.argv else None,
        environment=dict(spec.env),
        labels=labels,
        working_dir=spec.workdir,
        name=spec.name,
        stdin_open=spec.stdin_open,
        detach=True,
        mounts=[Mount(target=c, source=os.path.abspath(h), type="bind", read_only=ro) for h, c, ro in spec.mounts],
    )
    if spec.entrypoint is not None:
        kwargs["entrypoint"] = list(spec.entrypoint)
    if spec.group_add:
        kwargs["group_add"] = [str(g) for g in spec.group_add]
    for option in ("nano_cpus", "mem_limit", "cpu_shares", "mem_reservation", "shm_size", "network"):
        if getattr(spec, option) is not None:
            kwargs[option] = getattr(spec, option)
    if spec.ports:
        ports: dict[str, list] = {}
        for container_port, host_ip, host_port in spec.ports:
            ports.setdefault(f"{container_port}/tcp", []).append((host_ip, host_port or None))
        kwargs["ports"] = {k: v[0] if len(v) == 1 else v for k, v in ports.items()}
    try:
        return _sdk(client).containers.create(**kwargs)
    except docker.errors.ImageNotFound:
        raise RtcError(
            f"image {spec.image!r} is not on this machine",
            hint="build it with `rtc build FILE`, or pull/tag it yourself (rtc never pulls while running)",
        ) from None
    except docker.errors.APIError as exc:
        raise RtcError(f"cannot create a container of {spec.image!r}: {_short(exc)}") from None


def start_container(client, spec: ContainerSpec):
    """Create and start a long-lived container; the caller removes it (see `remove_labelled`)."""
    container = create_container(client, spec)
    try:
        container.start()
    except Exception as exc:
        _remove(container)
        raise RtcError(f"cannot start a container of {spec.image!r}: {_short(exc)}") from None
    return container


def published_ports(container) -> dict[int, tuple[str, int]]:
    """container port -> (host ip, host port) as the engine actually bound them."""
    container.reload()
    out = {}
    for key, bindings in (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).items():
        if bindings:
            out[int(key.split("/")[0])] = (bindings[0]["HostIp"], int(bindings[0]["HostPort"]))
    return out


def run_container(
    client: Engine,
    spec: ContainerSpec,
    *,
    on_line: Callable[[str], None] | None = None,
    timeout: float | None = None,
    cancel: threading.Event | None = None,
    created: str | None = None,
) -> ContainerResult:
    """Run `spec` to its end, streaming its log lines (stdout and stderr) to `on_line`.

    A `timeout` (seconds) or a set `cancel` event kills the container. The
    container is removed whatever happens. As `docker run --rm` does: create
    it with AutoRemove, attach to its output and ask for its exit (answered
    once the engine has removed it) before starting it, then start it; four
    round trips, no separate log request or removal (engine_api.py).
    `created`: the id `create_for_run(client, spec)` gave (created ahead, as
    the runner does for the next elements of a fan-out); it is not created again.
    """
    client = as_engine(client)
    tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
    started = time.time()
    container_id = created if created is not None else create_for_run(client, spec)
    state = {"timed_out": False, "canceled": False}
    done = threading.Event()
    output = exited = None
    removed = False
    try:
        if cancel is not None and cancel.is_set():
            return ContainerResult(None, False, True, [], started, time.time())
        try:
            output = client.attach(container_id)
            exited = client.wait_later(container_id, "removed")
        except (EngineError, OSError) as exc:
            raise RtcError(f"cannot attach to the container of {spec.image!r}: {_short(exc)}") from None
        try:
            client.start(container_id)
        except EngineError as exc:
            # e.g. the program does not exist in the image: the engine refuses to start it.
            raise RtcError(f"cannot start {(spec.argv or [spec.image])[0]!r} in {spec.image!r}: {_short(exc)}") from None
        if timeout is not None or cancel is not None:
            threading.Thread(
                target=_watch, args=(client, container_id, timeout, cancel, done, state), daemon=True, name="rtc-watch"
            ).start()
        try:
            for line in stream_lines(output.frames()):
                tail.append(line)
                if on_line is not None:
                    on_line(line)
            exit_code = exited.result()
            removed = True
        except (EngineError, OSError) as exc:
            raise RtcError(f"lost the container of {spec.image!r} while it ran: {_short(exc)}") from None
        done.set()
        return ContainerResult(exit_code, state["timed_out"], state["canceled"], list(tail), started, time.time())
    finally:
        done.set()
        for pending in (output, exited):
            if pending is not None:
                pending.close()
        if not removed:  # never started, or lost: AutoRemove may not have happened
            _remove_id(client, container_id)


def create_for_run(client: Engine, spec: ContainerSpec) -> str:
    """Create (not start) the container `run_container` runs: with AutoRemove, so the engine removes it once it exits.

    A container created but never run is removed with its run (`remove_labelled`).
    """
    config, name = container_config(spec, auto_remove=True)
    try:
        return as_engine(client).create(config, name)
    except NotFound:
        raise RtcError(
            f"image {spec.image!r} is not on this machine",
            hint="build it with `rtc build FILE`, or pull/tag it yourself (rtc never pulls while running)",
        ) from None
    except (EngineError, OSError) as exc:
        raise RtcError(f"cannot create a container of {spec.image!r}: {_short(exc)}") from None


def remove_labelled(client: Engine, **labels: str) -> int:
    """Force-remove every container carrying all of `labels`; returns how many.

    Label keys with dots go through a dict: `remove_labelled(client, **{"rtc.run": run_id})`.
    """
    client = as_engine(client)
    removed = 0
    for container_id in client.list_ids([f"{k}={v}" for k, v in labels.items()]):
        if _remove_id(client, container_id):
            removed += 1
    return removed


def _watch(client: Engine, container_id: str, timeout, cancel, done, state) -> None:
    """Kill the container when the timeout passes or `cancel` is set, unless it ended first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not done.is_set():
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            state["timed_out"] = True
            break
        # Wake at least every 0.1 s to notice `done`; the step itself never waits on this loop.
        step = 0.1 if remaining is None else min(0.1, remaining)
        if cancel is not None:
            if cancel.wait(step):
                state["canceled"] = True
                break
        elif done.wait(step):
            return
    if done.is_set() and not (state["timed_out"] or state["canceled"]):
        return
    try:
        client.kill(container_id)
    except (EngineError, OSError):  # it may have ended on its own meanwhile
        pass


def log_lines(chunks):
    """Split a stream of byte chunks (`container.logs(stream=True)`) into decoded lines, a last partial line included."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            yield raw.decode("utf-8", "replace").rstrip("\r")
    if pending:
        yield pending.decode("utf-8", "replace").rstrip("\r")


def stream_lines(frames):
    """Lines of (stream, bytes) frames, each stream split on its own newlines.

    stdout and stderr arrive as separate frames that can cut a line anywhere
    (a program's stdout is written in blocks); joining them first would splice
    a stderr line into the middle of a stdout one.
    """
    pending: dict[int, bytes] = {}
    for kind, chunk in frames:
        *complete, pending[kind] = (pending.get(kind, b"") + chunk).split(b"\n")
        for raw in complete:
            yield raw.decode("utf-8", "replace").rstrip("\r")
    for rest in pending.values():
        if rest:
            yield rest.decode("utf-8", "replace").rstrip("\r")


_lines = log_lines  # the name other modules used first


def _remove_id(client: Engine, container_id: str) -> bool:
    try:
        client.remove(container_id)
        return True
    except (EngineError, OSError):  # already gone (or being removed) is fine
        return False


def as_engine(client) -> Engine:
    """`client` as an Engine: itself, or (a docker SDK client, as tests pass) an Engine of the same address."""
    if isinstance(client, Engine):
        return client
    base_url = str(client.api.base_url)
    if base_url.startswith("http+docker://"):  # a Unix socket; the SDK keeps its path in the adapter
        path = getattr(getattr(client.api, "_custom_adapter", None), "socket_path", None)
        address = f"unix://{path}" if path else engine_address()
    else:
        address = "tcp://" + base_url.split("://", 1)[1]
    engine = Engine(address)
    engine._sdk = client
    return engine


def _sdk(client):
    """The docker SDK client behind `client` (an Engine, or already an SDK client)."""
    return client.sdk if isinstance(client, Engine) else client


def _remove(container) -> bool:
    try:
        container.remove(force=True)
        return True
    except Exception:  # noqa: BLE001 - already gone (or being removed) is fine
        return False


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
