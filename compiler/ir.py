"""The IR: plain typed data, the one contract between the compiler and every target.

Emitters and runners read a `Pipeline` and nothing else: every reference is
resolved (a step names a node that exists, a node names an environment that
exists, a run names a codespec that exists), every default is filled in, and
each graph carries a topological order of its steps. Spans point back at the
source for messages that targets report; they are excluded from golden files.

Types of ports are written as canonical strings (`str`, `int`, `float`,
`bool`, `json`, `list[T]`, `dict[str, T]`); `rtc.compiler.types` parses them
and checks values against them.

The classes are standard-library dataclasses, and pydantic validates them at
the JSON boundary only (`rtc.compiler.ir_check.load_ir_file`, `rtc schema`), through a
`TypeAdapter` built on first use. The compiler has checked everything it
builds, so validating each object again as it is built bought nothing, and
building pydantic models cost every command that touches the IR ~0.1 s of
start-up (`rtc run` of a cached pipeline, a first `rtc check`) and 0.3 s per
10,000 nodes (benchmarks/README.md). Treat instances as immutable: derive a
changed copy with `with_changes({field: value})`.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union

IR_VERSION = "1"

# Hashable from their fields, as pydantic's frozen models were (targets key dicts by retry
# policies); not frozen, because a frozen dataclass's __init__ costs three times as much.
# One __repr__ in Model instead of one generated per class: a third of the classes' start-up.
# Every class has a docstring: without one, dataclass() writes one from inspect.signature,
# which was 40 % of the classes' start-up.
_ir = dataclass(kw_only=True, slots=True, unsafe_hash=True, repr=False)


def _doc(description: str | None = None, **kwargs):
    """A field with its description and default as the JSON Schema shows them (pydantic reads the metadata)."""
    metadata = {} if description is None else {"description": description}
    factory = kwargs.get("default_factory")
    if factory is not None:  # pydantic leaves a factory's value out of the schema: put it in
        metadata["json_schema_extra"] = lambda schema: schema.setdefault("default", to_plain(factory()))
    return field(metadata=metadata, **kwargs)


class Model:
    """What every IR class shares: copies with changes, plain data, compact JSON, and
    validation and a JSON Schema through pydantic (the model_* class methods)."""

    __slots__ = ()
    __pydantic_config__ = {"extra": "forbid"}  # read by pydantic when it validates IR JSON

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _field_names(type(self)))
        return f"{type(self).__name__}({shown})"

    def with_changes(self, changes: dict):
        """A copy with the fields named in `changes` set to their values (dataclasses.replace)."""
        return dataclasses.replace(self, **changes)

    def to_plain_data(self, *, exclude: set[str] | None = None) -> dict:
        """Plain data (dicts, lists, strings, numbers): the IR holds only JSON-like values."""
        data = to_plain(self)
        for key in exclude or ():
            data.pop(key, None)
        return data

    def to_compact_json(self) -> str:
        """Compact JSON in field order (as pydantic writes it)."""
        import json

        return json.dumps(to_plain(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def model_validate(cls, data):
        return _adapter(cls).validate_python(data)

    @classmethod
    def model_validate_json(cls, text: str | bytes):
        return _adapter(cls).validate_json(text)

    @classmethod
    def model_json_schema(cls) -> dict:
        return _adapter(cls).json_schema()


@functools.cache
def _adapter(cls):
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


@functools.cache
def _field_names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def to_plain(value):
    """IR objects as dicts (keys in field order), tuples as lists, all the way down."""
    kind = type(value)
    if kind in (str, int, float, bool) or value is None:
        return value
    if isinstance(value, Model):
        return {name: to_plain(getattr(value, name)) for name in _field_names(kind)}
    if kind is dict:
        return {key: to_plain(item) for key, item in value.items()}
    if kind in (list, tuple):
        return [to_plain(item) for item in value]
    return value


class _LegacyJitter:
    """IR files written before jitter had kinds said `true` (full jitter) or `false`: read them."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
        from pydantic_core import core_schema

        def from_bool(value):
            if isinstance(value, bool):
                return "full" if value else "none"
            return value

        return core_schema.no_info_before_validator_function(from_bool, handler(source))


@_ir
class SourceSpan(Model):
    """Where in the source an IR object was written (the main file's folder is the base of `file`)."""

    file: str
    line: int
    col: int


Span = Union[SourceSpan, None]


# ---------------------------------------------------------------- environments (envd)


@_ir
class Mount(Model):
    """A host folder or file mounted into every container of an environment."""

    host_path: str = _doc("Path on the host; relative paths are relative to the pipeline file's folder.")
    container_path: str
    read_only: bool = False


@_ir
class Expose(Model):
    """A container port published on the host (`expose`)."""

    container_port: int
    host_port: int = _doc("0 means: pick a free port on the host.", default=0)
    host_ip: str = _doc("Listen address on the host.", default="127.0.0.1")
    service: str | None = None


@_ir
class FileCopy(Model):
    """Files baked into the image (`copy "./nodes" -> "/app"`)."""

    host_path: str = _doc(
        "File or folder on the build machine; a relative path is relative to the folder of "
        "Pipeline.source (use Pipeline.host_path to resolve it), so the IR is the same on every machine."
    )
    container_path: str
    digest: str = _doc("sha256 of the copied content, so that changed code changes the image tag.")


@_ir
class BuildSpec(Model):
    """What goes into the generated Dockerfile of an environment."""

    base: str
    apt: list[str] = _doc(default_factory=list)
    pip: list[str] = _doc(default_factory=list)
    copy_files: list[FileCopy] = _doc(default_factory=list)
    python: bool = _doc("The image must run Python nodes: the node SDK (and pydantic) is installed.", default=False)


@_ir
class Environment(Model):
    """An envd environment: the image its containers run and how they run."""

    name: str
    image: str = _doc("The image every container of this environment runs: a content-addressed tag for built environments, or the ready image as written.")
    build: BuildSpec | None = _doc("None when `image` is used as it is.", default=None)
    environ: dict[str, str] = _doc(default_factory=dict)
    mounts: list[Mount] = _doc(default_factory=list)
    expose: list[Expose] = _doc(default_factory=list)
    daemons: list[list[str]] = _doc(default_factory=list)
    init: list[str] = _doc(default_factory=list)
    commands: dict[str, str] = _doc(default_factory=dict)
    workdir: str | None = None
    span: Span = None


# ---------------------------------------------------------------- nodes and graphs (Exosphere)


@_ir
class Port(Model):
    """A typed input or output of a node."""

    name: str
    type: str
    span: Span = None


@_ir
class RetryPolicy(Model):
    """Exosphere's retry policy; `max_retries` 0 means no retry.

    Exosphere's strategy names map onto two fields: `EXPONENTIAL_FULL_JITTER`
    is strategy "exponential" with jitter "full". Every target computes the
    delays with `rtc.runtime.contract.retry_delay` (see `as_contract`).
    """

    max_retries: int = 0
    strategy: Literal["fixed", "linear", "exponential"] = "exponential"
    jitter: Annotated[Literal["none", "full", "equal"], _LegacyJitter] = _doc("full: uniform(0, d); equal: d/2 + uniform(0, d/2).", default="none")
    delay_seconds: float = _doc("Exosphere's backoff_factor, in seconds.", default=1.0)
    exponent: float = _doc("Base of the exponential strategy.", default=2.0)
    max_delay_seconds: float | None = None

    def as_contract(self) -> dict:
        """The policy as `rtc.runtime.contract.retry_delay` takes it, default values left out (also printed
        into generated files)."""
        from rtc.runtime.contract import RETRY_DEFAULTS

        full = {"strategy": self.strategy, "jitter": self.jitter, "delay": self.delay_seconds,
                "exponent": self.exponent, "max_delay": self.max_delay_seconds}
        return {key: value for key, value in full.items() if value != RETRY_DEFAULTS[key]}  # the rest by default

    def delay_for(self, attempt: int, uniform=None) -> float:
        """Delay before retry number `attempt` (1-based); `uniform` as in `rtc.runtime.contract.retry_delay`."""
        from rtc.runtime.contract import retry_delay

        return retry_delay(self.as_contract(), attempt, uniform)

    def delay_range(self, attempt: int) -> tuple[float, float]:
        """The smallest and the largest delay before retry `attempt` (equal without jitter)."""
        return self.delay_for(attempt, lambda a, b: a), self.delay_for(attempt, lambda a, b: b)


@_ir
class CachePolicy(Model):
    """`cache = true` / `cache = 1d`: reuse the outputs of the same work (rtc.runtime.cache has the key)."""

    max_age_seconds: float | None = _doc("How long a cached result stays usable; None: until `rtc cache clear`.", default=None)


@_ir
class Node(Model):
    """A reusable unit of work: a command, or a Python BaseNode class, in an environment."""

    name: str
    env: str = _doc("Name of an entry of Pipeline.environments.")
    inputs: list[Port] = _doc(default_factory=list)
    outputs: list[Port] = _doc(default_factory=list)
    secrets: list[str] = _doc(default_factory=list)
    command: list[str] | None = _doc("argv run in the container; exclusive with `python`.", default=None)
    python: str | None = _doc("`module:Class` of a BaseNode subclass, run with `python -m rtc.node`.", default=None)
    fanout: bool = _doc("execute() returns a list of Outputs; each output then arrives downstream as a list.", default=False)
    retry: RetryPolicy = _doc("The node's own policy (no retry when none is written); see Step.retry.", default_factory=RetryPolicy)
    timeout_seconds: float | None = None
    cache: CachePolicy | None = _doc("Set: a run with the same image, program, inputs and environment reuses recorded outputs.", default=None)
    span: Span = None

    def argv(self) -> list[str]:
        """The argv a container of this node runs."""
        if self.python is not None:
            return ["python3", "-m", "rtc.node", self.python]
        return list(self.command or [])


@_ir
class ParamRef(Model):
    """An input bound to a graph parameter."""

    kind: Literal["param"] = "param"
    param: str


@_ir
class OutputRef(Model):
    """An input bound to an output of an upstream step."""

    kind: Literal["output"] = "output"
    step: str
    output: str


@_ir
class LiteralValue(Model):
    """An input bound to a value written in the source."""

    kind: Literal["literal"] = "literal"
    value: Any


class _ByKind:
    """Binding is a union told apart by its `kind` field (pydantic's discriminated union, for IR JSON)."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
        from pydantic import Field

        return handler.generate_schema(Annotated[source, Field(discriminator="kind")])


@_ir
class TriggerRef(Model):
    """An input bound to an output of a step of another graph that this graph is `on`: the value
    (for file/dir ports, the artifact reference) that the triggering run recorded."""

    kind: Literal["trigger"] = "trigger"
    graph: str
    step: str
    output: str


Binding = Annotated[Union[ParamRef, OutputRef, LiteralValue, TriggerRef], _ByKind]


@_ir
class StepInput(Model):
    """How one input of a step gets its value."""

    name: str
    binding: Binding
    each: bool = _doc("Fan out: the step runs once per element of the bound list.", default=False)
    last: bool = _doc("The input is the last element of the bound list: for a mapped step's outputs, the last element "
                      "in map-index order that was not pruned (`last(STEP.OUTPUT)`; an Exosphere uniting node's field). "
                      "An empty list fails the step.", default=False)
    type: str = _doc("The declared type of the node's input.")


@_ir
class Step(Model):
    """One use of a node in a graph."""

    id: str
    node: str = _doc("Name of an entry of Pipeline.nodes.")
    inputs: list[StepInput] = _doc(default_factory=list)
    upstream: list[str] = _doc("Steps this one waits for (data edges and `after`), sorted.", default_factory=list)
    trigger: Literal["all_success", "all_done"] = "all_success"
    mapped: bool = _doc("True when an input is fanned out with each(); outputs of a mapped step arrive downstream as lists.", default=False)
    retry: RetryPolicy | None = _doc("The graph's default policy, set on the steps of nodes that write none; "
                                     "None: the node's own. Use retry_policy().", default=None)
    span: Span = None

    def retry_policy(self, node: Node) -> RetryPolicy:
        """The retry policy this step runs with."""
        return node.retry if self.retry is None else self.retry


@_ir
class Param(Model):
    """A graph parameter; `default` is used when a run does not set it."""

    name: str
    type: str
    default: Any = None
    required: bool = True
    span: Span = None


@_ir
class Trigger(Model):
    """One entry of a graph's `on`: a successful run of `graph` (step and output None), or a new
    value of `output` recorded by step `step` of `graph`."""

    graph: str
    step: str | None = None
    output: str | None = None
    span: Span = None

    @property
    def label(self) -> str:
        """As written in `on`: `nightly` or `nightly.train.model`."""
        return self.graph if self.step is None else f"{self.graph}.{self.step}.{self.output}"


@_ir
class Graph(Model):
    """An Exosphere graph: steps wired by their inputs, run on a schedule or by hand."""

    name: str
    schedule: str | None = _doc("A cron expression or a preset such as @daily; None: triggered by hand.", default=None)
    workers: int | None = _doc("Most steps running at once; None: the target's default.", default=None)
    params: list[Param] = _doc(default_factory=list)
    steps: list[Step] = _doc(default_factory=list)
    order: list[str] = _doc("Step ids in a topological order (stable: source order among ready steps).", default_factory=list)
    tags: list[str] = _doc(default_factory=list)
    triggers: list[Trigger] = _doc("`on`: runs of other graphs (or new outputs of their steps) that start this graph, "
                                   "besides `schedule`; any one of them fires it.", default_factory=list)
    span: Span = None

    def trigger_inputs(self) -> list[tuple[Step, StepInput]]:
        """The (step, input) pairs bound to a triggering output (TriggerRef), in step order."""
        return [(step, i) for step in self.steps for i in step.inputs if i.binding.kind == "trigger"]


# ---------------------------------------------------------------- codespecs and runs (Tyger)


@_ir
class Resources(Model):
    """Requests and limits as written (Kubernetes quantities, checked by the compiler)."""

    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None
    gpu: str | None = None
    shm: str | None = _doc("Tyger's `resources.shm`: the size of /dev/shm (Docker's --shm-size).", default=None)

    def cores(self, which: Literal["request", "limit"]) -> float | None:
        from rtc.base.quantities import cpu_cores

        text = self.cpu_request if which == "request" else self.cpu_limit
        return None if text is None else cpu_cores(text)

    def memory_bytes(self, which: Literal["request", "limit"]) -> int | None:
        from rtc.base.quantities import memory_bytes

        text = self.memory_request if which == "request" else self.memory_limit
        return None if text is None else memory_bytes(text)


@_ir
class Socket(Model):
    """Tyger's codespec `sockets` entry: a buffer relayed to a TCP port the job listens on (not a pipe)."""

    port: int
    input_buffer: str | None = _doc("The input buffer written to the connection.", default=None)
    output_buffer: str | None = _doc("The output buffer that receives what the job sends back.", default=None)
    span: Span = None


@_ir
class Codespec(Model):
    """A Tyger codespec: the image and command of a job or worker, and its buffers."""

    name: str
    version: int = 1
    kind: Literal["job", "worker"] = "job"
    image: str
    inputs: list[str] = _doc("Input buffer parameter names.", default_factory=list)
    outputs: list[str] = _doc("Output buffer parameter names.", default_factory=list)
    command: list[str] = _doc(default_factory=list)
    args: list[str] = _doc(default_factory=list)
    working_dir: str | None = None
    env: dict[str, str] = _doc(default_factory=dict)
    resources: Resources = _doc(default_factory=Resources)
    max_replicas: int | None = None
    endpoints: dict[str, int] = _doc("Worker codespecs: endpoint name to port.", default_factory=dict)
    identity: str | None = _doc("Tyger's workload identity: recorded and shown; it has no meaning on this machine.", default=None)
    sockets: list[Socket] = _doc("Job codespecs: buffers relayed to TCP ports of the job instead of pipes.",
                                 default_factory=list)
    span: Span = None


@_ir
class WorkerSpec(Model):
    """The worker codespec a Tyger run starts beside its job."""

    codespec: str
    codespec_version: int | None = None
    replicas: int = 1
    node_pool: str | None = None


@_ir
class Run(Model):
    """A Tyger run of a codespec with its buffers."""

    name: str
    codespec: str = _doc("Name of an entry of Pipeline.codespecs (inline codespecs get a generated name).")
    codespec_version: int | None = None
    buffers: dict[str, str] = _doc("Buffer parameter to buffer id; missing ones are created at run time.", default_factory=dict)
    replicas: int = 1
    timeout_seconds: float | None = None
    tags: dict[str, str] = _doc(default_factory=dict)
    buffer_ttl_seconds: float | None = _doc("Lifetime of the buffers the run creates (Tyger's bufferTtl).", default=None)
    node_pool: str | None = None
    cluster: str | None = None
    schedule: str | None = None
    worker: WorkerSpec | None = None
    span: Span = None


# ---------------------------------------------------------------- the whole file


@_ir
class Pipeline(Model):
    """One compiled source file (and its imports): what every target reads."""

    ir_version: Literal["1"] = IR_VERSION
    namespace: str
    source: str = _doc("The main source file, as given on the command line.")
    environments: dict[str, Environment] = _doc(default_factory=dict)
    nodes: dict[str, Node] = _doc(default_factory=dict)
    graphs: dict[str, Graph] = _doc(default_factory=dict)
    codespecs: dict[str, Codespec] = _doc(default_factory=dict)
    runs: dict[str, Run] = _doc(default_factory=dict)

    def to_json(self, spans: bool = True) -> str:
        """Deterministic JSON: same pipeline, same bytes."""
        from rtc.compiler import json_text

        return json_text.dumps(self, _json_fields(spans)) + "\n"

    def host_path(self, path: str) -> str:
        """An absolute host path for a Mount or FileCopy `host_path` (`resolve_host_path`)."""
        import os

        return resolve_host_path(os.path.dirname(os.path.abspath(self.source)), path)


@functools.cache
def _json_fields(spans: bool) -> dict[type, tuple[str, ...]]:
    """Each IR class's fields as the IR JSON writes them: sorted, `span` left out unless `spans`."""
    classes, todo = {}, [Model]
    while todo:
        for cls in todo.pop().__subclasses__():
            classes[cls] = tuple(sorted(name for name in _field_names(cls) if spans or name != "span"))
            todo.append(cls)
    return classes


def resolve_host_path(folder, path: str) -> str:
    """An absolute host path: relative ones are relative to `folder` (the pipeline file's); `~` and `~user` are
    home folders of this machine (of who compiles, or runs `rtc run`), as a shell would expand them. An unknown
    user's `~user` is an RtcError, never a folder named so beside the file."""
    import os

    if path.startswith("~"):
        expanded = os.path.expanduser(path)
        if expanded.startswith("~"):
            from rtc.base.diagnostics import RtcError

            raise RtcError(f"{path!r}: no such user's home folder", hint="write the folder's absolute path")
        path = expanded
    if os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(folder, path))
