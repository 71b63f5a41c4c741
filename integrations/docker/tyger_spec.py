"""What a Tyger run is, before it runs: choosing it, checking Tyger's rules, and its JSON.

A stored run carries a self-contained spec (the codespecs inlined), so a
detached process can execute it without the source file, and `rtc run show`
prints it in Tyger's shape (`job: {codespec, buffers, tags, nodePool,
replicas}`, `cluster`, `timeoutSeconds`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rtc.compiler.diagnostics import RtcError
from rtc.compiler import quantities
from rtc.compiler.bounds import count_problem, duration_problem
from rtc.compiler.ir import Codespec, Pipeline, Run, WorkerSpec



def parse_duration(text: str) -> float:
    """`300s`, `1.5h`, `2h45m` (Go's forms, as Tyger's --timeout) or plain seconds -> seconds."""
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    seconds = quantities.parse_duration(value)
    if seconds is None:
        raise RtcError(f"bad duration {text!r}", hint='use forms like "300s", "1.5h" or "2h45m"')
    return seconds


def parse_ttl(text: str) -> float:
    """A buffer lifetime: Tyger's `D.HH:MM[:SS]` (`0.01:30` = 90 minutes) or a duration (`1h`, `30m`) -> seconds."""
    import re

    match = re.fullmatch(r"(\d+)\.(\d\d):(\d\d)(?::(\d\d))?", text.strip())
    if match:
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        if hours > 23 or minutes > 59 or seconds > 59:
            raise RtcError(f"bad buffer TTL {text!r}: hours go to 23, minutes and seconds to 59")
        return days * 86400 + hours * 3600 + minutes * 60 + seconds
    try:
        seconds = parse_duration(text)
    except RtcError:
        raise RtcError(f"bad buffer TTL {text!r}", hint='use Tyger\'s "D.HH:MM" (e.g. "1.00:00" for a day) or "1h", "30m"') from None
    if seconds < 0:
        raise RtcError(f"bad buffer TTL {text!r}: it cannot be negative")
    return seconds


def format_ttl(seconds: float) -> str:
    """Seconds as Tyger writes a bufferTtl: `D.HH:MM:SS`."""
    total = int(round(seconds))
    days, rest = divmod(total, 86400)
    return f"{days}.{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"


def parse_since(text: str) -> float:
    """`--since`: a date/time (ISO 8601) or a time ago (`1h`, `30m`, `2h45m`) -> epoch seconds."""
    import time

    from rtc.integrations.docker.store import parse_time

    value = text.strip()
    if value and value[-1] in "smh" and value[0].isdigit():
        try:
            return time.time() - parse_duration(value)
        except RtcError:
            pass
    try:
        return parse_time(value)
    except RtcError:
        raise RtcError(f"bad --since {text!r}", hint="a date/time such as 2024-05-01T12:00:00Z, or a time ago such as 1h or 30m") from None


@dataclass
class Overrides:
    """Command-line values that win over the file's (Tyger: "other flags override file values")."""

    codespec: str | None = None
    codespec_version: int | None = None
    buffers: dict[str, str] = field(default_factory=dict)
    replicas: int | None = None
    timeout_seconds: float | None = None
    tags: dict[str, str] = field(default_factory=dict)
    buffer_ttl_seconds: float | None = None
    cluster: str | None = None
    node_pool: str | None = None
    worker_codespec: str | None = None
    worker_codespec_version: int | None = None
    worker_replicas: int | None = None
    worker_node_pool: str | None = None

    def names_worker(self) -> bool:
        """Any `--worker-*` flag: the run gets a worker section (Tyger adds one when the file has none)."""
        return any(v is not None for v in (self.worker_codespec, self.worker_codespec_version,
                                           self.worker_replicas, self.worker_node_pool))


def choose_run(pipeline: Pipeline, run_name: str | None, overrides: Overrides | None = None) -> Run:
    """The run to execute: a named run, a run around `-c CODESPEC`, or the file's only run/codespec."""
    o = overrides or Overrides()
    if run_name is not None:
        if run_name in pipeline.runs:
            run = pipeline.runs[run_name]
        elif run_name in pipeline.codespecs:
            run = Run(name=run_name, codespec=run_name)
        else:
            raise RtcError(
                f"no run or codespec named {run_name!r} in {pipeline.source}",
                hint=_known(pipeline),
            )
    elif o.codespec is not None:
        run = Run(name=o.codespec, codespec=o.codespec)
    elif len(pipeline.runs) == 1:
        run = next(iter(pipeline.runs.values()))
    elif not pipeline.runs and len(_jobs(pipeline)) == 1:
        name = _jobs(pipeline)[0]
        run = Run(name=name, codespec=name)
    else:
        raise RtcError(f"{pipeline.source} holds several runs or codespecs; say which one", hint=_known(pipeline))
    update: dict = {}
    if o.codespec is not None:
        update["codespec"] = o.codespec
        update["codespec_version"] = o.codespec_version
    elif o.codespec_version is not None:
        update["codespec_version"] = o.codespec_version
    if o.buffers:
        update["buffers"] = {**run.buffers, **o.buffers}
    if o.tags:
        update["tags"] = {**run.tags, **o.tags}
    for name in ("replicas", "timeout_seconds", "cluster", "node_pool", "buffer_ttl_seconds"):
        if getattr(o, name) is not None:
            update[name] = getattr(o, name)
    if o.names_worker():
        update["worker"] = _worker_override(run, o)
    return run.model_copy(update=update) if update else run


def _worker_override(run: Run, o: Overrides) -> WorkerSpec:
    worker = run.worker
    if worker is None:
        if o.worker_codespec is None:
            raise RtcError(f"run {run.name!r} has no worker section; --worker-codespec names the workers' codespec")
        worker = WorkerSpec(codespec=o.worker_codespec)
    update: dict = {}
    if o.worker_codespec is not None:
        update["codespec"], update["codespec_version"] = o.worker_codespec, o.worker_codespec_version
    elif o.worker_codespec_version is not None:
        update["codespec_version"] = o.worker_codespec_version
    if o.worker_replicas is not None:
        update["replicas"] = o.worker_replicas
    if o.worker_node_pool is not None:
        update["node_pool"] = o.worker_node_pool
    return worker.model_copy(update=update)


def build_spec(pipeline: Pipeline, run: Run) -> dict:
    """The stored spec of `run`: Tyger's run shape with the codespecs inlined, checked against Tyger's rules."""
    job = _codespec(pipeline, run.codespec, run.codespec_version, "job")
    _check_job(job, run)
    spec = {
        "name": run.name,
        "namespace": pipeline.namespace,
        "source": pipeline.source,
        "job": {
            "codespec": _dump(job),
            "buffers": dict(run.buffers),
            "tags": dict(run.tags),
            "bufferTtl": None if run.buffer_ttl_seconds is None else format_ttl(run.buffer_ttl_seconds),
            "nodePool": run.node_pool,
            "replicas": run.replicas,
        },
        "cluster": run.cluster,
        "timeoutSeconds": run.timeout_seconds,
        "worker": None,
    }
    if run.worker is not None:
        spec["worker"] = _worker(pipeline, run.worker)
    return spec


def job_codespec(spec: dict) -> Codespec:
    return Codespec.model_validate(spec["job"]["codespec"])


def worker_codespec(spec: dict) -> Codespec | None:
    return Codespec.model_validate(spec["worker"]["codespec"]) if spec.get("worker") else None


def tyger_codespec(cs: Codespec) -> dict:
    """A codespec as Tyger writes it (camelCase keys, empty fields left out)."""
    requests = {k: v for k, v in {"cpu": cs.resources.cpu_request, "memory": cs.resources.memory_request}.items() if v}
    limits = {k: v for k, v in {"cpu": cs.resources.cpu_limit, "memory": cs.resources.memory_limit}.items() if v}
    resources = {k: v for k, v in {"requests": requests, "limits": limits, "gpu": cs.resources.gpu}.items() if v}
    out = {
        "kind": cs.kind,
        "name": cs.name,
        "version": cs.version,
        "image": cs.image,
        "buffers": {"inputs": cs.inputs, "outputs": cs.outputs} if cs.kind == "job" else None,
        "command": cs.command,
        "args": cs.args,
        "workingDir": cs.working_dir,
        "env": cs.env,
        "resources": resources,
        "maxReplicas": cs.max_replicas,
        "endpoints": cs.endpoints,
    }
    return {k: v for k, v in out.items() if v not in (None, [], {})}


def show_json(record) -> dict:
    """`rtc run show`: the run as Tyger prints it."""
    from rtc.integrations.docker.store import iso

    spec = record.spec
    job = {k: v for k, v in spec["job"].items() if not (k == "bufferTtl" and v is None)}
    job["codespec"] = tyger_codespec(job_codespec(spec))
    out = {
        "id": record.id,
        "status": record.status,
        "statusReason": record.status_reason,
        "createdAt": iso(record.created_at),
        "startedAt": iso(record.started_at),
        "finishedAt": iso(record.finished_at),
        "job": job,
    }
    if spec.get("worker"):
        worker = dict(spec["worker"])
        worker["codespec"] = tyger_codespec(worker_codespec(spec))
        out["worker"] = worker
    out["cluster"] = spec.get("cluster")
    out["timeoutSeconds"] = spec.get("timeoutSeconds")
    return {k: v for k, v in out.items() if v is not None}


def system_json(record) -> dict:
    """`rtc run watch` without --full-resource: system metadata only."""
    full = show_json(record)
    return {k: full[k] for k in ("id", "status", "statusReason", "createdAt", "startedAt", "finishedAt") if k in full}


# ---------------------------------------------------------------- resources


def docker_resources(cs: Codespec) -> dict:
    """Codespec resources as Docker options: limits are hard limits, requests become shares/reservations.

    Docker cannot guarantee a request the way Kubernetes does; a CPU request
    weighs the container's share under contention (1024 shares per core) and
    a memory request becomes a soft reservation.
    """
    r = cs.resources
    if r.gpu:
        raise RtcError(
            f"codespec {cs.name!r} asks for gpu {r.gpu!r}, but the local runner has no GPU support",
            hint="remove resources.gpu to run it here, or run it on a Tyger cluster",
        )
    out: dict = {}
    if r.cpu_limit:
        out["nano_cpus"] = int(r.cores("limit") * 1e9)
    if r.cpu_request:
        out["cpu_shares"] = max(2, int(r.cores("request") * 1024))
    if r.memory_limit:
        out["mem_limit"] = r.memory_bytes("limit")
    if r.memory_request:
        out["mem_reservation"] = r.memory_bytes("request")
    return out


# ---------------------------------------------------------------- Tyger's rules


def _codespec(pipeline: Pipeline, ref: str, version: int | None, kind: str) -> Codespec:
    name, _, tail = ref.partition("/versions/")
    if tail:
        try:
            version = int(tail)
        except ValueError:
            raise RtcError(f"bad codespec reference {ref!r}", hint="write NAME or NAME/versions/N") from None
    cs = pipeline.codespecs.get(name)
    if cs is None:
        raise RtcError(f"codespec {name!r} not found in {pipeline.source}", hint=_known(pipeline))
    if version is not None and version != cs.version:
        raise RtcError(f"codespec {name!r} has version {cs.version} here, not {version}")
    if cs.kind != kind:
        raise RtcError(f"codespec {name!r} is a {cs.kind} codespec; a run's {kind} needs a {kind} codespec")
    return cs


def _check_job(cs: Codespec, run: Run) -> None:
    # Command-line overrides (-r, --timeout) never went through the compiler: the same bounds here.
    problem = count_problem(run.replicas, "replicas") or duration_problem(run.timeout_seconds, "the timeout")
    if problem:
        raise RtcError(f"run {run.name!r}: {problem}")
    if run.replicas < 1:
        raise RtcError(f"run {run.name!r}: replicas must be at least 1, not {run.replicas}")
    if cs.max_replicas is not None and run.replicas > cs.max_replicas:
        raise RtcError(f"run {run.name!r}: {run.replicas} replicas, but codespec {cs.name!r} allows at most {cs.max_replicas}")
    if run.timeout_seconds is not None and run.timeout_seconds <= 0:
        raise RtcError(f"run {run.name!r}: the timeout must be positive")
    parameters = set(cs.inputs) | set(cs.outputs)
    unknown = sorted(set(run.buffers) - parameters)
    if unknown:
        raise RtcError(
            f"run {run.name!r}: {', '.join(unknown)} is not a buffer parameter of codespec {cs.name!r}",
            hint=f"its parameters: {', '.join(sorted(parameters)) or 'none'}",
        )
    docker_resources(cs)  # a GPU or a bad quantity fails before anything is created


def _worker(pipeline: Pipeline, worker: WorkerSpec) -> dict:
    cs = _codespec(pipeline, worker.codespec, worker.codespec_version, "worker")
    if count_problem(worker.replicas, "worker replicas"):
        raise RtcError(count_problem(worker.replicas, "worker replicas"))
    if cs.inputs or cs.outputs:
        raise RtcError(f"worker codespec {cs.name!r} declares buffers; Tyger's worker codespecs have none")
    docker_resources(cs)
    return {"codespec": _dump(cs), "nodePool": worker.node_pool, "replicas": worker.replicas}


def _dump(cs: Codespec) -> dict:
    data = cs.model_dump(mode="json")
    data.pop("span", None)
    return data


def _jobs(pipeline: Pipeline) -> list[str]:
    return [name for name, cs in pipeline.codespecs.items() if cs.kind == "job"]


def _known(pipeline: Pipeline) -> str:
    runs = ", ".join(sorted(pipeline.runs)) or "none"
    codespecs = ", ".join(sorted(pipeline.codespecs)) or "none"
    return f"runs: {runs}; codespecs: {codespecs}"
