"""Executing a Tyger run on this machine: a codespec, its buffers, replicas, workers, a timeout.

`create_run` stores a run (Pending) and creates its missing buffers;
`execute` takes a stored run to a terminal status; `execute_run` does both
for a pipeline's run in this process (`rtc run FILE RUN`, `rtc exec`);
`spawn_detached` starts `python -m rtc.integrations.tyger.runs RUN_ID`,
a process that outlives the CLI (`rtc run create`).

Tyger's semantics kept here:
- the timeout counts from the run's creation, not from its start;
- the run stays Pending until every input buffer is complete;
- each replica is one container; `RTC_REPLICA_INDEX` / `REPLICA_INDEX` say which;
- workers (distributed runs) start first, on a network of their own; the job
  starts once they are up and finds them through `TYGER_WORKER_NODES` and
  `TYGER_<ENDPOINT>_WORKER_ENDPOINT_ADDRESSES` (JSON arrays);
- `rtc run cancel` sets Canceling; the executing process notices, kills the
  containers and sets Canceled.
Whatever happens, every container and the network labelled with the run are removed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import BinaryIO, Callable

from rtc.runtime import contract
from rtc.base.diagnostics import RtcError
from rtc.integrations.tyger import buffers as buffer_ops
from rtc.integrations.engine import containers as engine
from rtc.base import home as home_files
from rtc.integrations.tyger.pipes import ReplicaPipes
from rtc.integrations.tyger.sockets import SocketRelays
from rtc.integrations.tyger.store import (
    CANCELED,
    CANCELING,
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    LogWriter,
    RunRecord,
    Store,
)
from rtc.integrations.tyger.spec import (
    Codespec,
    Overrides,
    parse_ttl,
    build_spec,
    choose_run,
    docker_resources,
    job_codespec,
    worker_codespec,
)

StatusCallback = Callable[[RunRecord], None]
LineCallback = Callable[[str], None]
POLL_SECONDS = 0.2
WORKER_READY_SECONDS = 60.0


def run_label(store: Store, run_id: int) -> str:
    """The `rtc.run` label of a Tyger run: unique across stores, so parallel test stores never collide."""
    return f"tyger-{store.key}-{run_id}"


# ---------------------------------------------------------------- creating


def create_run(store: Store, spec: dict, default_ttl_seconds: float | None = None) -> RunRecord:
    """Store `spec` as a Pending run, creating the buffers it does not name (tagged with the run's tags).

    `_` as a buffer argument is an ephemeral buffer: created here, removed
    when the run ends. Buffers created here expire after the run's
    `bufferTtl` when it has one.
    """
    cs = job_codespec(spec)
    given = spec["job"]["buffers"]
    for parameter, buffer_id in given.items():
        if buffer_id == EPHEMERAL:
            continue
        record = buffer_ops.get(store, buffer_id)
        if parameter in cs.outputs and record.sealed_at is not None:
            raise RtcError(f"buffer {buffer_id} (output {parameter!r}) is already written; an output needs a fresh buffer")
    ttl = spec["job"].get("bufferTtl")
    ttl_seconds = default_ttl_seconds if ttl is None else parse_ttl(ttl)
    tags = spec["job"]["tags"]
    filled, ephemeral = dict(given), []
    for parameter in [*cs.inputs, *cs.outputs]:
        if filled.get(parameter) == EPHEMERAL:
            filled[parameter] = buffer_ops.create(store, tags, ephemeral=True).id
            ephemeral.append(filled[parameter])
        elif parameter not in filled:
            filled[parameter] = buffer_ops.create(store, tags, ttl_seconds=ttl_seconds).id
    spec = {**spec, "job": {**spec["job"], "buffers": filled}}
    record = store.create_run(spec)
    buffer_ops.attach_to_run(store, ephemeral, record.id)
    return record


def spawn_detached(store: Store, run_id: int) -> int:
    """Start a process that executes the stored run and survives this one; returns its pid."""
    log = open(home_files.private_file(store.log_dir(run_id) / "executor.log"), "ab")
    env = {**os.environ, "RTC_HOME": str(store.home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtc.integrations.tyger.runs", str(run_id)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        env=env,
        start_new_session=True,  # Ctrl-C in the terminal that created it does not reach it
        close_fds=True,
    )
    log.close()
    store.set_pid(run_id, proc.pid)
    return proc.pid


def execute_run(
    pipeline,
    run_name: str | None,
    *,
    buffers: dict[str, str] | None = None,
    on_line: LineCallback | None = None,
    on_status: StatusCallback | None = None,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
    store: Store | None = None,
    cancel: threading.Event | None = None,
    overrides: Overrides | None = None,
    exec_io: bool = False,
) -> RunRecord:
    """Create and execute a pipeline's run here and now; returns the terminal record.

    `exec_io` is Tyger's `run exec`: the input with no buffer argument (or
    `_`) is fed from `stdin` while the run reads it (completed empty when
    there is no `stdin`), and the output with none goes to `stdout` as the
    run writes it; a codespec with several such inputs (or outputs) is an
    error naming them, before anything is created. Otherwise input buffers
    created here are completed empty, so a run never waits on a buffer nobody
    can write; buffers passed in `buffers` are read as they are written.

    `pipeline`: an `ir.Pipeline`, or its Tyger part as plain data
    (`tyger_spec.runnable`, what `rtc exec` caches).
    """
    store = store or Store()
    o = overrides or Overrides()
    if buffers:
        o = Overrides(**{**o.__dict__, "buffers": {**o.buffers, **buffers}})
    run = choose_run(pipeline, run_name, o)
    spec = build_spec(pipeline, run)
    cs = job_codespec(spec)
    given = {p: b for p, b in run["buffers"].items() if b != EPHEMERAL}
    unmapped_inputs = [p for p in cs.inputs if p not in given]
    unmapped_outputs = [p for p in cs.outputs if p not in given]
    if exec_io:
        _check_exec_streams(cs, unmapped_inputs, unmapped_outputs)
    # exec's own stdin/stdout buffers are collected after EXEC_BUFFER_TTL_SECONDS (unless the run gives bufferTtl)
    record = create_run(store, spec, default_ttl_seconds=buffer_ops.EXEC_BUFFER_TTL_SECONDS if exec_io else None)
    ids = record.spec["job"]["buffers"]
    streams: list[tuple[threading.Thread, str]] = []
    for parameter in unmapped_inputs:
        if exec_io and stdin is not None:
            streams.append((_stream(f"rtc-stdin-{parameter}", buffer_ops.write, store, ids[parameter], _RawReader(stdin)),
                            ids[parameter]))
        else:
            buffer_ops.seal(store, ids[parameter])
    output = None
    if exec_io and stdout is not None and unmapped_outputs:
        output = _stream("rtc-stdout", buffer_ops.follow, store, ids[unmapped_outputs[0]], _raw_writer(stdout))
    if on_status is not None:
        on_status(record)
    record = execute(store, record.id, on_line=on_line, on_status=on_status, cancel=cancel)
    if output is not None:
        output.join()  # the run's outputs are complete: the follower has copied everything
    for thread, buffer_id in streams:
        if thread.is_alive():  # the job stopped reading early and stdin is still open: fine, the run is over
            buffer_ops.mark_failed(store, buffer_id, "the run ended before standard input did (not all of it was written)")
    return record


class _RawReader:
    """Standard input read with os.read on its descriptor, never through its BufferedReader.

    The copying thread may still wait in a read when the run is over and the command
    returns; had it held the BufferedReader's lock, the interpreter would abort at exit
    (`Fatal Python error: _enter_buffered_busy`, exit 134). A thread blocked in os.read
    holds no Python lock, and exit does not wait for it.
    """

    def __init__(self, source: BinaryIO):
        self.source = source
        try:
            self.fd = source.fileno()
        except (AttributeError, OSError, ValueError):
            self.fd = None

    def read1(self, size: int = -1) -> bytes:
        if self.fd is None:
            return self.source.read(size)
        return os.read(self.fd, size if size > 0 else 1 << 16)

    read = read1


def _raw_writer(sink: BinaryIO):
    """Write to `sink`'s descriptor directly (see _RawReader: no BufferedWriter lock held at exit)."""
    try:
        fd = sink.fileno()
        sink.flush()
    except (AttributeError, OSError, ValueError):
        return sink

    def put(chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]

    return put


EPHEMERAL = "_"


def _check_exec_streams(cs: Codespec, inputs: list[str], outputs: list[str]) -> None:
    """Tyger's exec streams standard input into one input and one output to standard output."""
    for what, names, stream in (("inputs", inputs, "standard input"), ("outputs", outputs, "standard output")):
        if len(names) > 1:
            listed = ", ".join(repr(n) for n in names)
            raise RtcError(
                f"codespec {cs.name!r} has {len(names)} {what} without a buffer ({listed}); "
                f"exec connects only one of them to {stream}, so the others would have no data"
                if what == "inputs" else
                f"codespec {cs.name!r} has {len(names)} {what} without a buffer ({listed}); "
                f"exec copies only one of them to {stream}",
                hint="give buffers (from `rtc buffer create`) for all but one: -b "
                     + ",".join(f"{n}=ID" for n in names[1:]),
            )


def _stream(name: str, copy, store: Store, buffer_id: str, file) -> threading.Thread:
    """Copy between a buffer and stdin/stdout in a thread, while the run goes on."""

    def go() -> None:
        try:
            copy(store, buffer_id, file)
        except (BrokenPipeError, ValueError, OSError):
            pass  # the other end went away (`| head`, a closed terminal): the run is not concerned

    thread = threading.Thread(target=go, daemon=True, name=name)
    thread.start()
    return thread


# ---------------------------------------------------------------- executing


def execute(
    store: Store,
    run_id: int,
    *,
    on_line: LineCallback | None = None,
    on_status: StatusCallback | None = None,
    cancel: threading.Event | None = None,
) -> RunRecord:
    """Take a stored run from Pending to a terminal status; every container it started is removed."""
    record = store.get_run(run_id)
    if record.terminal:
        return record
    store.set_pid(run_id, os.getpid())
    return _Execution(store, record, on_line, on_status, cancel or threading.Event()).run()


class _Execution:
    def __init__(self, store: Store, record: RunRecord, on_line, on_status, cancel: threading.Event):
        self.store = store
        self.record = record
        self.id = record.id
        self.spec = record.spec
        self.on_line = on_line
        self.on_status = on_status
        self.cancel = cancel
        self.label = run_label(store, record.id)
        timeout = self.spec.get("timeoutSeconds")
        self.deadline = None if timeout is None else record.created_at + float(timeout)
        self.log = LogWriter(store.log_path(record.id))
        self.client = None
        self.network = None
        self.stop = threading.Event()
        self.outcome: tuple[str, str | None, int | None] | None = None

    # -- status

    def _move(self, to: str, frm: tuple[str, ...], reason: str | None = None, **fields) -> bool:
        changed = self.store.transition(self.id, to, frm=frm, reason=reason, **fields)
        if changed and self.on_status is not None:
            self.on_status(self.store.get_run(self.id))
        return changed

    def _finish(self, status: str, reason: str | None, exit_code: int | None = None) -> None:
        """Decide the outcome; it is recorded after cleanup, so a terminal status means nothing is left."""
        if self.outcome is None:
            self.outcome = (status, reason, exit_code)

    def _record_outcome(self) -> None:
        """Terminal status; a cancel that was requested meanwhile wins as Canceled."""
        status, reason, exit_code = self.outcome or (FAILED, "the run ended without an outcome", None)
        if status == CANCELED:
            self.store.transition(self.id, CANCELING, frm=(PENDING, RUNNING))
        elif self._move(status, (PENDING, RUNNING), reason, exit_code=exit_code):
            return
        else:
            reason = None
        self._move(CANCELED, (CANCELING,), reason or "canceled by request")

    def _watch_cancel(self) -> None:
        while not self.stop.wait(POLL_SECONDS):
            if self.store.get_run(self.id).status == CANCELING:
                self.cancel.set()
                return

    def _remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.time()

    def _timeout_reason(self) -> str:
        return f"timed out after {self.spec['timeoutSeconds']:g}s (counted from the run's creation)"

    # -- the run

    def run(self) -> RunRecord:
        watcher = threading.Thread(target=self._watch_cancel, daemon=True, name=f"rtc-cancel-{self.id}")
        watcher.start()
        try:
            self._run()
        except RtcError as exc:
            self._finish(FAILED, str(exc))
        except KeyboardInterrupt:
            self.cancel.set()
            self.outcome = (CANCELED, "interrupted", None)
            raise
        except BaseException as exc:
            self._finish(FAILED, f"internal error: {type(exc).__name__}: {exc}")
            raise
        finally:
            self.stop.set()
            self._cleanup()
            self._seal_outputs()
            self.log.close()
            self._record_outcome()
            buffer_ops.end_of_run(self.store, self.id)  # its ephemeral buffers go with it
        return self.store.get_run(self.id)

    def _run(self) -> None:
        job = job_codespec(self.spec)
        worker = worker_codespec(self.spec)
        self.client = engine.connect(ping=False)  # the image check just below is the first call: as good as a ping
        for cs in filter(None, (job, worker)):
            self._check_image(cs)
        if not self._move(RUNNING, (PENDING,), started_at=time.time()):
            self._finish(CANCELED, "canceled by request")
            return
        worker_env: dict[str, str] = {}
        if worker is not None:
            worker_env = self._start_workers(worker)
            if worker_env is None:
                return
        remaining = self._remaining()
        if remaining is not None and remaining <= 0:
            self._finish(FAILED, self._timeout_reason())
            return
        results = self._run_replicas(job, worker_env, remaining)
        if self.cancel.is_set():
            self._finish(CANCELED, "canceled by request")
        elif any(r.timed_out for r in results):
            self._finish(FAILED, self._timeout_reason(), exit_code=137)
        else:
            failed = [(i, r) for i, r in enumerate(results) if r.exit_code != 0]
            if failed:
                i, r = failed[0]
                who = f"replica {i}" if len(results) > 1 else "the job"
                self._finish(FAILED, f"{who} exited with code {r.exit_code}", exit_code=r.exit_code)
            else:
                self._finish(SUCCEEDED, None, exit_code=0)

    def _check_image(self, cs: Codespec) -> None:
        try:
            exists = self.client.image_exists(cs.image)
        except (OSError, engine.EngineError) as exc:
            raise engine.unreachable(exc) from None
        if not exists:
            raise RtcError(
                f"image {cs.image!r} of codespec {cs.name!r} is not on this machine (rtc never pulls while running)",
                hint=f"`docker pull {cs.image}` or `docker tag` a local image with that name",
            ) from None

    def _labels(self, step: str) -> dict[str, str]:
        return {
            "rtc.run": self.label,
            "rtc.step": step,
            "rtc.pipeline": self.spec.get("namespace", ""),
            "rtc.tyger.run": str(self.id),
            "rtc.store": self.store.key,
        }

    def _container(self, cs: Codespec, step: str, env: dict[str, str], mounts=(), **extra) -> engine.ContainerSpec:
        """`env`: what the runner adds to the codespec's own; `$(NAME)` expands as under every target."""
        command, args, environment = contract.expand_container(
            cs.command, cs.args, cs.env, {"RTC_RUN_ID": self.label, **env}
        )
        return engine.ContainerSpec(
            image=cs.image,
            argv=args,
            entrypoint=command or None,
            env=environment,
            mounts=list(mounts),
            labels=self._labels(step),
            workdir=cs.working_dir,
            network=self.network,
            **docker_resources(cs),
            **extra,
        )

    def _run_replicas(self, job: Codespec, worker_env: dict[str, str], timeout: float | None):
        buffers = self.spec["job"]["buffers"]
        env = dict(worker_env)
        # Buffers relayed to a socket have no pipe: the relay reads and writes them (Tyger's socket-adapt sidecar).
        relayed = {s.get(k) for s in job.sockets for k in ("input_buffer", "output_buffer")} - {None}
        piped_inputs = [p for p in job.inputs if p not in relayed]
        piped_outputs = [p for p in job.outputs if p not in relayed]
        for parameter in piped_inputs + piped_outputs:
            env[buffer_ops.pipe_variable(parameter)] = buffer_ops.container_path(parameter)
        replicas = int(self.spec["job"]["replicas"])
        results: list = [None] * replicas
        errors: list[BaseException] = []
        output_lock = threading.Lock()
        pipes_dir = self.store.home / "pipes"
        pipes_dir.mkdir(mode=0o700, exist_ok=True)

        def one(i: int) -> None:
            pipes = ReplicaPipes(self.store, pipes_dir / f"{self.id}-{i}",
                                 {p: buffers[p] for p in piped_inputs}, {p: buffers[p] for p in piped_outputs},
                                 output_lock)
            relays = SocketRelays(self.store, job.sockets, buffers, output_lock,
                                  on_line=self._line if replicas == 1 else (lambda text, i=i: self._line(f"[replica-{i}] {text}")))
            index = {"RTC_REPLICA_INDEX": str(i), "REPLICA_INDEX": str(i)}
            try:
                host, target = pipes.create()
                spec = self._container(job, f"replica-{i}", {**env, **index}, [(host, target, False)])
                pipes.start()
                # several replicas: each line says whose it is, as a worker's does
                on_line = self._line if replicas == 1 else (lambda text, i=i: self._line(f"[replica-{i}] {text}"))
                created = None
                if job.sockets:  # the relays need the container's id to find its network namespace
                    created = engine.create_for_run(self.client, spec)
                    relays.start(self.client, created)
                results[i] = engine.run_container(
                    self.client, spec, on_line=on_line, timeout=timeout, cancel=self.cancel, created=created
                )
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
                self.cancel.set()  # one replica that cannot start stops the others
            finally:
                relays.finish()
                pipes.finish()
                errors.extend(pipes.errors)
                errors.extend(relays.errors)

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(replicas)]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)
        except KeyboardInterrupt:
            self.cancel.set()
            for t in threads:
                t.join(10)
            raise
        if errors:
            raise errors[0] if isinstance(errors[0], RtcError) else RtcError(str(errors[0]))
        return results

    def _line(self, text: str) -> None:
        self.log.write(text)
        if self.on_line is not None:
            self.on_line(text)

    # -- workers (distributed runs)

    def _start_workers(self, worker: Codespec) -> dict[str, str] | None:
        """Start the workers on a network of the run's own, wait until their endpoints answer."""
        self.network = f"rtc-{self.label}"
        self.client.networks.create(self.network, driver="bridge", labels=self._labels("network"))
        replicas = int(self.spec["worker"]["replicas"])
        names = [f"rtc-{self.label}-worker-{i}" for i in range(replicas)]
        containers = []
        for i, name in enumerate(names):
            index = {"RTC_REPLICA_INDEX": str(i), "REPLICA_INDEX": str(i)}
            container = engine.start_container(self.client, self._container(worker, f"worker-{i}", index, name=name))
            containers.append(container)
            threading.Thread(target=self._follow_worker, args=(container, i), daemon=True).start()
        if not self._wait_workers_ready(worker, containers):
            return None
        env = {"TYGER_WORKER_NODES": json.dumps(names)}
        for endpoint, port in sorted(worker.endpoints.items()):
            variable = f"TYGER_{buffer_ops.env_name(endpoint)}_WORKER_ENDPOINT_ADDRESSES"
            env[variable] = json.dumps([f"{name}:{port}" for name in names])
        return env

    def _follow_worker(self, container, index: int) -> None:
        try:
            for line in engine._lines(container.logs(stream=True, follow=True)):
                self._line(f"[worker-{index}] {line}")
        except Exception:  # noqa: BLE001 - the container went away: nothing more to log
            pass

    def _wait_workers_ready(self, worker: Codespec, containers) -> bool:
        limit = time.monotonic() + WORKER_READY_SECONDS
        pending = {(i, port) for i in range(len(containers)) for port in worker.endpoints.values()}
        while True:
            for i, container in enumerate(containers):
                container.reload()
                if container.status == "exited":
                    code = container.attrs.get("State", {}).get("ExitCode")
                    self._finish(FAILED, f"worker {i} exited with code {code} before the job started")
                    return False
            for i, port in sorted(pending):
                address = containers[i].attrs["NetworkSettings"]["Networks"][self.network]["IPAddress"]
                if address and _answers(address, port):
                    pending.discard((i, port))
            if not pending:
                return True
            if self.cancel.is_set():
                self._finish(CANCELED, "canceled by request")
                return False
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                self._finish(FAILED, self._timeout_reason() + " while waiting for workers")
                return False
            if time.monotonic() > limit:
                self._finish(FAILED, f"workers did not open their endpoints within {WORKER_READY_SECONDS:g}s")
                return False
            time.sleep(POLL_SECONDS)

    # -- cleanup

    def _cleanup(self) -> None:
        if self.client is None:
            return
        try:
            engine.remove_labelled(self.client, **{"rtc.run": self.label})
            if self.network is not None:
                for network in self.client.networks.list(names=[self.network]):
                    network.remove()
        except Exception:  # noqa: BLE001 - cleanup is best effort; `rtc run cancel` retries it
            pass

    def _seal_outputs(self) -> None:
        """A finished run completes its outputs, so that `rtc buffer read` stops waiting."""
        for parameter in job_codespec(self.spec).outputs:
            buffer_ops.seal(self.store, self.spec["job"]["buffers"][parameter])


def _answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------- canceling


def request_cancel(store: Store, run_id: int) -> RunRecord:
    """Tyger's cancel: Canceling now, Canceled once the executor has stopped the containers.

    When no process is executing the run any more (it died), this call
    removes the run's containers itself and marks it Canceled.
    """
    record = store.get_run(run_id)
    if record.terminal:
        return record
    store.transition(run_id, CANCELING, frm=(PENDING, RUNNING))
    record = store.get_run(run_id)
    if record.status == CANCELING and _executor_gone(record):
        try:
            labels = {"rtc.run": run_label(store, run_id)}
            if record.owner:  # only what its dead executor made, never a container merely carrying the run label
                labels["rtc.owner"] = record.owner
            engine.remove_labelled(engine.connect(), **labels)
        finally:
            store.transition(run_id, CANCELED, frm=(CANCELING,), reason="canceled by request")
            for parameter in job_codespec(record.spec).outputs:
                buffer_ops.seal(store, record.spec["job"]["buffers"][parameter])
            buffer_ops.end_of_run(store, run_id)
    return store.get_run(run_id)


def _executor_gone(record: RunRecord) -> bool:
    """Proven gone: never started, or its owner label says so (a pid of another PID namespace proves nothing)."""
    from rtc.integrations.engine.owners import owner_state

    if record.pid is None:
        return True
    return owner_state(record.owner) == "gone"


# ---------------------------------------------------------------- the detached executor


def main(argv: list[str]) -> int:
    """`python -m rtc.integrations.tyger.runs RUN_ID`: execute one stored run (started by `rtc run create`)."""
    import signal

    def interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # `kill PID` cancels the run as Ctrl-C does: containers removed
    signal.signal(signal.SIGHUP, interrupt)
    store = Store()
    run_id = int(argv[0])
    try:
        record = execute(store, run_id)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - recorded as the run's status reason; the log keeps the rest
        print(f"run {run_id}: {exc}", file=sys.stderr)
        return 1
    return 0 if record.status == SUCCEEDED else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
