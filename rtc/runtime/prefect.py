"""rtc's Prefect adapter: the tasks and flow helpers every rtc flow module uses, over rtc's runtime.

Compiled flow modules add their folder to sys.path and import this package by
its folder name (`rtc_runtime_<hash>.prefect`). Needs only prefect, docker and
the standard library: Prefect workers need no rtc installed. What a step does
(inputs, environment, outputs, signals, the cache key) is rtc.runtime.step's
and rtc.runtime.cache's, as under every target; this module maps it onto
Prefect tasks, futures and states.

Why inputs and outputs travel through `put_archive` / `get_archive` instead of
a bind-mounted folder: the flow process may itself run in a container (a
Prefect worker with the Docker socket), where a host folder is not shared.
Why the wait is a short poll: a Prefect task timeout in a worker thread is an
asynchronous exception, delivered only between Python bytecodes; a poll loop
lets it land, and the `finally` then removes the container.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import queue
import socket
import tarfile
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import docker
import docker.errors
from prefect import allow_failure, get_run_logger
from prefect.blocks.system import Secret
from prefect.context import TaskRunContext
from prefect.runtime import flow_run, task_run
from prefect.states import Failed, State
from prefect.transactions import get_transaction

from . import lineage
from .artifacts import ArtifactError, open_store, pack_folder, unpack_archive
from .lineage_client import Sender, open_client
from .cache import step_key
from .contract import (
    ARTIFACTS_IN_DIR, ARTIFACTS_OUT_DIR, BUFFERS_DIR, EVENT_OUTPUT_RECORDED, EVENT_RUN_SUCCEEDED, INPUTS_FILE, IO_DIR,
    MAX_OUTPUTS_BYTES, MAX_REQUEUES, MAX_SIGNAL_BYTES, OUTPUTS_FILE, SIGNAL_FILE, IoFileError, buffer_file,
    expand_container, pipe_variable, read_io_archive, retry_delay,
)
from .step import (
    PRUNE, ContractError, PermanentError, artifact_environment, artifact_ports, bind_inputs, check_result,
    container_environment, decode_signal, last_element, merge_elements, place_artifact_inputs, place_buffer, smallest_retry_delay,
    stage_artifact_inputs, step_outputs, store_buffer, store_host_paths, unpaired,
)

_POLL_SECONDS = 0.2
_IO_GROUP = 4242  # the group that owns /rtc/io inside the container, given to the step's process
_LOG_TAIL = 20


def retry_unless_permanent(task, task_run, state):
    """Prefect's `retry_condition_fn`: retry failed exits and timeouts, never a PermanentError or ContractError,
    nor a Failed state the task returned itself (a step that did not run, or whose last attempt failed).

    Prefect hands the exception the task raised as `state.data`; a returned state's data is a result record.
    """
    return isinstance(state.data, BaseException) and not isinstance(state.data, (PermanentError, ContractError))


def secret_block_name(secret):
    """The Prefect Secret block that holds `secret`: lower case, `_` as `-` (API_KEY -> api-key)."""
    return secret.lower().replace("_", "-")


def load_secrets(names):
    """Secret values by name (`names`: a list, or secret -> steps that need it), from Secret blocks now.

    A missing block fails with every missing secret, its block name and its steps.
    """
    values, missing = {}, []
    for name in names:
        block = secret_block_name(name)
        try:
            values[name] = str(Secret.load(block).get())
        except ValueError:
            steps = names[name] if isinstance(names, dict) else []
            needed = f", needed by {', '.join(steps)}" if steps else ""
            missing.append(f"{name} (Secret block {block!r}{needed})")
    if missing:
        raise RuntimeError(
            "missing secret(s): " + ", ".join(missing)
            + "; create them with: prefect block create secret, or Secret(value=...).save(NAME)"
        )
    return values


STORE_BLOCK = "rtc-store"  # the RemoteFileSystem block naming the artifact store (basepath) and its client settings


def artifact_store():
    """The artifact store of `file`/`dir` ports for this flow run: RTC_STORE, else the RemoteFileSystem block
    `rtc-store` (its basepath the store's URL, e.g. s3://BUCKET/PREFIX, its settings s3fs's: key, secret,
    endpoint_url...), else the folder $RTC_HOME/artifacts (~/.rtc/artifacts) of this worker, which serves one
    machine. Without settings, an s3:// store's client reads AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ... as boto3
    does. See rtc's docs/prefect.md."""
    url, options = os.environ.get("RTC_STORE"), None
    if not url:
        from prefect.filesystems import RemoteFileSystem

        try:
            block = RemoteFileSystem.load(STORE_BLOCK)
            url, options = block.basepath, dict(block.settings or {})
        except ValueError:  # no such block
            url = os.path.join(os.environ.get("RTC_HOME") or os.path.expanduser("~/.rtc"), "artifacts")
    try:
        return open_store(url, options)
    except ArtifactError as exc:
        raise PermanentError(f"the artifact store: {exc}") from None


def _tar(files, dirs, group):
    """A tar stream with `dirs` and `files` (path -> bytes), paths relative to /.

    Owned by `group` and writable by it (the container gets it as a supplementary
    group), never by the world: the step may run as any user of its image.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in dirs:
            info = tarfile.TarInfo(d.lstrip("/"))
            info.type = tarfile.DIRTYPE
            info.mode = 0o2770
            info.gid = group
            tar.addfile(info)
        for path, data in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            info.mode = 0o660
            info.gid = group
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# Go's os.ModeType bits in the engine's stat of a path (dir, symlink, device, pipe, socket, char device,
# irregular): none of them set means a regular file.
_GO_MODE_TYPE = (1 << 31) | (1 << 27) | (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19)


def _read_file(container, path, limit):
    """Text of `path` inside a (stopped) container, or None when it does not exist.

    Only a regular file of at most `limit` bytes (rtc.runtime.contract.read_io_archive); else a ContractError.
    """
    try:
        chunks, stat = container.get_archive(path)
    except docker.errors.NotFound:
        return None
    name = path.rsplit("/", 1)[-1]
    try:
        if stat.get("size", 0) > limit and not stat.get("mode", 0) & _GO_MODE_TYPE:  # a regular file, too big
            raise IoFileError(f"{name} is over rtc's limit of {limit} bytes ({stat['size']} bytes; "
                              "pass large data through a mount or a buffer)")
        return read_io_archive(chunks, name, limit)
    except IoFileError as exc:
        raise ContractError(f"step {container.labels.get('rtc.step', '?')!r}: {exc}") from None
    finally:
        # A stream left half read keeps its engine connection, and the container, busy until
        # the engine gives up; closing the generator closes the connection (urllib3).
        chunks.close()


def _forward_logs(container, lines):
    """Read the container's output in a thread; whole lines go to `lines`, then None."""
    pending = b""
    try:
        for chunk in container.logs(stream=True, follow=True):
            pending += chunk
            *done, pending = pending.split(b"\n")
            for line in done:
                lines.put(line.decode("utf-8", "replace"))
    except Exception:  # noqa: BLE001 - the container went away; its exit code tells the story
        pass
    if pending:
        lines.put(pending.decode("utf-8", "replace"))
    lines.put(None)


def _remove(container):
    """Remove the container, even when a timeout exception lands in the middle of it."""
    for _ in range(3):
        try:
            container.remove(force=True)
            return
        except docker.errors.NotFound:
            return
        except BaseException:  # noqa: BLE001 - a late TaskRunTimeoutError must not leak a container
            continue


def _pull(client, image, logger):
    """Pull an image this worker's engine lacks (a worker on another machine than the build).

    Failing that, the step fails at once: retrying cannot make an image appear in a registry.
    """
    # Where docker.from_env() connected: DOCKER_HOST, or the local socket.
    engine = docker.utils.kwargs_from_env().get("base_url") or "unix:///var/run/docker.sock"
    logger.info("pulling %s (not on the Docker engine at %s)", image, engine)
    try:
        client.images.pull(image)
    except docker.errors.APIError as exc:
        message = (
            f"image {image!r} is not on this Docker engine ({engine}) and cannot be pulled: "
            f"{exc.explanation or exc}. An image rtc builds reaches other engines through a registry: "
            "rtc build FILE --push --registry REGISTRY, and compile with the same --registry"
        )
        raise PermanentError(message) from None


def run_container(spec, env, files, dirs, read_back, name_suffix="", where=None, stage_in=None, fetch=None):
    """Run `spec` (image, argv, ...) to completion; return {path: text or None} for `read_back` ({path: limit}).

    Log lines go to the Prefect run logger as they arrive. A non-zero exit
    raises with the last lines of output; the container is always removed.
    `where` names it in messages (default: the step). Artifacts: `stage_in`, (a folder of this host, the folder
    in the container it is copied to as read-only files) before the start; `fetch`, {path in the container: (folder of
    this host, what it is)}: after a 0 exit, what the step left there is unpacked into the folder.
    """
    where = where or f"step {spec['step']!r}"
    logger = get_run_logger()
    client = docker.from_env()
    run_id = str(flow_run.get_id() or "local")
    labels = {"rtc.run": run_id, "rtc.step": spec["step"] + name_suffix, "rtc.pipeline": spec["namespace"]}
    settings = dict(
        command=spec["argv"] or None,
        entrypoint=spec.get("entrypoint") or None,
        environment=env,
        labels=labels,
        network=spec.get("network"),
        working_dir=spec.get("workdir"),
        volumes=spec.get("volumes") or None,
        ports=spec.get("ports") or None,
        nano_cpus=spec.get("nano_cpus"),
        mem_limit=spec.get("mem_limit"),
        group_add=[str(_IO_GROUP)],
        detach=True,
    )
    try:
        container = client.containers.create(spec["image"], **settings)
    except docker.errors.ImageNotFound:
        _pull(client, spec["image"], logger)
        container = client.containers.create(spec["image"], **settings)
    started = time.monotonic()
    deadline = started + spec["timeout"] if spec.get("timeout") else None
    tail = []
    try:
        container.put_archive("/", _tar(files, dirs, _IO_GROUP))
        if stage_in is not None:
            container.put_archive("/", pack_folder(*stage_in))
        container.start()
        container.reload()
        for port, bindings in sorted((container.attrs["NetworkSettings"].get("Ports") or {}).items()):
            for b in bindings or []:
                logger.info("port %s published on %s:%s", port, b.get("HostIp"), b.get("HostPort"))
        lines = queue.Queue()
        reader = threading.Thread(target=_forward_logs, args=(container, lines), daemon=True)
        reader.start()
        finished = False
        while True:
            try:
                line = lines.get(timeout=_POLL_SECONDS)
                while True:
                    if line is None:
                        finished = True
                    else:
                        logger.info("%s", line)
                        tail = (tail + [line])[-_LOG_TAIL:]
                    line = lines.get_nowait()
            except queue.Empty:
                pass
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{where} timed out after {spec['timeout']} s; container removed")
            if finished:
                container.reload()
                if container.status in ("exited", "dead"):
                    break
        code = container.wait().get("StatusCode", -1)
        logger.info("container exited with code %s after %.1f s", code, time.monotonic() - started)
        if code != 0:
            raise RuntimeError(
                f"{where} failed: container exited with code {code}"
                + (f" (last output: {tail[-1][:200]!r})\n" + "\n".join(tail) if tail else "")
            )
        got = {path: _read_file(container, path, limit) for path, limit in read_back.items()}
        for path, (folder, what) in (fetch or {}).items():
            try:
                chunks, _ = container.get_archive(path)
            except docker.errors.NotFound:
                continue  # the step left nothing there: the store says so
            try:
                unpack_archive(chunks, folder, what)
            except ArtifactError as exc:  # what the step left breaks the contract (a device, too many entries)
                raise ContractError(str(exc)) from None
            finally:
                chunks.close()
        return got
    finally:
        _remove(container)


def _sleep(seconds):
    """time.sleep in short slices, so that a cancellation or timeout exception can land."""
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, _POLL_SECONDS))


def retry_rest(spec, run_count):
    """Seconds of this retry's delay that Prefect did not wait: with jitter, the part drawn at random.

    Prefect waits the smallest delay of each retry (`prefect_delays`, the
    last one reused after the list ends); the step's delay is drawn here with
    rtc.runtime.contract.retry_delay, the same function as under every target.
    """
    retry = spec.get("retry")
    if not retry or not run_count or run_count < 2:
        return 0.0
    attempt = run_count - 1
    delays = prefect_delays(retry)
    waited = delays[min(attempt, len(delays)) - 1]
    return max(0.0, retry_delay(retry["policy"], attempt) - waited)


def prefect_delays(retry):
    """Prefect's `retry_delay_seconds` as a list: one delay, the smallest before any retry (one number, which
    Prefect's UI shows; a list showed as "NaN"); `Node.run` waits the rest of each retry's delay."""
    return [smallest_retry_delay(retry["policy"], retry["retries"])]


def _recorded_key(context, key, spec):
    """`key`, unless what Prefect recorded under it no longer passes the declared types.

    Then the step must run again. Prefect would return the record on `key`, so the key becomes one
    derived from the bad record's content: a miss now, and the fresh outputs are recorded under it,
    so the next run with the same bad record finds them (the bad record is never used).
    """
    store = context.result_store
    try:
        if not store.exists(key):
            return key
        value = store.read(key).result
        value = dict(value) if isinstance(value, Mapping) else value
    except Exception:  # noqa: BLE001 - an unreadable record: Prefect treats it as absent and runs the task
        return key
    try:
        check_result(value, spec["outputs"], spec["fanout"], f"cached step {spec['step']!r}")
    except ContractError as exc:
        get_run_logger().warning("ignoring the cached outputs of step %r (%s); running it", spec["step"], exc)
        bad = hashlib.sha256(json.dumps(value, sort_keys=True, default=repr).encode()).hexdigest()
        return hashlib.sha256(f"{key}:{bad}".encode()).hexdigest()
    get_run_logger().info("step %r cached: outputs recorded by an earlier run; no container started", spec["step"])
    return key


def _do_not_cache():
    """A pruned step is not recorded: the cache keeps outputs, and a prune is a decision of that run."""
    txn = get_transaction()
    if txn is not None:
        txn.write_on_commit = False


# ---------------------------------------------------------------- what a step's task returns


class Outputs(Mapping):
    """A step's checked outputs ({output: value}; a `fanout` node's: {output: [values]}), as its task returns them.

    Not a dict on purpose. Prefect links a task argument to an earlier task when the argument *is* an
    object of that task's result, a dict's keys and values included, so an output name shared by two
    steps drew edges that are not in the pipeline (issue 23). Prefect does not look inside an Outputs
    object: only the futures the flow passes draw edges. `pruned`: None, or why the step has no
    outputs: "self" (it sent the prune signal), "upstream" (a step above it was pruned), "no element"
    (the stand-in task run of a fan-out over nothing, which adds nothing).
    """

    __slots__ = ("_columns", "fanout", "pruned", "__weakref__")

    def __init__(self, columns=None, fanout=False, pruned=None):
        self._columns = dict(columns or {})
        self.fanout = fanout
        self.pruned = pruned

    def __getitem__(self, name):
        return self._columns[name]

    def __iter__(self):
        return iter(self._columns)

    def __len__(self):
        return len(self._columns)

    def __reduce__(self):  # Prefect's result storage pickles cached outputs
        return Outputs, (self._columns, self.fanout, self.pruned)

    def __repr__(self):
        return f"Outputs(pruned={self.pruned!r})" if self.pruned else f"Outputs({self._columns!r})"


def _tolerant(future):
    """`future` (or each future of a mapped step) under allow_failure: the task decides what a failure above means."""
    if isinstance(future, list):
        return [allow_failure(f) for f in future]
    return allow_failure(future)


@dataclass
class Output:
    """An input read from an upstream step's output: `output(extract, "rows")` in a flow.

    Prefect resolves the future(s) in `of` before the task runs (and draws the edge); the task picks `name`.
    """

    of: object
    name: str
    runs: tuple = ()  # the task run ids in `of`, to name a failed step in a message
    last: bool = False  # `last(...)`: the task reads the last element of the list; `name` None: `of` is that list


def _runs(future):
    return tuple(f.task_run_id for f in (future if isinstance(future, list) else [future]))


def output(future, name):
    """The output `name` of the step whose future (a list of futures for a mapped step) is `future`."""
    return Output(_tolerant(future), name, _runs(future))


def last(source, name=None):
    """An input bound with `last(...)`: the task reads the last element of the list. `last(extract, "rows")`:
    of an upstream output (of a mapped step: in map-index order, its pruned elements dropped); `last(values)`:
    of a param's list."""
    if name is None:
        return Output(source, None, last=True)
    return Output(_tolerant(source), name, _runs(source), last=True)


@dataclass
class Element:
    """One element of a fanned-out step: element `index` of `of`'s output `name`, or `value` (a param's list).

    `index` None: a stand-in (the list is empty, or its step did not succeed), which runs no container.
    `error`: the task run fails with it (`paired`: lists that do not pair up).
    """

    of: object
    name: str | None
    index: int | None
    value: object = None
    runs: tuple = ()
    error: str | None = None


def paired(**lists):
    """The each() lists of a step that fans out over several (`.map(**paired(a=each(...), b=each(...)))`): as they
    are when their lengths agree, else one element for each input that fails the task run naming the lengths, as
    every target fails such a step (Task.map would raise in the flow instead). A stand-in list (its step did not
    succeed, or ran over nothing) stands in for all of them."""
    for elements in lists.values():
        if len(elements) == 1 and elements[0].index is None:
            return {name: elements for name in lists}
    problem = unpaired({name: len(elements) for name, elements in lists.items()})
    return {name: [Element(None, None, 0, error=problem)] for name in lists} if problem else lists


def after(*futures):
    """`wait_for=` of an `after [...]` edge: every future (each of a mapped step), under allow_failure."""
    flat = []
    for future in futures:
        flat.extend(future if isinstance(future, list) else [future])
    return [allow_failure(f) for f in flat]


def each(source, name=None, stand_in=False):
    """The elements a fanned-out step maps over (`Task.map` takes the list): `each(extract, "rows")`, an
    upstream output, or `each(values)`, a param's list. Waits for the upstream step.

    Over nothing, or when the upstream step failed or was pruned, one stand-in element: its task run
    starts no container, is pruned when a step above was, and otherwise adds nothing (the outputs go on
    as empty lists). `stand_in`: also for a param's empty list (the step has steps above it).
    """
    if name is None:
        if not isinstance(source, list):
            raise ContractError(f"each() needs a list, got {type(source).__name__}")
        if not source and stand_in:
            return [Element(None, None, None)]
        return [Element(None, None, i, value) for i, value in enumerate(source)]
    got = [f.result(raise_on_failure=False) for f in source] if isinstance(source, list) else \
        source.result(raise_on_failure=False)
    status, values = _column(got, name, isinstance(source, list))
    if status != "ok" or not isinstance(values, list) or not values:
        return [Element(_tolerant(source), name, None, runs=_runs(source))]
    return [Element(_tolerant(source), name, i, runs=_runs(source)) for i in range(len(values))]


def _status(result):
    """"ok", "pruned" or "failed" of a finished step's resolved result (a list of them for a mapped step).

    A mapped step counts as pruned only when its elements were pruned because a step above was, not
    when they pruned themselves (they drop out of its lists) or it ran over nothing.
    """
    if isinstance(result, list):
        if any(not isinstance(r, Mapping) for r in result):
            return "failed"
        return "pruned" if any(isinstance(r, Outputs) and r.pruned == "upstream" for r in result) else "ok"
    if not isinstance(result, Mapping):
        return "failed"  # an exception, or no result: the step failed, or did not run because a step above failed
    return "pruned" if isinstance(result, Outputs) and result.pruned else "ok"


def _column(result, name, mapped):
    """(status, value) of output `name` of a finished step: the value, or a list in map-index order for a
    mapped step (pruned elements drop out, a fanout node's lists are concatenated)."""
    status = _status(result)
    if status != "ok":
        return status, None
    if not mapped:
        return "ok", result[name]
    kept = [None if isinstance(r, Outputs) and r.pruned else r for r in result]
    fanout = any(getattr(r, "fanout", False) for r in result)
    return "ok", merge_elements(kept, [name], fanout)[name]


def _resolve(value):
    """(status, value) of one resolved task argument: an Output, an Element or a plain value."""
    if isinstance(value, Output):
        if value.name is None:  # last(values): a param's list, not an upstream output
            return "ok", value.of
        return _column(value.of, value.name, isinstance(value.of, list))
    if isinstance(value, Element):
        if value.of is None:
            return ("ok", value.value) if value.index is not None else ("no element", None)
        status, values = _column(value.of, value.name, isinstance(value.of, list))
        if status == "ok" and value.index is None:
            return "no element", None
        return status, None if status != "ok" else values[value.index]
    return "ok", value


class StepName:
    """`task_run_name=step("clean")`: names a node's task run after the step (an element: `clean[2] row="x"`),
    and tells the runtime which step it runs and whether it is a join `after all_done`."""

    def __init__(self, step_id, all_done=False):
        self.step = step_id
        self.all_done = all_done

    def __call__(self, parameters):
        elements = {name: v for name, v in parameters.items() if isinstance(v, Element)}
        if not elements:
            return self.step
        index = next(iter(elements.values())).index
        if index is None:
            return f"{self.step}[-]"
        shown = " ".join(f"{name}={_short(_resolve(v)[1])}" for name, v in elements.items())
        return f"{self.step}[{index}] {shown}"


def step(step_id, all_done=False):
    """The `task_run_name` of a step's task run (see StepName)."""
    return StepName(step_id, all_done)


def _short(value, limit=40):
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Task run id -> ("pruned" or "failed", step): the steps `after` a step see it through wait_for, not data,
# and a step that does not run names the failed step above it.
_OUTCOMES = {}

UPSTREAM_FAILED = "UpstreamFailed"  # the state name of a step that did not run because a step above it failed


class Node:
    """A node's container, declared inputs and outputs: what its steps' tasks run (`NODE.run(inputs)`).

    One per node (and retry policy) in a flow module; the `@task` around `run` carries Prefect's
    options (retries, delays, cache). The step comes from the task run's name (`step(...)`).
    """

    def __init__(self, name, namespace, *, image, argv, inputs=None, outputs=None, environ=None, volumes=None,
                 ports=None, workdir=None, timeout=None, secrets=(), fanout=False, retry=None, cache=None):
        self.name = name
        self.spec = {
            "namespace": namespace, "image": image, "argv": argv, "inputs": inputs or {}, "outputs": outputs or {},
            "environ": environ or {}, "volumes": volumes or {}, "ports": ports or {}, "workdir": workdir,
            "timeout": timeout, "secrets": list(secrets), "fanout": fanout, "retry": retry, "cache": cache,
        }

    def _step(self):
        context = TaskRunContext.get()
        naming = getattr(getattr(context, "task", None), "task_run_name", None)
        if isinstance(naming, StepName):
            return {**self.spec, "step": naming.step, "all_done": naming.all_done}, context
        return {**self.spec, "step": self.name, "all_done": False}, context

    def _bind(self, spec, context, arguments):
        """("run", inputs, map index) | ("pruned", why) | ("failed", steps) from the resolved task arguments."""
        inputs, map_index, pruned, failed, no_element = {}, None, set(), set(), False
        for name, value in arguments.items():
            if isinstance(value, Element) and value.error:
                raise ContractError(f"step {spec['step']!r}: {value.error}")
            status, inputs[name] = _resolve(value)
            if isinstance(value, Element):
                map_index = value.index
            if status == "no element":
                no_element = True
            elif status != "ok":
                steps = {_OUTCOMES[r][1] for r in getattr(value, "runs", ()) if r in _OUTCOMES} or {"a step"}
                (pruned if status == "pruned" else failed).update(steps)
        for ref in (context.task_run.task_inputs.get("wait_for", []) if context else []):
            outcome = _OUTCOMES.get(getattr(ref, "id", None))
            if outcome:
                (pruned if outcome[0] == "pruned" else failed).add(outcome[1])
        pruned, failed = sorted(pruned), sorted(failed)
        if not spec["all_done"]:
            if failed:
                return "failed", failed
            if pruned:
                return "pruned", pruned
        if no_element:
            return "no element", None
        where = f"step {spec['step']!r}" + ("" if map_index is None else f" element {map_index}")
        for name, value in arguments.items():
            if isinstance(value, Output) and value.last:
                inputs[name] = last_element(inputs[name], f"input {name!r} of {where}")
        if any(isinstance(inputs.get(name), str) for name in artifact_ports(spec["inputs"])):
            # A `file`/`dir` param: a path on this worker, stored (before the cache key is computed).
            inputs = store_host_paths(artifact_store(), inputs, spec["inputs"], what="input")
        bindings = {name: ("literal", value) for name, value in inputs.items()}
        types = {name: spec["inputs"].get(name, "json") for name in inputs}
        return "run", bind_inputs(bindings, types, {}, {}, where=where, all_done=spec["all_done"]), map_index

    def run(self, arguments):
        """Run the step the task run is named after, in a container, and return its checked Outputs.

        Below a failed step it does not run (state UpstreamFailed); below a pruned one it is pruned;
        a join `after all_done` runs with None for either.
        """
        spec, context = self._step()
        run_id = context.task_run.id if context else None
        try:
            result = self._run(spec, context, arguments)
        except Exception as exc:
            _OUTCOMES[run_id] = ("failed", spec["step"])
            retries = getattr(getattr(context, "task", None), "retries", 0) or 0
            final = isinstance(exc, (ContractError, PermanentError)) or task_run.run_count > retries
            if not final:
                raise  # Prefect retries it
            # The last attempt: a Failed state with the message, not a traceback through rtc's code.
            get_run_logger().error("failed: %s", str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            return Failed(message=f"{type(exc).__name__}: {exc}" if not str(exc).startswith(("step ", "output ", "input "))
                          else str(exc))
        except BaseException:
            _OUTCOMES[run_id] = ("failed", spec["step"])
            raise
        if isinstance(result, State):
            _OUTCOMES[run_id] = ("failed", spec["step"])
        elif result.pruned in ("self", "upstream"):
            _OUTCOMES[run_id] = ("pruned", spec["step"])
        else:
            _OUTCOMES.pop(run_id, None)
        return result

    def _run(self, spec, context, arguments):
        logger = get_run_logger()
        bound = self._bind(spec, context, arguments)
        if bound[0] == "failed":
            named = ", ".join(repr(s) if s != "a step" else s for s in bound[1])
            logger.info("not run: %s above it failed", named)
            return Failed(name=UPSTREAM_FAILED, message=f"not run: {named} above it failed")
        if bound[0] == "pruned":
            named = ", ".join(repr(s) if s != "a step" else s for s in bound[1])
            logger.info("pruned: %s above it was pruned; no container started", named)
            _do_not_cache()
            return Outputs(pruned="upstream")
        if bound[0] == "no element":
            _do_not_cache()
            return Outputs(pruned="no element")  # the stand-in of a fan-out over nothing
        _, inputs, map_index = bound
        rest = retry_rest(spec, task_run.run_count)
        if rest > 0:
            logger.info("retry back-off: waiting %.3g s more (jitter)", rest)
            _sleep(rest)
        logger.info("inputs: %s", _short(inputs, 200))
        where = f"step {spec['step']!r}" + ("" if map_index is None else f" element {map_index}")
        seen = StepLineage(spec, inputs, map_index)
        try:
            with tempfile.TemporaryDirectory(prefix="rtc-") as local:
                result = self._attempts(spec, inputs, map_index, where, local)
        except Exception as exc:
            seen.ended("FAIL", error=str(exc))
            raise
        seen.ended("COMPLETE", outputs=None if result.pruned else dict(result))
        return result

    def _attempts(self, spec, inputs, map_index, where, local):
        """Run the container until it neither re-queues nor fails; `local`: a private folder of this worker for
        the step's artifacts on their way in and out."""
        logger = get_run_logger()
        outs = artifact_ports(spec["outputs"])
        store = artifact_store() if outs or artifact_ports(spec["inputs"]) else None
        try:
            staged = stage_artifact_inputs(store, inputs, spec["inputs"], os.path.join(local, "in"))
        except ArtifactError as exc:
            raise PermanentError(f"{where}: {exc}") from None
        shown, _ = place_artifact_inputs(inputs, spec["inputs"])
        env, encoded = container_environment(
            spec["environ"], shown, step=spec["step"], run_id=str(flow_run.get_id() or "local"),
            map_index=map_index, secrets=load_secrets(spec["secrets"]),
            artifacts=artifact_environment(spec["inputs"], spec["outputs"]),
        )
        for requeues in range(MAX_REQUEUES + 1):
            out_dir = os.path.join(local, f"out.{requeues}")  # each run of the container leaves its own
            os.mkdir(out_dir, 0o700)
            got = run_container(
                spec, env,
                files={INPUTS_FILE: encoded.encode("utf-8")},
                dirs=["/rtc", IO_DIR] + ([ARTIFACTS_OUT_DIR] if outs else []),
                read_back={OUTPUTS_FILE: MAX_OUTPUTS_BYTES, SIGNAL_FILE: MAX_SIGNAL_BYTES},
                name_suffix="" if map_index is None else f"#{map_index}", where=where,
                stage_in=(os.path.join(local, "in"), ARTIFACTS_IN_DIR) if staged else None,
                fetch={f"{ARTIFACTS_OUT_DIR}/{port}": (out_dir, f"output {port!r} of {where}") for port in outs},
            )
            signal = decode_signal(got[SIGNAL_FILE], where)  # a signal wins over outputs
            if signal is None:
                try:
                    columns = step_outputs(got[OUTPUTS_FILE], spec["outputs"], spec["fanout"], where, store, out_dir)
                except ArtifactError as exc:  # the store itself failed: say why, without a traceback through rtc
                    raise PermanentError(str(exc)) from None
                for port in outs:
                    ref = columns[port]
                    logger.info("%s stored: sha256:%s (%d bytes) in %s", port, ref["sha256"][:12], ref["size"], store.url)
                logger.info("outputs: %s", _short(columns, 200))
                return Outputs(columns, spec["fanout"])
            kind, delay = signal
            if kind == PRUNE:
                logger.info("pruned: the step sent the prune signal; the steps below it do not run")
                _do_not_cache()
                return Outputs(fanout=spec["fanout"], pruned="self")
            if requeues == MAX_REQUEUES:
                break
            logger.info("re-queued (%d of at most %d): running again in %g s", requeues + 1, MAX_REQUEUES, delay)
            _sleep(delay)
        # Not retried: another attempt would only re-queue as many times again.
        raise PermanentError(f"step {spec['step']!r} asked to be re-queued more than {MAX_REQUEUES} times")

    def cache_key(self, context, parameters):
        """Prefect's `cache_key_fn` of a node with `cache`: rtc.runtime.cache's key of the work, or None.

        The key is `step_key`: the image's digest on this worker's engine, the argv, the inputs, the
        environment, the secrets' values (hashed) and the declared outputs, as under `rtc run` and
        Airflow. Prefect keeps the outputs in its result storage under it and, on a hit, returns them
        without calling the task: no container starts. A recorded value is re-checked first (`_recorded_key`).
        """
        spec, _ = self._step()
        try:
            bound = self._bind(spec, context, parameters)
            if bound[0] != "run":
                return None  # below a failed or pruned step, or a stand-in: nothing runs, nothing to record
            digest = docker.from_env().images.get(spec["image"]).id
        except (ContractError, docker.errors.DockerException):
            return None  # the task fails on its inputs, or pulls the image first: no cache this time
        _, inputs, map_index = bound
        key = step_key(
            image_digest=digest, argv=spec["argv"], inputs=inputs, environ=spec["environ"],
            secrets=load_secrets(spec["secrets"]), workdir=spec["workdir"],
            mounts=[(host, v["bind"], v["mode"] == "ro") for host, v in spec["volumes"].items()],
            outputs=spec["outputs"], map_index=map_index, fanout=spec["fanout"],
        )
        return _recorded_key(context, key, spec)


def _failure(future):
    """The first line of why a failed task run failed (its exception's message, else its state's)."""
    value = future.result(raise_on_failure=False)
    text = str(value) if isinstance(value, BaseException) else (future.state.message or future.state.name)
    return text.strip().splitlines()[0] if text.strip() else future.state.name


def finish(futures, announce=None):
    """Wait for every step ({step: its future, a list of futures for a mapped step}) and return their outputs:
    {step: {output: value}} (a list of those for a mapped step, without its pruned elements; None for a
    pruned step). When a step failed, the flow run ends Failed, naming each failed step (and element)
    with the first line of why, without a traceback; steps that did not run because of it are
    UpstreamFailed and not listed.

    `announce`, for a graph other graphs are `on`: {"run": resource or None, "outputs": {step: {output:
    resource}}}. Each output a step recorded is emitted as an event (`announce_outputs`), even when another
    step then failed; a run without a failed step emits its own (EVENT_RUN_SUCCEEDED).
    """
    logger = get_run_logger()
    failed, results = [], {}
    for step_id, future in futures.items():
        group = future if isinstance(future, list) else [future]
        for f in group:
            f.wait()
        bad = [(i, f) for i, f in enumerate(group) if not f.state.is_completed()]
        for i, f in bad:
            if f.state.name != UPSTREAM_FAILED:
                mapped = isinstance(future, list)
                why = _failure(f)
                for prefix in (f"step {step_id!r}" + (f" element {i}" if mapped else "") + " ", "failed: "):
                    why = why[len(prefix):] if why.startswith(prefix) else why  # said once, in the label
                failed.append((f"{step_id}[{i}]" if mapped else step_id, why))
                logger.error("step %s failed: %s", *failed[-1])
        if bad:
            continue
        values = [f.result() for f in group]
        if not isinstance(future, list):
            results[step_id] = None if getattr(values[0], "pruned", None) else dict(values[0])
        elif _status(values) == "pruned":
            results[step_id] = None
        else:
            results[step_id] = [dict(v) for v in values if not getattr(v, "pruned", None)]
    if announce:
        announce_outputs(announce, results, not failed)
    graph_lineage(results, failed)
    if failed:
        if len(failed) == 1:
            return Failed(message=f"step {failed[0][0]} failed: {failed[0][1]}")
        return Failed(message=f"{len(failed)} steps failed: " + "; ".join(f"{step}: {why}" for step, why in failed))
    return results


# ---------------------------------------------------------------- OpenLineage (rtc.runtime.lineage's events)

_LINEAGE = {}  # "sender": this process's Sender, or None when OpenLineage is not configured
_LINEAGE_STARTED = {}  # flow run id -> its pipeline's namespace, once its graph START was sent
_LINEAGE_LOCK = threading.Lock()  # steps start in threads: one graph START each run


def _lineage_sender():
    if "sender" not in _LINEAGE:
        def warn(text):
            get_run_logger().warning("%s", text)

        client = open_client(warn)
        _LINEAGE["sender"] = Sender(client, warn) if client is not None else None
    return _LINEAGE["sender"]


def _lineage_job(namespace):
    """(job namespace, graph, rtc run id) of this flow run: the flow is named `<namespace>.<graph>`."""
    name = flow_run.flow_name or ""
    graph = name[len(namespace) + 1:] if name.startswith(namespace + ".") else name
    return os.environ.get("OPENLINEAGE_NAMESPACE") or namespace, graph, str(flow_run.get_id() or "local")


class StepLineage:
    """A step's OpenLineage events under Prefect: START now (after its graph's, the first time), then `ended`."""

    def __init__(self, spec, inputs, map_index):
        self.sender = _lineage_sender()
        if self.sender is None:
            return
        namespace, graph, run_id = _lineage_job(spec["namespace"])
        step = spec["step"] if map_index is None else f"{spec['step']}#{map_index}"
        outputs = spec["outputs"] if not spec["fanout"] else {k: f"list[{v}]" for k, v in spec["outputs"].items()}
        self.common = dict(namespace=namespace, graph=graph, step=step, run_id=run_id, inputs=inputs,
                           input_types=spec["inputs"], output_types=outputs, integration="PREFECT")
        with _LINEAGE_LOCK:
            first = run_id not in _LINEAGE_STARTED
            _LINEAGE_STARTED.setdefault(run_id, spec["namespace"])
        if first:
            self.sender.send(lineage.graph_event("START", namespace=namespace, graph=graph, run_id=run_id,
                                                 pipeline=spec["namespace"], integration="PREFECT"))
        self.sender.send(lineage.step_event("START", **self.common))

    def ended(self, kind, outputs=None, error=None):
        if self.sender is not None:
            self.sender.send(lineage.step_event(kind, outputs=outputs, error=error, **self.common))


def graph_lineage(results, failed):
    """The graph run's end (COMPLETE, or FAIL naming the failed steps), with the artifacts its steps made; for
    a run whose START was sent (by its first step)."""
    sender = _lineage_sender()
    namespace = _LINEAGE_STARTED.pop(str(flow_run.get_id() or "local"), None)
    if sender is None or namespace is None:
        return
    job, graph, run_id = _lineage_job(namespace)
    made = []
    for value in results.values():
        for row in value if isinstance(value, list) else [value] if value else []:
            made += [d for d in (lineage.artifact_dataset(v) for v in row.values()) if d is not None]
    unique = list({(d["namespace"], d["name"]): d for d in made}.values())
    error = "; ".join(f"step {step} failed: {why}" for step, why in failed) or None
    sender.send(lineage.graph_event("FAIL" if failed else "COMPLETE", namespace=job, graph=graph, run_id=run_id,
                                    pipeline=namespace, outputs=unique, error=error, integration="PREFECT"))


def announce_outputs(announce, results, succeeded):
    """The events of `on` (see `finish`): the triggered deployments' `triggers` match their resource ids."""
    from prefect.events import emit_event

    logger = get_run_logger()
    for step_id, outputs in sorted((announce.get("outputs") or {}).items()):
        recorded = results.get(step_id)
        if recorded is None:
            continue  # it failed, did not run, or was pruned: it recorded nothing
        for output, resource in sorted(outputs.items()):
            value = [r[output] for r in recorded] if isinstance(recorded, list) else recorded[output]
            emit_event(event=EVENT_OUTPUT_RECORDED, resource={"prefect.resource.id": resource}, payload={"value": value})
            logger.info("announced %s.%s (%s): %s", step_id, output, resource, _short(value, 120))
    if succeeded and announce.get("run"):
        emit_event(event=EVENT_RUN_SUCCEEDED, resource={"prefect.resource.id": announce["run"]})
        logger.info("announced the run's success (%s)", announce["run"])


def triggered(value, resource, label):
    """The value of an input bound to another graph's output (`nightly.train.model`): the one the triggering
    event carried (the deployment's trigger passes it as a flow parameter), else, in a run started by hand,
    the latest the server recorded, else an error naming the graph that records it."""
    if value is not None:
        return value
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    query = EventFilter(event=EventNameFilter(name=[EVENT_OUTPUT_RECORDED]), resource=EventResourceFilter(id=[resource]))
    with get_client(sync_client=True) as client:
        page = client.read_events(filter=query, limit=1)
    if not page.events:
        raise PermanentError(f"{label}: no run has recorded it yet (no {EVENT_OUTPUT_RECORDED} event of {resource}); "
                             f"run the graph that records it first")
    get_run_logger().info("%s: the latest recorded value (event of %s)", label, page.events[0].occurred)
    return page.events[0].payload.get("value")


_WORKER_READY_SECONDS = 60.0


def tyger_env_name(name):
    """Tyger's variable stem for a buffer or endpoint: upper case, other than letters and digits as `_`."""
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in name.upper())


def _replica_env(replica):
    return {"RTC_REPLICA_INDEX": str(replica), "REPLICA_INDEX": str(replica)}


def _answers(address, port):
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def start_workers(job):
    """Start the run's workers on a network of their own; return the job's extra environment once they answer.

    As Tyger does: the job finds the workers through `TYGER_WORKER_NODES` and
    `TYGER_<ENDPOINT>_WORKER_ENDPOINT_ADDRESSES` (JSON arrays of host names
    and `host:port`). The caller must call `stop_workers(job, network)` afterwards,
    whatever happened.
    """
    spec = job["worker"]
    logger = get_run_logger()
    client = docker.from_env()
    run_id = str(flow_run.get_id() or "local")
    network = f"rtc-{run_id}"
    labels = {"rtc.run": run_id, "rtc.pipeline": job["namespace"]}
    client.networks.create(network, driver="bridge", labels={**labels, "rtc.step": job["step"] + "/network"})
    try:
        names = [f"rtc-{run_id}-worker-{i}" for i in range(spec["replicas"])]
        containers = []
        for i, name in enumerate(names):
            entrypoint, argv, env = expand_container(
                spec["entrypoint"], spec["argv"], spec["environ"], {"RTC_RUN_ID": run_id, **_replica_env(i)}
            )
            try:
                container = client.containers.run(
                    spec["image"], command=argv or None, entrypoint=entrypoint or None,
                    environment=env, labels={**labels, "rtc.step": f"{job['step']}/worker-{i}"},
                    working_dir=spec["workdir"], nano_cpus=spec["nano_cpus"], mem_limit=spec["mem_limit"],
                    network=network, name=name, hostname=name, detach=True,
                )
            except docker.errors.ImageNotFound:
                raise PermanentError(
                    f"worker image {spec['image']!r} is not on this Docker engine; pull or build it"
                ) from None
            containers.append(container)
        deadline = time.monotonic() + _WORKER_READY_SECONDS
        pending = {(i, port) for i in range(len(containers)) for port in spec["endpoints"].values()}
        while True:
            for i, container in enumerate(containers):
                container.reload()
                if container.status in ("exited", "dead"):
                    code = container.attrs.get("State", {}).get("ExitCode")
                    raise RuntimeError(
                        f"worker {i} of run {job['step']!r} exited with code {code} before the job started"
                    )
            for i, port in sorted(pending):
                address = containers[i].attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
                if address and _answers(address, port):
                    pending.discard((i, port))
            if not pending:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers of run {job['step']!r} did not open their endpoints within "
                                   f"{_WORKER_READY_SECONDS:g} s: {sorted(pending)}")
            time.sleep(_POLL_SECONDS)
    except BaseException:
        stop_workers(job, network)  # nothing of a run that did not start is left
        raise
    logger.info("%d worker(s) ready on network %s", len(names), network)
    env = {"TYGER_WORKER_NODES": json.dumps(names)}
    for endpoint, port in sorted(spec["endpoints"].items()):
        env[f"TYGER_{tyger_env_name(endpoint)}_WORKER_ENDPOINT_ADDRESSES"] = json.dumps([f"{n}:{port}" for n in names])
    return env, network


def stop_workers(job, network):
    """Log the workers' output, then remove them and their network."""
    logger = get_run_logger()
    client = docker.from_env()
    run_id = str(flow_run.get_id() or "local")
    prefix = job["step"] + "/worker-"
    labels = [f"rtc.run={run_id}", f"rtc.pipeline={job['namespace']}"]
    labelled = client.containers.list(all=True, filters={"label": labels})
    workers = [c for c in labelled if c.labels.get("rtc.step", "").startswith(prefix)]
    for container in sorted(workers, key=lambda c: c.labels["rtc.step"]):
        step = container.labels["rtc.step"]
        try:
            for line in container.logs().decode("utf-8", "replace").splitlines():
                logger.info("[%s] %s", step.rsplit("/", 1)[-1], line)
        except docker.errors.APIError:
            pass
        _remove(container)
    for net in client.networks.list(names=[network]):
        try:
            net.remove()
        except docker.errors.APIError as exc:
            logger.warning("could not remove network %s: %s", network, exc)


def run_job(spec, buffers, replica, workers=None):
    """One replica of a Tyger run: buffers as files under /rtc/buffers; an input is text or a stored buffer's
    reference, the outputs are stored and their references returned.

    `workers`: (environment, network) from `start_workers` for a run with a worker section.
    """
    system = {}  # what the runner adds to the codespec's env (as under `rtc exec`)
    if workers is not None:
        system.update(workers[0])
        spec = {**spec, "network": workers[1]}
    store = artifact_store()
    files = {}
    with tempfile.TemporaryDirectory(prefix="rtc-") as local:
        staged = os.path.join(local, "in")
        os.mkdir(staged)
        for name in spec["inputs"]:
            # A stored buffer (a run's output, its reference) is copied in; text travels with the io files.
            value = buffers.get(name, "")
            if isinstance(value, Mapping):
                place_buffer(store, value, os.path.join(staged, os.path.basename(buffer_file(name))))
            else:
                files[buffer_file(name)] = str(value).encode("utf-8")
            system[pipe_variable(name)] = buffer_file(name)
        for name in spec["outputs"]:
            files[buffer_file(name)] = b""
            system[pipe_variable(name)] = buffer_file(name)
        system.update({"RTC_STEP": spec["step"], "RTC_RUN_ID": str(flow_run.get_id() or "local"), **_replica_env(replica)})
        entrypoint, argv, env = expand_container(spec["entrypoint"], spec["argv"], spec["environ"], system)
        out = os.path.join(local, "out")
        os.mkdir(out)
        run_container(
            {**spec, "entrypoint": entrypoint, "argv": argv}, env, files=files, dirs=["/rtc", BUFFERS_DIR], read_back={},
            name_suffix=f"#{replica}" if spec["replicas"] > 1 else "",
            stage_in=(staged, BUFFERS_DIR) if os.listdir(staged) else None,
            fetch={buffer_file(name): (out, f"output buffer {name!r}") for name in spec["outputs"]},
        )
        # Into the artifact store: a run on another worker reads them there.
        return {name: store_buffer(store, os.path.join(out, os.path.basename(buffer_file(name))), name)
                for name in spec["outputs"]}
