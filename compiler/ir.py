"""The IR: plain typed data, the one contract between the compiler and every target.

Emitters and runners read a `Pipeline` and nothing else: every reference is
resolved (a step names a node that exists, a node names an environment that
exists, a run names a codespec that exists), every default is filled in, and
each graph carries a topological order of its steps. Spans point back at the
source for messages that targets report; they are excluded from golden files.

Types of ports are written as canonical strings (`str`, `int`, `float`,
`bool`, `json`, `list[T]`, `dict[str, T]`); `rtc.compiler.types` parses them
and checks values against them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

IR_VERSION = "1"


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceSpan(Model):
    file: str
    line: int
    col: int


Span = Annotated[SourceSpan | None, Field(default=None, exclude=False)]


# ---------------------------------------------------------------- environments (envd)


class Mount(Model):
    host_path: str = Field(description="Path on the host; relative paths are relative to the pipeline file's folder.")
    container_path: str
    read_only: bool = False


class Expose(Model):
    container_port: int
    host_port: int = Field(0, description="0 means: pick a free port on the host.")
    host_ip: str = Field("127.0.0.1", description="Listen address on the host.")
    service: str | None = None


class FileCopy(Model):
    """Files baked into the image (`copy "./nodes" -> "/app"`)."""

    host_path: str = Field(
        description="File or folder on the build machine; a relative path is relative to the folder of "
        "Pipeline.source (use Pipeline.host_path to resolve it), so the IR is the same on every machine."
    )
    container_path: str
    digest: str = Field(description="sha256 of the copied content, so that changed code changes the image tag.")


class BuildSpec(Model):
    """What goes into the generated Dockerfile of an environment."""

    base: str
    apt: list[str] = []
    pip: list[str] = []
    copy_files: list[FileCopy] = []
    python: bool = Field(False, description="The image must run Python nodes: the node SDK (and pydantic) is installed.")


class Environment(Model):
    name: str
    image: str = Field(description="The image every container of this environment runs: a content-addressed tag for built environments, or the ready image as written.")
    build: BuildSpec | None = Field(None, description="None when `image` is used as it is.")
    environ: dict[str, str] = {}
    mounts: list[Mount] = []
    expose: list[Expose] = []
    daemons: list[list[str]] = []
    init: list[str] = []
    commands: dict[str, str] = {}
    workdir: str | None = None
    span: Span


# ---------------------------------------------------------------- nodes and graphs (Exosphere)


class Port(Model):
    name: str
    type: str
    span: Span


class RetryPolicy(Model):
    """Exosphere's retry policy; `max_retries` 0 means no retry.

    Exosphere's strategy names map onto two fields: `EXPONENTIAL_FULL_JITTER`
    is strategy "exponential" with jitter "full". Every target computes the
    delays with `rtc.contract.retry_delay` (see `as_contract`).
    """

    max_retries: int = 0
    strategy: Literal["fixed", "linear", "exponential"] = "exponential"
    jitter: Literal["none", "full", "equal"] = Field("none", description="full: uniform(0, d); equal: d/2 + uniform(0, d/2).")
    delay_seconds: float = Field(1.0, description="Exosphere's backoff_factor, in seconds.")
    exponent: float = Field(2.0, description="Base of the exponential strategy.")
    max_delay_seconds: float | None = None

    @field_validator("jitter", mode="before")
    @classmethod
    def _jitter_from_bool(cls, value):
        """IR files written before jitter had kinds said `true` (full jitter) or `false`."""
        if isinstance(value, bool):
            return "full" if value else "none"
        return value

    def as_contract(self) -> dict:
        """The policy as `rtc.contract.retry_delay` takes it, default values left out (also printed
        into generated files)."""
        from rtc.contract import RETRY_DEFAULTS

        full = {"strategy": self.strategy, "jitter": self.jitter, "delay": self.delay_seconds,
                "exponent": self.exponent, "max_delay": self.max_delay_seconds}
        return {key: value for key, value in full.items() if value != RETRY_DEFAULTS[key]}  # the rest by default

    def delay_for(self, attempt: int, uniform=None) -> float:
        """Delay before retry number `attempt` (1-based); `uniform` as in `rtc.contract.retry_delay`."""
        from rtc.contract import retry_delay

        return retry_delay(self.as_contract(), attempt, uniform)

    def delay_range(self, attempt: int) -> tuple[float, float]:
        """The smallest and the largest delay before retry `attempt` (equal without jitter)."""
        return self.delay_for(attempt, lambda a, b: a), self.delay_for(attempt, lambda a, b: b)


class CachePolicy(Model):
    """`cache = true` / `cache = 1d`: reuse the outputs of the same work (rtc.step_cache has the key)."""

    max_age_seconds: float | None = Field(None, description="How long a cached result stays usable; None: until `rtc cache clear`.")


class Node(Model):
    """A reusable unit of work: a command, or a Python BaseNode class, in an environment."""

    name: str
    env: str = Field(description="Name of an entry of Pipeline.environments.")
    inputs: list[Port] = []
    outputs: list[Port] = []
    secrets: list[str] = []
    command: list[str] | None = Field(None, description="argv run in the container; exclusive with `python`.")
    python: str | None = Field(None, description="`module:Class` of a BaseNode subclass, run with `python -m rtc.node`.")
    fanout: bool = Field(False, description="execute() returns a list of Outputs; each output then arrives downstream as a list.")
    retry: RetryPolicy = Field(RetryPolicy(), description="The node's own policy (no retry when none is written); see Step.retry.")
    timeout_seconds: float | None = None
    cache: CachePolicy | None = Field(None, description="Set: a run with the same image, program, inputs and environment reuses recorded outputs.")
    span: Span

    def argv(self) -> list[str]:
        """The argv a container of this node runs."""
        if self.python is not None:
            return ["python3", "-m", "rtc.node", self.python]
        return list(self.command or [])


class ParamRef(Model):
    kind: Literal["param"] = "param"
    param: str


class OutputRef(Model):
    kind: Literal["output"] = "output"
    step: str
    output: str


class LiteralValue(Model):
    kind: Literal["literal"] = "literal"
    value: Any


Binding = Annotated[Union[ParamRef, OutputRef, LiteralValue], Field(discriminator="kind")]


class StepInput(Model):
    name: str
    binding: Binding
    each: bool = Field(False, description="Fan out: the step runs once per element of the bound list.")
    type: str = Field(description="The declared type of the node's input.")


class Step(Model):
    """One use of a node in a graph."""

    id: str
    node: str = Field(description="Name of an entry of Pipeline.nodes.")
    inputs: list[StepInput] = []
    upstream: list[str] = Field([], description="Steps this one waits for (data edges and `after`), sorted.")
    trigger: Literal["all_success", "all_done"] = "all_success"
    mapped: bool = Field(False, description="True when an input is fanned out with each(); outputs of a mapped step arrive downstream as lists.")
    retry: RetryPolicy | None = Field(None, description="The graph's default policy, set on the steps of nodes that write none; "
                                      "None: the node's own. Use retry_policy().")
    span: Span

    def retry_policy(self, node: "Node") -> RetryPolicy:
        """The retry policy this step runs with."""
        return node.retry if self.retry is None else self.retry

    def output_type(self, declared: str, node: Node) -> str:
        """Type seen downstream for an output declared with type `declared`."""
        return f"list[{declared}]" if (self.mapped or node.fanout) else declared


class Param(Model):
    name: str
    type: str
    default: Any = None
    required: bool = True
    span: Span


class Graph(Model):
    name: str
    schedule: str | None = Field(None, description="A cron expression or a preset such as @daily; None: triggered by hand.")
    workers: int | None = Field(None, description="Most steps running at once; None: the target's default.")
    params: list[Param] = []
    steps: list[Step] = []
    order: list[str] = Field([], description="Step ids in a topological order (stable: source order among ready steps).")
    tags: list[str] = []
    span: Span


# ---------------------------------------------------------------- codespecs and runs (Tyger)


class Resources(Model):
    """Requests and limits as written (Kubernetes quantities, checked by the compiler)."""

    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None
    gpu: str | None = None

    def cores(self, which: Literal["request", "limit"]) -> float | None:
        from rtc.compiler.quantities import cpu_cores

        text = self.cpu_request if which == "request" else self.cpu_limit
        return None if text is None else cpu_cores(text)

    def memory_bytes(self, which: Literal["request", "limit"]) -> int | None:
        from rtc.compiler.quantities import memory_bytes

        text = self.memory_request if which == "request" else self.memory_limit
        return None if text is None else memory_bytes(text)


class Codespec(Model):
    name: str
    version: int = 1
    kind: Literal["job", "worker"] = "job"
    image: str
    inputs: list[str] = Field([], description="Input buffer parameter names.")
    outputs: list[str] = Field([], description="Output buffer parameter names.")
    command: list[str] = []
    args: list[str] = []
    working_dir: str | None = None
    env: dict[str, str] = {}
    resources: Resources = Resources()
    max_replicas: int | None = None
    endpoints: dict[str, int] = Field({}, description="Worker codespecs: endpoint name to port.")
    span: Span


class WorkerSpec(Model):
    codespec: str
    codespec_version: int | None = None
    replicas: int = 1
    node_pool: str | None = None


class Run(Model):
    name: str
    codespec: str = Field(description="Name of an entry of Pipeline.codespecs (inline codespecs get a generated name).")
    codespec_version: int | None = None
    buffers: dict[str, str] = Field({}, description="Buffer parameter to buffer id; missing ones are created at run time.")
    replicas: int = 1
    timeout_seconds: float | None = None
    tags: dict[str, str] = {}
    buffer_ttl_seconds: float | None = Field(None, description="Lifetime of the buffers the run creates (Tyger's bufferTtl).")
    node_pool: str | None = None
    cluster: str | None = None
    schedule: str | None = None
    worker: WorkerSpec | None = None
    span: Span


# ---------------------------------------------------------------- the whole file


class Pipeline(Model):
    ir_version: Literal["1"] = IR_VERSION
    namespace: str
    source: str = Field(description="The main source file, as given on the command line.")
    environments: dict[str, Environment] = {}
    nodes: dict[str, Node] = {}
    graphs: dict[str, Graph] = {}
    codespecs: dict[str, Codespec] = {}
    runs: dict[str, Run] = {}

    def to_json(self, spans: bool = True) -> str:
        """Deterministic JSON: same pipeline, same bytes."""
        from rtc.compiler import json_text

        data = self.model_dump(mode="json")
        if not spans:
            data = _without_spans(data)
        return json_text.dumps(data) + "\n"

    def host_path(self, path: str) -> str:
        """An absolute host path for a Mount or FileCopy `host_path` (relative ones are relative to the source's folder)."""
        import os

        if os.path.isabs(path):
            return path
        return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(self.source)), path))

    @classmethod
    def from_json(cls, text: str) -> "Pipeline":
        return cls.model_validate_json(text)


def _without_spans(value):
    if isinstance(value, dict):
        return {k: _without_spans(v) for k, v in value.items() if k != "span"}
    if isinstance(value, list):
        return [_without_spans(v) for v in value]
    return value
