"""What a Tyger run is, before it runs: choosing it, checking Tyger's rules, and its JSON.

A stored run carries a self-contained spec (the codespecs inlined), so a
detached process can execute it without the source file, and `rtc run show`
prints it in Tyger's shape (`job: {codespec, buffers, tags, nodePool,
replicas}`, `cluster`, `timeoutSeconds`).

Everything here works on plain data (dicts, as JSON holds them), not on the
IR's pydantic models: a pipeline's Tyger part is `runnable(pipeline)`, which
`rtc exec` keeps in its cache (rtc/compile_cache.py), so that executing an
unchanged file imports neither pydantic nor the compiler (~0.2 s of CPU).
An `ir.Pipeline` or `ir.Run` is accepted wherever plain data is, and turned
into it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rtc.base import quantities
from rtc.compiler.bounds import count_problem, duration_problem
from rtc.base.diagnostics import RtcError

# What `ir.Run` holds when a run is made around a codespec (`rtc exec -c NAME`): its defaults.
_RUN_DEFAULTS = {
    "codespec_version": None, "buffers": {}, "replicas": 1, "timeout_seconds": None, "tags": {},
    "buffer_ttl_seconds": None, "node_pool": None, "cluster": None, "schedule": None, "worker": None,
}
_WORKER_DEFAULTS = {"codespec_version": None, "replicas": 1, "node_pool": None}
_CODESPEC_DEFAULTS = {
    "version": 1, "kind": "job", "inputs": [], "outputs": [], "command": [], "args": [], "working_dir": None,
    "env": {}, "resources": {}, "max_replicas": None, "endpoints": {}, "identity": None, "sockets": [],
}


def runnable(pipeline) -> dict:
    """A pipeline's Tyger part as plain data: `namespace`, `source`, `codespecs` and `runs` (IR field names).

    An `ir.Pipeline` is dumped (spans left out); plain data is returned as is.
    """
    if isinstance(pipeline, dict):
        return pipeline
    return {
        "namespace": pipeline.namespace,
        "source": pipeline.source,
        "codespecs": {name: _dump(cs) for name, cs in pipeline.codespecs.items()},
        "runs": {name: _dump(run) for name, run in pipeline.runs.items()},
    }


def _as_run(run) -> dict:
    return run if isinstance(run, dict) else _dump(run)


def _new_run(name: str, codespec: str) -> dict:
    return {"name": name, "codespec": codespec, **_RUN_DEFAULTS}


class Resources:
    """A codespec's requests and limits as written; `ir.Resources`' conversions, on plain data."""

    def __init__(self, data: dict | None):
        data = data or {}
        self.cpu_request = data.get("cpu_request")
        self.cpu_limit = data.get("cpu_limit")
        self.memory_request = data.get("memory_request")
        self.memory_limit = data.get("memory_limit")
        self.gpu = data.get("gpu")
        self.shm = data.get("shm")

    def cores(self, which: str) -> float | None:
        text = self.cpu_request if which == "request" else self.cpu_limit
        return None if text is None else quantities.cpu_cores(text)

    def memory_bytes(self, which: str) -> int | None:
        text = self.memory_request if which == "request" else self.memory_limit
        return None if text is None else quantities.memory_bytes(text)


class Codespec:
    """A codespec of a stored spec, read by attribute as `ir.Codespec` is (the same field names)."""

    def __init__(self, data: dict):
        self.name = data["name"]
        self.image = data["image"]
        for key, default in _CODESPEC_DEFAULTS.items():
            value = data.get(key, default)
            setattr(self, key, type(value)(value) if isinstance(value, (list, dict)) else value)
        self.resources = Resources(data.get("resources"))



MAX_CLI_SECONDS = 366 * 24 * 3600  # a year, rtc's longest duration (rtc.compiler.bounds.MAX_DURATION_SECONDS)


def parse_duration(text: str) -> float:
    """`300s`, `1.5h`, `2h45m` (Go's forms, as Tyger's --timeout) or plain seconds -> seconds.

    ASCII digits only (`١` is not 1), finite, at most a year: `inf`, `nan`, `1e999` are messages.
    """
    import math
    import re

    value = text.strip() if isinstance(text, str) else ""
    if re.fullmatch(r"[0-9]{1,12}(?:\.[0-9]{1,9})?", value, flags=re.ASCII):
        seconds = float(value)
    else:
        seconds = quantities.parse_duration(value) if len(value) <= 100 else None
    if seconds is None:
        raise RtcError(f"bad duration {_clip(text)!r}", hint='use forms like "300s", "1.5h" or "2h45m"')
    if not math.isfinite(seconds) or seconds > MAX_CLI_SECONDS:
        raise RtcError(f"duration {_clip(text)!r} is longer than a year ({MAX_CLI_SECONDS}s), the longest rtc accepts")
    return seconds


def parse_ttl(text: str) -> float:
    """A buffer lifetime: Tyger's `D.HH:MM[:SS]` (`0.01:30` = 90 minutes) or a duration (`1h`, `30m`) -> seconds.

    More than 0 and at most a year (a TTL of `inf` made `buffer show` fail for good; `0` removes it at once).
    """
    import re

    match = re.fullmatch(r"([0-9]{1,6})\.([0-9][0-9]):([0-9][0-9])(?::([0-9][0-9]))?", text.strip(), flags=re.ASCII)
    if match:
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        if hours > 23 or minutes > 59 or seconds > 59:
            raise RtcError(f"bad buffer TTL {_clip(text)!r}: hours go to 23, minutes and seconds to 59")
        total = float(days * 86400 + hours * 3600 + minutes * 60 + seconds)
    else:
        try:
            total = parse_duration(text)
        except RtcError as exc:
            if "longer than a year" in str(exc):
                raise RtcError(f"buffer TTL {_clip(text)!r} is longer than a year ({MAX_CLI_SECONDS}s), the longest rtc accepts") from None
            raise RtcError(f"bad buffer TTL {_clip(text)!r}", hint='use Tyger\'s "D.HH:MM" (e.g. "1.00:00" for a day) or "1h", "30m"') from None
    if total <= 0:
        raise RtcError(f"bad buffer TTL {_clip(text)!r}: it must be longer than 0 (a buffer that expires at once holds nothing)")
    if total > MAX_CLI_SECONDS:
        raise RtcError(f"buffer TTL {_clip(text)!r} is longer than a year ({MAX_CLI_SECONDS}s), the longest rtc accepts")
    return total


def _clip(text) -> str:
    text = str(text)
    return text if len(text) <= 60 else text[:40] + "..."


def format_ttl(seconds: float) -> str:
    """Seconds as Tyger writes a bufferTtl: `D.HH:MM:SS`."""
    total = int(round(seconds))
    days, rest = divmod(total, 86400)
    return f"{days}.{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"


def parse_since(text: str) -> float:
    """`--since`: a date/time (ISO 8601) or a time ago (`1h`, `30m`, `2h45m`) -> epoch seconds."""
    import time

    from rtc.integrations.tyger.store import parse_time

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


def choose_run(pipeline, run_name: str | None, overrides: Overrides | None = None) -> dict:
    """The run to execute (plain data): a named run, a run around `-c CODESPEC`, or the file's only run/codespec."""
    o = overrides or Overrides()
    p = runnable(pipeline)
    if run_name is not None:
        if run_name in p["runs"]:
            run = p["runs"][run_name]
        elif run_name in p["codespecs"]:
            run = _new_run(run_name, run_name)
        else:
            raise RtcError(
                f"no run or codespec named {run_name!r} in {p['source']}",
                hint=_known(p),
            )
    elif o.codespec is not None:
        run = _new_run(o.codespec, o.codespec)
    elif len(p["runs"]) == 1:
        run = next(iter(p["runs"].values()))
    elif not p["runs"] and len(_jobs(p)) == 1:
        name = _jobs(p)[0]
        run = _new_run(name, name)
    else:
        raise RtcError(f"{p['source']} holds several runs or codespecs; say which one", hint=_known(p))
    update: dict = {}
    if o.codespec is not None:
        update["codespec"] = o.codespec
        update["codespec_version"] = o.codespec_version
    elif o.codespec_version is not None:
        update["codespec_version"] = o.codespec_version
    if o.buffers:
        update["buffers"] = {**run["buffers"], **o.buffers}
    if o.tags:
        update["tags"] = {**run["tags"], **o.tags}
    for name in ("replicas", "timeout_seconds", "cluster", "node_pool", "buffer_ttl_seconds"):
        if getattr(o, name) is not None:
            update[name] = getattr(o, name)
    if o.names_worker():
        update["worker"] = _worker_override(run, o)
    return {**run, **update}


def _worker_override(run: dict, o: Overrides) -> dict:
    worker = run["worker"]
    if worker is None:
        if o.worker_codespec is None:
            raise RtcError(f"run {run['name']!r} has no worker section; --worker-codespec names the workers' codespec")
        worker = {"codespec": o.worker_codespec, **_WORKER_DEFAULTS}
    update: dict = {}
    if o.worker_codespec is not None:
        update["codespec"], update["codespec_version"] = o.worker_codespec, o.worker_codespec_version
    elif o.worker_codespec_version is not None:
        update["codespec_version"] = o.worker_codespec_version
    if o.worker_replicas is not None:
        update["replicas"] = o.worker_replicas
    if o.worker_node_pool is not None:
        update["node_pool"] = o.worker_node_pool
    return {**worker, **update}


def build_spec(pipeline, run) -> dict:
    """The stored spec of `run`: Tyger's run shape with the codespecs inlined, checked against Tyger's rules."""
    p, run = runnable(pipeline), _as_run(run)
    job = _codespec(p, run["codespec"], run["codespec_version"], "job")
    _check_job(job, run)
    spec = {
        "name": run["name"],
        "namespace": p["namespace"],
        "source": p["source"],
        "job": {
            "codespec": dict(job),
            "buffers": dict(run["buffers"]),
            "tags": dict(run["tags"]),
            "bufferTtl": None if run["buffer_ttl_seconds"] is None else format_ttl(run["buffer_ttl_seconds"]),
            "nodePool": run["node_pool"],
            "replicas": run["replicas"],
        },
        "cluster": run["cluster"],
        "timeoutSeconds": run["timeout_seconds"],
        "worker": None,
    }
    if run["worker"] is not None:
        spec["worker"] = _worker(p, run["worker"])
    return spec


def job_codespec(spec: dict) -> Codespec:
    return Codespec(spec["job"]["codespec"])


def worker_codespec(spec: dict) -> Codespec | None:
    return Codespec(spec["worker"]["codespec"]) if spec.get("worker") else None


def tyger_codespec(cs: Codespec) -> dict:
    """A codespec as Tyger writes it (camelCase keys, empty fields left out)."""
    requests = {k: v for k, v in {"cpu": cs.resources.cpu_request, "memory": cs.resources.memory_request}.items() if v}
    limits = {k: v for k, v in {"cpu": cs.resources.cpu_limit, "memory": cs.resources.memory_limit}.items() if v}
    resources = {k: v for k, v in {"requests": requests, "limits": limits, "gpu": cs.resources.gpu,
                                   "shm": cs.resources.shm}.items() if v}
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
        "identity": cs.identity,
        "sockets": [_tyger_socket(s) for s in cs.sockets],
    }
    return {k: v for k, v in out.items() if v not in (None, [], {})}


def show_json(record) -> dict:
    """`rtc run show`: the run as Tyger prints it."""
    from rtc.integrations.tyger.store import iso

    spec = record.spec
    job = {k: v for k, v in spec["job"].items() if not (k == "bufferTtl" and v is None)}
    job["codespec"] = _shown_codespec(job_codespec(spec))
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
        worker["codespec"] = _shown_codespec(worker_codespec(spec))
        out["worker"] = worker
    out["cluster"] = spec.get("cluster")
    out["timeoutSeconds"] = _whole(spec.get("timeoutSeconds"))
    return {k: v for k, v in out.items() if v is not None}


def _whole(seconds):
    """Seconds as Tyger prints them: an integer when whole (600, not 600.0)."""
    return int(seconds) if isinstance(seconds, float) and seconds.is_integer() else seconds


def _shown_codespec(cs: Codespec):
    """A registered codespec by reference (`hello/versions/1`), as Tyger shows it; an inline one whole.

    It is registered when the registry holds that name and version with the same body (a codespec
    from a file has version 1 too, and may differ from a registered `hello`).
    """
    body = tyger_codespec(cs)
    if _registered_body(cs.name, cs.version) == body:
        return f"{cs.name}/versions/{cs.version}"
    return body


_REGISTERED: dict = {}


def _registered_body(name, version):
    from rtc.dsl.tyger_yaml import registered_file

    if not isinstance(name, str) or not isinstance(version, int) or registered_file(name, version) is None:
        return None
    key = (name, version)
    if key not in _REGISTERED:  # `rtc run list` shows many runs of few codespecs: each compiled once
        from rtc.integrations.tyger import codespecs

        try:
            _REGISTERED[key] = codespecs.show(name, version)
        except Exception:  # noqa: BLE001 - a damaged registry file: show the body
            _REGISTERED[key] = None
    return _REGISTERED[key]


def system_json(record) -> dict:
    """`rtc run watch` without --full-resource: system metadata only."""
    full = show_json(record)
    return {k: full[k] for k in ("id", "status", "statusReason", "createdAt", "startedAt", "finishedAt") if k in full}


# ---------------------------------------------------------------- resources


MAX_CPU_SHARES = 262144


def _tyger_socket(socket) -> dict:
    """A socket as Tyger writes it (`port`, `inputBuffer`, `outputBuffer`), from plain data or an `ir.Socket`."""
    data = socket if isinstance(socket, dict) else socket.to_plain_data()
    pairs = (("port", data["port"]), ("inputBuffer", data.get("input_buffer")), ("outputBuffer", data.get("output_buffer")))
    return {k: v for k, v in pairs if v is not None}


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
        # A weight between 2 and Docker's maximum (262144 = 256 cores): a bigger request weighs as much as 256 cores
        # (the engine would refuse it: "the maximum allowed cpu-shares is 262144").
        out["cpu_shares"] = min(MAX_CPU_SHARES, max(2, int(r.cores("request") * 1024)))
    if r.memory_limit:
        out["mem_limit"] = r.memory_bytes("limit")
    if r.memory_request:
        out["mem_reservation"] = r.memory_bytes("request")
    if r.shm:
        out["shm_size"] = quantities.memory_bytes(r.shm)
    return out


# ---------------------------------------------------------------- Tyger's rules


def _codespec(p: dict, ref: str, version: int | None, kind: str) -> dict:
    name, _, tail = ref.partition("/versions/")
    if tail:
        if not (tail.isascii() and tail.isdigit() and len(tail) <= 18):  # "²" and "١" are not versions
            raise RtcError(f"bad codespec reference {_clip(ref)!r}", hint="write NAME or NAME/versions/N")
        version = int(tail)
    cs = p["codespecs"].get(name)
    if cs is None:
        raise RtcError(f"codespec {name!r} not found in {p['source']}", hint=_known(p))
    if version is not None and version != cs["version"]:
        raise RtcError(f"codespec {name!r} has version {cs['version']} here, not {version}")
    if cs["kind"] != kind:
        raise RtcError(f"codespec {name!r} is a {cs['kind']} codespec; a run's {kind} needs a {kind} codespec")
    return cs


def _check_job(data: dict, run: dict) -> None:
    # Command-line overrides (-r, --timeout) never went through the compiler: the same bounds here.
    cs, name, replicas, timeout = Codespec(data), run["name"], run["replicas"], run["timeout_seconds"]
    problem = count_problem(replicas, "replicas") or duration_problem(timeout, "the timeout")
    if problem:
        raise RtcError(f"run {name!r}: {problem}")
    if replicas < 1:
        raise RtcError(f"run {name!r}: replicas must be at least 1, not {replicas}")
    if cs.max_replicas is not None and replicas > cs.max_replicas:
        raise RtcError(f"run {name!r}: {replicas} replicas, but codespec {cs.name!r} allows at most {cs.max_replicas}")
    if timeout is not None and timeout <= 0:
        raise RtcError(f"run {name!r}: the timeout must be positive")
    parameters = set(cs.inputs) | set(cs.outputs)
    unknown = sorted(set(run["buffers"]) - parameters)
    if unknown:
        raise RtcError(
            f"run {name!r}: {', '.join(unknown)} is not a buffer parameter of codespec {cs.name!r}",
            hint=f"its parameters: {', '.join(sorted(parameters)) or 'none'}",
        )
    docker_resources(cs)  # a GPU or a bad quantity fails before anything is created


def _worker(p: dict, worker: dict) -> dict:
    data = _codespec(p, worker["codespec"], worker["codespec_version"], "worker")
    cs = Codespec(data)
    if count_problem(worker["replicas"], "worker replicas"):
        raise RtcError(count_problem(worker["replicas"], "worker replicas"))
    if cs.inputs or cs.outputs:
        raise RtcError(f"worker codespec {cs.name!r} declares buffers; Tyger's worker codespecs have none")
    docker_resources(cs)
    return {"codespec": dict(data), "nodePool": worker["node_pool"], "replicas": worker["replicas"]}


def _dump(model) -> dict:
    """An IR model (a codespec, a run) as JSON-shaped data without its source position."""
    data = model.to_plain_data()
    data.pop("span", None)
    for socket in data.get("sockets", []):
        socket.pop("span", None)
    return data


def _jobs(p: dict) -> list[str]:
    return [name for name, cs in p["codespecs"].items() if cs["kind"] == "job"]


def _known(p: dict) -> str:
    runs = ", ".join(sorted(p["runs"])) or "none"
    codespecs = ", ".join(sorted(p["codespecs"])) or "none"
    return f"runs: {runs}; codespecs: {codespecs}"
