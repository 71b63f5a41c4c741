"""Run one graph of the IR here, now, in Docker (`rtc run`).

Order of events: params are resolved, secrets looked up (a missing one fails
before any container exists), images built or found, then steps run in
dependency order, at most `workers` containers at once. A step that is
mapped over a list (`each(...)`) becomes one unit per element; every unit is
one container per attempt (and per re-queue: a step that signals `requeue`
runs again after its delay; one that signals `prune` ends "pruned" and the
steps below it are skipped). The main thread only schedules: it waits on unit
futures (never sleeps) and starts whatever became ready.

Whatever happens - success, failure, timeout, cancel - every container of the
run is removed: each unit removes its own, and the run ends with
`remove_labelled(rtc.run=<id>)` as a safety net. docs/runtime.md is the
contract implemented here (through step_io).
"""

from __future__ import annotations

import os
import re
import secrets as secrets_module
import shutil
import signal
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rtc.runtime import cache as step_cache, contract, step as step_rules
from rtc.runtime.artifacts import ArtifactError
from rtc.runtime.step import ContractError
from rtc.base.diagnostics import RtcError
from rtc.base.home import artifact_store, steps_cache_dir
from rtc.compiler.ir import Graph, Node, Pipeline, Step
from rtc.integrations.engine import containers as engine
from rtc.integrations.images import build as images
from rtc.integrations.local import params as params_module, step_io
from rtc.integrations.local.ahead import CreatedAhead
from rtc.integrations.local.masking import SecretMask
from rtc.integrations.local.progress import Reporter
from rtc.integrations.tyger.abandoned import mark_io_folder

DEFAULT_WORKERS = max(4, 2 * (os.cpu_count() or 1))
TAIL_SHOWN = 15


@dataclass
class UnitResult:
    """One container's worth of work (after its retries)."""

    label: str
    ok: bool
    outputs: object = None
    message: str = ""
    exit_code: int | None = None
    log_tail: list[str] = field(default_factory=list)
    canceled: bool = False
    pruned: bool = False  # ok, but it sent the prune signal: no outputs


@dataclass
class StepResult:
    """How one step (or one element of a mapped step) of a local run ended."""

    step: str
    status: str  # succeeded | pruned | failed | skipped | canceled
    outputs: dict | None = None
    message: str = ""
    exit_code: int | None = None
    log_tail: list[str] = field(default_factory=list)
    label: str = ""


@dataclass
class RunResult:
    """The results of a local run's steps; `status` sums them up."""

    run_id: str
    graph: str
    steps: dict[str, StepResult]

    @property
    def status(self) -> str:
        states = {r.status for r in self.steps.values()}
        if "failed" in states:
            return "failed"
        if "canceled" in states:
            return "canceled"
        return "succeeded"

    def failures(self) -> list[StepResult]:
        return [r for r in self.steps.values() if r.status == "failed"]


def new_run_id(graph: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", graph.lower()).strip("-") or "run"
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets_module.token_hex(3)}"


def missing_secrets(pipeline: Pipeline, graph: Graph, environ) -> dict[str, list[str]]:
    """secret name -> steps that need it, for every secret absent from `environ`."""
    missing: dict[str, list[str]] = {}
    for step in graph.steps:
        for name in pipeline.nodes[step.node].secrets:
            if name not in environ:
                missing.setdefault(name, []).append(step.id)
    return missing


def check_secrets(pipeline: Pipeline, graph: Graph, environ) -> None:
    missing = missing_secrets(pipeline, graph, environ)
    if missing:
        listed = "; ".join(f"{name} (needed by {', '.join(map(repr, steps))})" for name, steps in sorted(missing.items()))
        raise RtcError(
            f"missing secret{'s' if len(missing) > 1 else ''} for graph {graph.name!r}: {listed}; no container was started",
            hint="set them in the environment of `rtc run`, e.g. " + " ".join(f"{n}=..." for n in sorted(missing))
            + " rtc run ..., or as NAME=value lines in a .env file beside the pipeline file",
        )


def run_graph(
    pipeline: Pipeline,
    graph_name: str,
    param_values: dict[str, str] | None = None,
    *,
    client=None,
    workers: int | None = None,
    reporter: Reporter | None = None,
    cancel: threading.Event | None = None,
    run_id: str | None = None,
    environ=None,
    use_cache: bool = True,
    triggered: dict | None = None,
) -> RunResult:
    """Run `graph_name` of `pipeline` to its end; `param_values` are the raw `--param` strings.
    `triggered`: (graph, step, output) -> the value of each input bound to another graph's output
    (`on`; rtc.integrations.local.triggers.trigger_values)."""
    graph = pipeline.graphs[graph_name]
    triggered = triggered or {}
    for step, i in graph.trigger_inputs():
        if (i.binding.graph, i.binding.step, i.binding.output) not in triggered:
            b = i.binding
            raise RtcError(f"input {i.name!r} of step {step.id!r} reads {b.graph}.{b.step}.{b.output}, which this run was not given")
    environ = os.environ if environ is None else environ
    values = params_module.resolve(graph, param_values or {})
    check_secrets(pipeline, graph, environ)
    client = engine.as_engine(client) if client is not None else engine.connect()
    reporter = reporter or Reporter(total=len(graph.steps))
    mask = SecretMask(environ[name] for step in graph.steps for name in pipeline.nodes[step.node].secrets)
    reporter.mask = mask
    run = GraphRun(
        client=client,
        pipeline=pipeline,
        graph=graph,
        params=values,
        run_id=run_id or new_run_id(graph.name),
        workers=workers or graph.workers or DEFAULT_WORKERS,
        reporter=reporter,
        cancel=cancel or threading.Event(),
        environ=environ,
        cache=step_cache.StepCache(steps_cache_dir()) if use_cache else None,
        mask=mask,
        store=artifact_store(environ),
    )
    run.triggered = triggered
    return run.execute()


class GraphRun:
    def __init__(self, *, client, pipeline, graph, params, run_id, workers, reporter, cancel, environ, cache=None, mask=None,
                 store=None):
        self.client = client
        self.pipeline = pipeline
        self.graph = graph
        self.params = params
        self.run_id = run_id
        self.workers = max(1, int(workers))
        self.reporter = reporter
        self.cancel = cancel
        self.environ = environ
        self.mask = mask or SecretMask()
        self.store = store  # the artifact store of `file` / `dir` outputs (rtc.runtime.artifacts)
        self.steps = {s.id: s for s in graph.steps}
        self.base_dir = Path(pipeline.source).resolve().parent
        self.results: dict[str, StepResult] = {}
        self.images: dict[str, str] = {}
        self.work_dir: Path | None = None
        # Steps of nodes with `cache` reuse recorded outputs (rtc.runtime.cache); None: --no-cache.
        self.cache = cache
        self.image_digests: dict[str, str] = {}
        # The containers of a fan-out's next elements, created while the running ones finish (ahead.py).
        self.ahead: CreatedAhead | None = None
        self.triggered: dict = {}  # inputs bound to another graph's output (`on`): see run_graph

    # ---------------------------------------------------------------- the run

    def execute(self) -> RunResult:
        try:
            self.params = self._stored_params()
            self._ensure_images()
            self.work_dir = Path(tempfile.mkdtemp(prefix=f"rtc-{self.run_id}-"))
            mark_io_folder(self.work_dir, self.run_id)  # so that `rtc gc` can prove it is this run's, if it is killed
            self.reporter.status(f"run {self.run_id}: graph {self.graph.name!r}, {_count(len(self.steps), 'step')}, up to {self.workers} at once")
            self.ahead = CreatedAhead(self.client, self.workers, self.cancel)
            self._schedule()
        finally:
            if self.ahead is not None:
                self.ahead.close()  # nothing is created after this: the clean-up below sees every container
            engine.remove_labelled(self.client, **{contract.LABEL_RUN: self.run_id})
            if self.work_dir is not None:
                shutil.rmtree(self.work_dir, ignore_errors=True)
            self.reporter.close()
        for result in self.results.values():  # the failure summary shows these: never a secret value
            result.message = self.mask(result.message)
            result.log_tail = [self.mask(line) for line in result.log_tail]
        return RunResult(self.run_id, self.graph.name, dict(self.results))

    def _stored_params(self) -> dict:
        """The params, each `file`/`dir` one (a host path; relative: to the pipeline file's folder) stored
        and replaced by its reference before any step starts."""
        types = {p.name: p.type for p in self.graph.params}
        if not step_rules.artifact_ports(types):
            return self.params
        try:
            return step_rules.store_host_paths(self.store, self.params, types, base=str(self.base_dir))
        except (ContractError, ArtifactError) as exc:
            raise RtcError(str(exc)) from None

    def _ensure_images(self) -> None:
        for env_name in sorted({self.pipeline.nodes[s.node].env for s in self.graph.steps}):
            env = self.pipeline.environments[env_name]
            self.images[env_name] = images.ensure_image(
                self.client, env, self.base_dir,
                lambda line, e=env_name: self.reporter.status(f"[build {e}] {line}"),
                namespace=self.pipeline.namespace, source=self.pipeline.source,
            )
            if self.cache is not None and any(
                self.pipeline.nodes[s.node].cache is not None and self.pipeline.nodes[s.node].env == env_name for s in self.graph.steps
            ):
                self.image_digests[env_name] = self.client.image_id(self.images[env_name])

    def _schedule(self) -> None:
        pending = list(self.graph.order or [s.id for s in self.graph.steps])
        futures: dict[Future, tuple[str, int | None]] = {}
        mapped: dict[str, list[UnitResult | None]] = {}
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="rtc-step") as pool:
            while pending or futures:
                # Starting a step may finish it at once (skipped, empty fan-out), readying others: repeat.
                ready = self._ready(pending)
                while ready:
                    for step_id in ready:
                        pending.remove(step_id)
                        self._start_step(self.steps[step_id], pool, futures, mapped)
                    ready = self._ready(pending)
                if not futures:
                    if pending:  # cannot happen with a topological order; never spin
                        raise RtcError(f"steps {pending} wait for steps that never run")
                    break
                done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                for future in done:
                    step_id, index = futures.pop(future)
                    unit = future.result()
                    if index is None:
                        self._finish(step_id, [unit], mapped=False)
                    else:
                        mapped[step_id][index] = unit
                        if all(u is not None for u in mapped[step_id]):
                            self._finish(step_id, mapped.pop(step_id), mapped=True)

    def _ready(self, pending: list[str]) -> list[str]:
        return [s for s in pending if all(u in self.results for u in self.steps[s].upstream)]

    # ---------------------------------------------------------------- starting a step

    def _start_step(self, step: Step, pool, futures, mapped) -> None:
        if self.cancel.is_set():
            self.results[step.id] = StepResult(step.id, "canceled", message="the run was canceled")
            return
        failed_upstream = [u for u in step.upstream if self.results[u].status != "succeeded"]
        if step.trigger == "all_success" and failed_upstream:
            u = failed_upstream[0]
            self.results[step.id] = StepResult(step.id, "skipped", message=f"upstream {u!r} {self.results[u].status}")
            self.reporter.status(f"{step.id} skipped (upstream {u!r} {self.results[u].status})")
            self.reporter.step_done()
            return
        try:
            units = self._unit_inputs(step)
            inputs = self._fixed_inputs(step) if units is None else None
        except RtcError as exc:
            self._finish(step.id, [UnitResult(step.id, False, message=str(exc))], mapped=False)
            return
        if units is None:
            futures[pool.submit(self._run_unit, step, inputs, None)] = (step.id, None)
            return
        if not units:
            self._finish(step.id, [], mapped=True)
            return
        mapped[step.id] = [None] * len(units)
        node = self.pipeline.nodes[step.node]
        ahead = self.ahead is not None and (self.cache is None or node.cache is None)  # a cached element may start none
        for index, inputs in enumerate(units):
            if ahead:
                label = f"{step.id}#{index}"
                self.ahead.add(label, lambda step=step, inputs=inputs, index=index, label=label: self._prepare(step, inputs, index, label, 1))
            futures[pool.submit(self._run_unit, step, inputs, index)] = (step.id, index)

    def _value(self, binding):
        if binding.kind == "literal":
            return binding.value
        if binding.kind == "param":
            return self.params.get(binding.param)
        if binding.kind == "trigger":
            return self.triggered[(binding.graph, binding.step, binding.output)]
        upstream = self.results.get(binding.step)
        if upstream is None or upstream.status != "succeeded" or upstream.outputs is None:
            return None  # all_done join after a failed/skipped upstream: the input is null
        return upstream.outputs.get(binding.output)

    def _input(self, step: Step, given) -> object:
        """The value of one input that is not fanned out (`last(...)`: the last element of its list)."""
        value = self._value(given.binding)
        if not given.last:
            return value
        try:
            return step_rules.last_element(value, f"input {given.name!r} of step {step.id!r}")
        except ContractError as exc:
            raise RtcError(str(exc)) from None

    def _fixed_inputs(self, step: Step) -> dict:
        return {i.name: self._input(step, i) for i in step.inputs}

    def _unit_inputs(self, step: Step) -> list[dict] | None:
        """None for a plain step; the inputs of each element for a mapped one (each() lists zipped)."""
        each = [i for i in step.inputs if i.each]
        if not each:
            return None
        lists = {}
        for i in each:
            value = self._value(i.binding)
            if not isinstance(value, list):
                raise RtcError(f"step {step.id!r}: each({_describe(i.binding)}) needs a list, got {type(value).__name__}")
            lists[i.name] = value
        problem = step_rules.unpaired({name: len(value) for name, value in lists.items()})
        if problem:
            raise RtcError(f"step {step.id!r}: {problem}")
        fixed = {i.name: self._input(step, i) for i in step.inputs if not i.each}
        # Inputs keep the step's declared order, element values in place of the lists.
        return [
            {i.name: lists[i.name][n] if i.each else fixed[i.name] for i in step.inputs}
            for n in range(len(next(iter(lists.values()))))
        ]

    # ---------------------------------------------------------------- one container (with retries)

    def _run_unit(self, step: Step, inputs: dict, index: int | None) -> UnitResult:
        node = self.pipeline.nodes[step.node]
        env = self.pipeline.environments[node.env]
        label = step.id if index is None else f"{step.id}#{index}"
        secrets = {name: self.environ[name] for name in node.secrets}
        retry = step.retry_policy(node)
        attempts = retry.max_retries + 1
        cache_key = self._cache_key(node, env, inputs, secrets, index)
        if cache_key is not None:
            cached = self._cached(cache_key, node, label)
            if cached is not None:
                return cached
        self.reporter.started(label)
        result = UnitResult(label, False)
        attempt, requeues, runs = 1, 0, 0
        while attempt <= attempts:
            if self.cancel.is_set():
                return UnitResult(label, False, message="canceled", canceled=True)
            runs += 1  # every run (attempt or re-queue) gets a fresh /rtc/io
            try:
                ready = self.ahead.take(label) if runs == 1 and index is not None and self.ahead is not None else None
                if ready is not None:
                    io_dir, spec, created = ready
                else:
                    (io_dir, spec), created = self._prepare(step, inputs, index, label, runs), None
                ran = engine.run_container(
                    self.client, spec,
                    on_line=lambda line: self.reporter.line(label, line),
                    timeout=node.timeout_seconds, cancel=self.cancel, created=created,
                )
            except RtcError as exc:
                result = UnitResult(label, False, message=str(exc))
                break
            if ran.canceled:
                self.reporter.finished(label, "canceled")
                return UnitResult(label, False, message="canceled", canceled=True, log_tail=ran.log_tail)
            if ran.ok:
                try:
                    # The signal wins over outputs (docs/runtime.md, Signals).
                    sent = step_io.read_signal(io_dir, f"step {label!r}")
                    outputs = None if sent else self._outputs(io_dir, node, label)
                except (ContractError, ArtifactError) as exc:
                    result = UnitResult(label, False, message=str(exc), exit_code=0, log_tail=ran.log_tail)
                    break  # a contract violation is a bug in the step, not a transient failure
                if sent and sent[0] == "prune":
                    self.reporter.finished(label, "pruned")
                    return UnitResult(label, True, exit_code=0, log_tail=ran.log_tail, pruned=True)
                if sent:  # requeue: the same attempt again, later; not a retry
                    if requeues >= contract.MAX_REQUEUES:
                        message = f"asked to be re-queued again after {contract.MAX_REQUEUES} re-queues (the limit)"
                        result = UnitResult(label, False, message=message, exit_code=0, log_tail=ran.log_tail)
                        break
                    delay = sent[1]  # bounded by rtc.runtime.step.decode_signal
                    requeues += 1
                    self.reporter.status(f"{label} re-queued, runs again in {delay:g}s ({requeues}/{contract.MAX_REQUEUES})")
                    if self.cancel.wait(delay):
                        self.reporter.finished(label, "canceled")
                        return UnitResult(label, False, message="canceled", canceled=True, log_tail=ran.log_tail)
                    continue
                self.reporter.finished(label, "succeeded", "" if attempt == 1 else f"attempt {attempt}")
                if cache_key is not None:
                    self._remember(cache_key, node, step, label, outputs)
                return UnitResult(label, True, outputs=outputs, exit_code=0, log_tail=ran.log_tail)
            if ran.timed_out:
                message = f"timed out after {node.timeout_seconds:g}s (container killed)"
            else:
                message = f"exited with code {ran.exit_code}"
            result = UnitResult(label, False, message=message, exit_code=ran.exit_code, log_tail=ran.log_tail)
            if attempt < attempts:
                delay = retry.delay_for(attempt)  # rtc.runtime.contract.retry_delay, jitter drawn
                self.reporter.retrying(label, attempt, f"{label} {message}; retry {attempt}/{retry.max_retries} in {delay:.1f}s")
                if self.cancel.wait(delay):
                    return UnitResult(label, False, message="canceled", canceled=True, log_tail=ran.log_tail)
            attempt += 1
        self.reporter.finished(label, "failed", result.message)
        return result

    def _prepare(self, step: Step, inputs: dict, index: int | None, label: str, runs: int):
        """The io folder and container of one run of a unit (the `runs`-th: each gets a fresh /rtc/io)."""
        node = self.pipeline.nodes[step.node]
        env = self.pipeline.environments[node.env]
        io_dir = step_io.make_io_dir(self.work_dir / f"{label}.{runs}")
        in_dir = self._place_artifacts(inputs, node, self.work_dir / f"{label}.{runs}.in")
        spec = step_io.container_spec(
            image=self.images[node.env], node=node, env=env, base_dir=self.base_dir, io_dir=io_dir,
            inputs=inputs, step_label=label, step_id=step.id, run_id=self.run_id,
            namespace=self.pipeline.namespace, secrets={name: self.environ[name] for name in node.secrets},
            map_index=index, in_dir=in_dir,
        )
        return io_dir, spec

    def _place_artifacts(self, inputs: dict, node: Node, folder: Path) -> Path | None:
        """The bytes of the unit's artifact inputs, in a folder mounted read-only at /rtc/in; None without any."""
        try:
            placed = step_rules.stage_artifact_inputs(self.store, inputs, {p.name: p.type for p in node.inputs}, folder)
        except ArtifactError as exc:  # a damaged or unreachable store fails this unit, with why
            raise RtcError(str(exc)) from None
        return folder if placed else None

    def _outputs(self, io_dir: Path, node: Node, label: str) -> dict:
        """The unit's checked result: its outputs file's JSON outputs, and its artifact outputs stored."""
        where = f"step {label!r}"
        types = step_io.declared_outputs(node)
        outputs = step_rules.step_outputs(step_io.read_outputs_text(io_dir, where), types, node.fanout, where,
                                          self.store, io_dir / "out")
        for port in step_rules.artifact_ports(types):
            ref = outputs[port]
            self.reporter.status(f"{label}: {port} stored, sha256:{ref['sha256'][:12]} ({ref['size']} bytes) in {self.store.url}")
        return outputs

    # ---------------------------------------------------------------- the step cache

    def _cache_key(self, node: Node, env, inputs: dict, secrets: dict, index: int | None) -> str | None:
        """The key of this unit's work when its node caches (and --no-cache is off), else None."""
        if self.cache is None or node.cache is None:
            return None
        mounts = [(str(step_io.host_path(m.host_path, self.base_dir)), m.container_path, m.read_only) for m in env.mounts]
        return step_cache.step_key(
            image_digest=self.image_digests[node.env],
            argv=contract.step_argv(node.argv(), env.init, env.daemons),
            inputs=inputs,
            environ=env.environ,
            secrets=secrets,
            workdir=env.workdir,
            mounts=mounts,
            outputs={p.name: p.type for p in node.outputs},
            map_index=index,
            fanout=node.fanout,
        )

    def _cached(self, key: str, node: Node, label: str) -> UnitResult | None:
        """The recorded outputs of this work, re-checked against the declared types; None: run it."""
        entry = self.cache.get(key, max_age=node.cache.max_age_seconds)
        if entry is None:
            return None
        try:
            outputs = step_rules.check_result(entry.outputs, step_io.declared_outputs(node), node.fanout, f"cached step {label!r}")
        except ContractError as exc:
            self.reporter.status(f"{label}: ignoring its cached outputs ({exc})")
            self.cache.discard(key)
            return None
        self.reporter.status(f"{label} cached (outputs recorded {_age(entry.created_at)} ago)")
        return UnitResult(label, True, outputs=outputs, exit_code=0)

    def _remember(self, key: str, node: Node, step: Step, label: str, outputs) -> None:
        try:
            self.cache.put(
                key, outputs, max_age=node.cache.max_age_seconds,
                pipeline=self.pipeline.namespace, graph=self.graph.name, step=label, node=node.name,
            )
        except (OSError, ValueError) as exc:  # a full or read-only $RTC_HOME costs the reuse, not the run
            self.reporter.status(f"{label}: could not record its outputs in the cache: {exc}")

    # ---------------------------------------------------------------- finishing a step

    def _finish(self, step_id: str, units: list[UnitResult], *, mapped: bool) -> None:
        node = self.pipeline.nodes[self.steps[step_id].node]
        failed = [u for u in units if not u.ok and not u.canceled]
        canceled = [u for u in units if u.canceled]
        if failed:
            first = failed[0]
            message = first.message if len(failed) == 1 else f"{first.message} (and {len(failed) - 1} more element(s) failed)"
            result = StepResult(step_id, "failed", message=message, exit_code=first.exit_code, log_tail=first.log_tail, label=first.label)
        elif canceled:
            result = StepResult(step_id, "canceled", message="the run was canceled")
        elif not mapped and units[0].pruned:
            result = StepResult(step_id, "pruned", message="it sent the prune signal")
        elif mapped:  # pruned elements drop out; all pruned: empty lists, as after a fan-out over nothing
            merged = step_rules.merge_elements([None if u.pruned else u.outputs for u in units], step_io.declared_outputs(node), node.fanout)
            result = StepResult(step_id, "succeeded", outputs=merged)
        else:
            result = StepResult(step_id, "succeeded", outputs=units[0].outputs)
        self.results[step_id] = result
        if mapped and result.status in ("succeeded", "pruned"):
            pruned = sum(u.pruned for u in units)
            self.reporter.status(
                f"{step_id} {result.status} ({_count(len(units), 'element')}" + (f", {pruned} pruned)" if 0 < pruned < len(units) else ")")
            )
        self.reporter.step_done()


def _describe(binding) -> str:
    if binding.kind == "param":
        return f"params.{binding.param}"
    if binding.kind == "output":
        return f"{binding.step}.{binding.output}"
    if binding.kind == "trigger":
        return f"{binding.graph}.{binding.step}.{binding.output}"
    return repr(binding.value)


def format_failures(result: RunResult) -> str:
    """`step 'x' failed: exited with code 3` and the tail of its log, for every failed step."""
    chunks = []
    for failure in result.failures():
        where = failure.label or failure.step
        text = f"step {where!r} failed: {failure.message}"
        tail = failure.log_tail[-TAIL_SHOWN:]
        if tail:
            text += "\n  last lines of its log:\n" + "\n".join(f"  | {line}" for line in tail)
        chunks.append(text)
    return "\n".join(chunks)


@contextmanager
def interrupts_cancel(cancel: threading.Event, reporter: Reporter | None = None):
    """While active, Ctrl-C, SIGTERM and SIGHUP (the terminal closed) set `cancel` instead of raising; a run then stops cleanly."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if not cancel.is_set() and reporter is not None:
            reporter.status("interrupted: stopping containers ...")
        cancel.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _age(created_at: float) -> str:
    seconds = max(0.0, time.time() - created_at)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
