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
import queue
import socket
import tarfile
import threading
import time
from datetime import timedelta

import docker
import docker.errors
from prefect import allow_failure, get_run_logger, task, unmapped
from prefect.blocks.system import Secret
from prefect.runtime import flow_run, task_run
from prefect.transactions import get_transaction

from .cache import step_key
from .contract import (
    BUFFERS_DIR, INPUTS_FILE, IO_DIR, MAX_OUTPUTS_BYTES, MAX_REQUEUES, MAX_SIGNAL_BYTES, OUTPUTS_FILE, SIGNAL_FILE,
    IoFileError, buffer_file, expand_container, pipe_variable, read_io_archive, retry_delay,
)
from .step import (
    PRUNE, ContractError, PermanentError, bind_inputs as bind_step_inputs, check_result, container_environment,
    decode_outputs, decode_signal, merge_elements,
)

_POLL_SECONDS = 0.2
_IO_GROUP = 4242  # the group that owns /rtc/io inside the container, given to the step's process
_LOG_TAIL = 20


def retry_unless_permanent(task, task_run, state):
    """Prefect's `retry_condition_fn`: retry failed exits and timeouts, never a PermanentError.

    Prefect hands the exception the task raised as `state.data`.
    """
    return not isinstance(state.data, (PermanentError, ContractError))


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


def run_container(spec, env, files, dirs, read_back, name_suffix=""):
    """Run `spec` (image, argv, ...) to completion; return {path: text or None} for `read_back` ({path: limit}).

    Log lines go to the Prefect run logger as they arrive. A non-zero exit
    raises with the last lines of output; the container is always removed.
    """
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
    deadline = time.monotonic() + spec["timeout"] if spec.get("timeout") else None
    tail = []
    try:
        container.put_archive("/", _tar(files, dirs, _IO_GROUP))
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
                raise TimeoutError(f"step {spec['step']!r} timed out after {spec['timeout']} s; container removed")
            if finished:
                container.reload()
                if container.status in ("exited", "dead"):
                    break
        code = container.wait().get("StatusCode", -1)
        if code != 0:
            raise RuntimeError(
                f"step {spec['step']!r} failed: container exited with code {code}"
                + ("; last output:\n" + "\n".join(tail) if tail else "")
            )
        return {path: _read_file(container, path, limit) for path, limit in read_back.items()}
    finally:
        _remove(container)


# What a pruned step's task returns instead of outputs: {_PRUNED: "self"} when the step sent
# the prune signal, "upstream" when a step above it was pruned ("no element": the stand-in
# task of an empty map, which like a pruned element adds nothing). Its key is a tuple, which
# no outputs object can hold (JSON keys are strings), so no output name can pass for it.
_PRUNED = ("rtc", "pruned")


def _is_pruned(result):
    """True for the marker a pruned step (or element of a mapped step) returns."""
    return isinstance(result, dict) and set(result) == {_PRUNED}


def _step_pruned(result):
    """True when a finished step counts as pruned for the steps below it.

    A mapped step whose elements pruned themselves is not: those elements only
    drop out of its output lists. It is when its elements were pruned because
    a step above them was.
    """
    if isinstance(result, list):
        return any(_is_pruned(r) and r[_PRUNED] == "upstream" for r in result)
    return _is_pruned(result)


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


MAX_PREFECT_DELAYS = 50  # Prefect refuses more retry delays per task


def prefect_delays(retry):
    """The smallest delay of each retry (Prefect's `retry_delay_seconds`), without the repeats at the end
    (Prefect reuses the last one for later retries), at most MAX_PREFECT_DELAYS; run_step waits the rest."""
    delays = [retry_delay(retry["policy"], n, lambda a, b: a) for n in range(1, retry["retries"] + 1)]
    while len(delays) > 1 and delays[-1] == delays[-2]:
        delays.pop()
    return delays[:MAX_PREFECT_DELAYS]


def _outputs_of(spec, step, result):
    """What a finished upstream step hands on: {output: value}; None when it failed or was pruned (all_done joins).

    Elements of a mapped step that pruned themselves contribute nothing.
    """
    if isinstance(result, list):
        if any(isinstance(r, BaseException) for r in result) or _step_pruned(result):
            return None
        fanout_of = spec["upstream_fanout"].get(step, {})  # output -> whether the upstream node fans out
        kept = [None if _is_pruned(r) else r for r in result]
        return {name: merge_elements(kept, [name], fanout)[name] for name, fanout in fanout_of.items()}
    if isinstance(result, BaseException) or result is None or _is_pruned(result):
        return None
    return result


def upstream_of(spec, futures):
    """Every upstream step's futures, `after` edges too (a task must see which were pruned).

    all_done joins tolerate failed ones.
    """
    out = {}
    for step in spec["upstream"]:
        future = futures[step]
        if spec["all_done"]:
            future = [allow_failure(f) for f in future] if isinstance(future, list) else allow_failure(future)
        out[step] = future
    return out


def wait_list(spec, futures):
    """Every upstream future (data edges and `after`), one per element of mapped steps."""
    flat = []
    for step in spec["upstream"]:
        future = futures[step]
        flat.extend(future if isinstance(future, list) else [future])
    return [allow_failure(f) for f in flat] if spec["all_done"] else flat


def _source_value(spec, source, params, resolve):
    kind = source[0]
    if kind == "literal":
        return source[1]
    if kind == "param":
        return params[source[1]]
    outputs = _outputs_of(spec, source[1], resolve(source[1]))
    return None if outputs is None else outputs.get(source[2])


def each_items(spec, params, futures):
    """Elements of a mapped step, one {input: element} per index; waits for the lists it maps over."""

    def resolve(step):
        future = futures[step]
        if isinstance(future, list):
            return [f.result(raise_on_failure=False) for f in future]
        return future.result(raise_on_failure=False)

    lists = {}
    for name, binding in spec["bindings"].items():
        pruned_source = binding[0] == "each" and binding[1] == "output" and _step_pruned(resolve(binding[2]))
        if pruned_source and not spec["all_done"]:
            return [None]  # one element, which sees the pruned step above it and is pruned without a container
        if binding[0] == "each":
            value = _source_value(spec, binding[1:], params, resolve)
            lists[name] = value if isinstance(value, list) else []  # a failed source maps over nothing
    lengths = {name: len(values) for name, values in lists.items()}
    if len(set(lengths.values())) > 1:
        raise RuntimeError(f"step {spec['step']!r}: each() lists differ in length: {lengths}")
    n = next(iter(lengths.values()), 0)
    if n == 0 and spec["upstream"] and not spec["all_done"]:
        # One stand-in element: pruned when a step above was pruned (which the flow does not
        # wait for here), else it contributes nothing and the outputs are empty lists.
        return [None]
    return [{name: values[i] for name, values in lists.items()} for i in range(n)]


def bind_inputs(spec, params, upstream, item):
    """The step's inputs (rtc.runtime.step.bind_inputs) from its futures' results and the mapped element."""
    bindings = {name: ("each", tuple(b[1:])) if b[0] == "each" else tuple(b) for name, b in spec["bindings"].items()}
    results = {step: _outputs_of(spec, step, result) for step, result in upstream.items()}
    return bind_step_inputs(bindings, spec["inputs"], params, results, item, where=f"step {spec['step']!r}",
                            all_done=spec["all_done"])


def run_step(spec, params, upstream, item=None, map_index=None):
    """Run one step (or one element of a mapped step) and return its checked outputs, or the pruned marker.

    Below a pruned step (data or `after` edge) no container starts, except for
    all_done joins. A step that asks to be re-queued runs again with the same
    inputs after its delay, at most MAX_REQUEUES times; its timeout applies to
    each container.
    """
    logger = get_run_logger()
    if not spec["all_done"]:
        pruned = sorted(step for step, result in upstream.items() if _step_pruned(result))
        if pruned:
            logger.info("pruned: step(s) above were pruned: %s", ", ".join(pruned))
            return {_PRUNED: "upstream"}
    if item is None and map_index is not None:
        return {_PRUNED: "no element"}  # the stand-in of an empty map: nothing to run
    rest = retry_rest(spec, task_run.run_count)
    if rest > 0:
        logger.info("retry back-off: waiting %.3g s more (jitter)", rest)
        _sleep(rest)
    inputs = bind_inputs(spec, params, upstream, item)
    env, encoded = container_environment(
        spec["environ"], inputs, step=spec["step"], run_id=str(flow_run.get_id() or "local"),
        map_index=map_index, secrets=load_secrets(spec["secrets"]),
    )
    where = f"step {spec['step']!r}" + ("" if map_index is None else f" element {map_index}")
    for requeues in range(MAX_REQUEUES + 1):
        got = run_container(
            spec, env,
            files={INPUTS_FILE: encoded.encode("utf-8")},
            dirs=["/rtc", IO_DIR],
            read_back={OUTPUTS_FILE: MAX_OUTPUTS_BYTES, SIGNAL_FILE: MAX_SIGNAL_BYTES},
            name_suffix="" if map_index is None else f"#{map_index}",
        )
        signal = decode_signal(got[SIGNAL_FILE], where)  # a signal wins over outputs
        if signal is None:
            return decode_outputs(got[OUTPUTS_FILE], spec["outputs"], spec["fanout"], where)
        kind, delay = signal
        if kind == PRUNE:
            logger.info("pruned: the step sent the prune signal; the steps below it do not run")
            _do_not_cache()
            return {_PRUNED: "self"}
        if requeues == MAX_REQUEUES:
            break
        logger.info("re-queued (%d of at most %d): running again in %g s", requeues + 1, MAX_REQUEUES, delay)
        _sleep(delay)
    # Not retried: another attempt would only re-queue as many times again.
    raise PermanentError(f"step {spec['step']!r} asked to be re-queued more than {MAX_REQUEUES} times")


# ---------------------------------------------------------------- the step cache (`cache = true`, `cache = 1d`)


def step_cache_key(context, parameters):
    """Prefect's `cache_key_fn` of a step with `cache`: rtc.runtime.cache's key of the work, or None (not cached).

    The key is `step_key` (rtc.runtime.cache, printed above): the image's digest on this worker's engine,
    the argv, the inputs, the environment, the secrets' values (hashed) and the declared outputs, as under
    `rtc run` and Airflow. Prefect keeps the outputs in its result storage under that key and, on a hit,
    returns them without calling the task: no container starts. Before the key is handed over, a
    recorded value is re-checked against the declared types (`_recorded_key`).
    """
    spec, params, upstream = parameters["spec"], parameters["params"], parameters["upstream"]
    item, map_index = parameters.get("item"), parameters.get("map_index")
    if not spec["all_done"] and any(_step_pruned(r) for r in upstream.values()):
        return None  # below a pruned step: nothing runs, nothing to record
    if item is None and map_index is not None:
        return None  # the stand-in of an empty map
    try:
        inputs = bind_inputs(spec, params, upstream, item)
        digest = docker.from_env().images.get(spec["image"]).id
    except (ContractError, docker.errors.DockerException):
        return None  # the task fails on its inputs, or pulls the image first: no cache this time
    key = step_key(
        image_digest=digest, argv=spec["argv"], inputs=inputs, environ=spec["environ"],
        secrets=load_secrets(spec["secrets"]), workdir=spec["workdir"],
        mounts=[(host, v["bind"], v["mode"] == "ro") for host, v in spec["volumes"].items()],
        outputs=spec["outputs"], map_index=map_index, fanout=spec["fanout"],
    )
    return _recorded_key(context, key, spec)


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


def finish(futures):
    """Wait for every step; the flow fails naming each failed step, else returns every step's outputs.

    A pruned step has completed (None in the result); pruned elements of a mapped step are left out of its list.
    """
    failed, results = [], {}
    for step, future in futures.items():
        group = future if isinstance(future, list) else [future]
        for f in group:
            f.wait()
        bad = [f.state for f in group if not f.state.is_completed()]
        if bad:
            failed.append(f"{step}: {bad[0].name}: {bad[0].message or ''}".rstrip(": "))
        elif isinstance(future, list):
            values = [f.result() for f in group]
            results[step] = None if _step_pruned(values) else [v for v in values if not _is_pruned(v)]
        else:
            value = future.result()
            results[step] = None if _is_pruned(value) else value
    if failed:
        raise RuntimeError("step(s) failed:\n  " + "\n  ".join(failed))
    return results


# What a flow module's STEPS leave out: the defaults of a step's spec.
_SPEC_DEFAULTS = {
    "environ": {}, "volumes": {}, "ports": {}, "workdir": None, "timeout": None, "secrets": [], "inputs": {},
    "outputs": {}, "fanout": False, "bindings": {}, "upstream": [], "upstream_fanout": {}, "all_done": False,
    "mapped": False, "retry": None, "cache": None,
}


@task(persist_result=False)
def _step_task(spec, params, upstream, item=None, map_index=None):
    return run_step(spec, params, upstream, item, map_index)


def _task_of(spec):
    """The step's task: named like the step, with its retry policy (no tags: Prefect reads task tags as
    concurrency-limit keys; rtc's tags are on the deployment)."""
    options = {"name": spec["step"]}
    retry = spec["retry"]
    if retry:
        # Prefect waits the smallest delay of each retry (reusing the last one); `run_step` waits the rest.
        delays = prefect_delays(retry)
        # A broken contract (bad outputs file, wrong type) is a bug: it fails at once (rtc's docs/runtime.md).
        options.update(retries=retry["retries"], retry_delay_seconds=delays[0] if len(delays) == 1 else delays,
                       retry_condition_fn=retry_unless_permanent)
    if spec["cache"] is not None:
        # Prefect's own cache: the outputs live in its result storage under rtc's key (step_cache_key).
        # No refresh_cache here: PREFECT_TASKS_REFRESH_CACHE=true then runs every step and records afresh.
        max_age = spec["cache"]["max_age"]
        options.update(cache_key_fn=step_cache_key, persist_result=True,
                       cache_expiration=None if max_age is None else timedelta(seconds=max_age))
    return _step_task.with_options(**options)


def run_graph(namespace, steps, secrets, params):
    """Run a graph: every step of `steps` (step id -> spec, in topological order) submitted as a task.

    Data and ordering travel as Prefect futures. A missing secret fails the flow before any
    container starts. Returns every step's outputs (see `finish`).
    """
    load_secrets(secrets)
    futures = {}
    for step_id, spec in steps.items():
        spec = {**_SPEC_DEFAULTS, **spec, "step": step_id, "namespace": namespace}
        step_task = _task_of(spec)
        upstream, wait_for = upstream_of(spec, futures), wait_list(spec, futures)
        if spec["mapped"]:
            items = each_items(spec, params, futures)
            futures[step_id] = step_task.map(
                unmapped(spec), unmapped(params), unmapped(upstream), item=items,
                map_index=list(range(len(items))), wait_for=wait_for,
            )
        else:
            futures[step_id] = step_task.submit(spec, params, upstream, wait_for=wait_for)
    return finish(futures)


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
    """One replica of a Tyger run: buffers as files under /rtc/buffers, outputs read back as text.

    `workers`: (environment, network) from `start_workers` for a run with a worker section.
    """
    system = {}  # what the runner adds to the codespec's env (as under `rtc exec`)
    if workers is not None:
        system.update(workers[0])
        spec = {**spec, "network": workers[1]}
    files = {}
    for name in spec["inputs"]:
        files[buffer_file(name)] = buffers.get(name, "").encode("utf-8")
        system[pipe_variable(name)] = buffer_file(name)
    for name in spec["outputs"]:
        files[buffer_file(name)] = b""
        system[pipe_variable(name)] = buffer_file(name)
    system.update({"RTC_STEP": spec["step"], "RTC_RUN_ID": str(flow_run.get_id() or "local"), **_replica_env(replica)})
    entrypoint, argv, env = expand_container(spec["entrypoint"], spec["argv"], spec["environ"], system)
    got = run_container(
        {**spec, "entrypoint": entrypoint, "argv": argv}, env, files=files, dirs=["/rtc", BUFFERS_DIR],
        read_back={buffer_file(name): MAX_OUTPUTS_BYTES for name in spec["outputs"]},
        name_suffix=f"#{replica}" if spec["replicas"] > 1 else "",
    )
    return {name: got[buffer_file(name)] or "" for name in spec["outputs"]}
