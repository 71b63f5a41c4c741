"""The syntax tree: what the source says, with positions, and nothing more.

Both front ends (the `.rt` grammar and YAML) build these same nodes, so the
compiler never knows which one a file came from. The tree is purely
syntactic: names are not resolved, types not checked, defaults not filled.
Blocks are deliberately generic (a kind, a name and a list of items) so that
an unknown or misplaced attribute is a compiler diagnostic with a position
and a "did you mean", not a parse error.

Every node carries `span` (rtc.base.diagnostics.Span).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

# Every class has a docstring: without one, dataclass() writes one from inspect.signature at
# import, which is a large part of the start-up of every command that parses.
# Nodes are values (equal and hashable by their fields) but not frozen: a parser builds
# hundreds of thousands of them in a large file, and a frozen dataclass's __init__ costs three
# times as much. Nothing changes a node once built.
_node = dataclass(slots=True, unsafe_hash=True)

from rtc.base.diagnostics import Span

# ---------------------------------------------------------------- expressions


@_node
class Str:
    """A string literal (escapes decoded)."""

    value: str
    span: Span


@_node
class Int:
    """An integer literal."""

    value: int
    span: Span


@_node
class Float:
    """A floating-point literal."""

    value: float
    span: Span


@_node
class Bool:
    """`true` or `false`."""

    value: bool
    span: Span


@_node
class Null:
    """`null`."""

    span: Span


@_node
class Duration:
    """A duration literal such as `300s`, `1.5h`, `2h45m` (`text` as written)."""

    text: str
    seconds: float
    span: Span


@_node
class ListExpr:
    """`[a, b, ...]`."""

    items: list["Expr"]
    span: Span


@_node
class MapEntry:
    """`key: value` inside a map."""

    key: str
    value: "Expr"
    span: Span  # span of the key


@_node
class MapExpr:
    """`{key: value, ...}`."""

    entries: list[MapEntry]
    span: Span


@_node
class Ref:
    """A dotted name: `py`, `params.source`, `load.rows`, `hello/versions/2` is a Str."""

    parts: list[str]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@_node
class Call:
    """`each(load.rows)`; the only call today, kept general for diagnostics."""

    func: str
    args: list["Expr"]
    span: Span


Expr = Union[Str, Int, Float, Bool, Null, Duration, ListExpr, MapExpr, Ref, Call]

# ---------------------------------------------------------------- block items


@_node
class Attr:
    """`name = value`."""

    name: str
    value: Expr
    span: Span  # span of the name


@_node
class PortDecl:
    """`path: str`, `source: str = "/data"`, or a bare `API_KEY` in `secrets`."""

    name: str
    type: str | None
    default: Expr | None
    span: Span
    type_span: Span | None = None


@_node
class PortBlock:
    """`inputs { ... }`, `outputs { ... }`, `secrets { ... }`, `params { ... }`."""

    kind: str
    ports: list[PortDecl]
    span: Span


@_node
class MountStmt:
    """`mount "./data" -> "/data" [readonly]`."""

    host: Str
    container: Str
    read_only: bool
    span: Span


@_node
class CopyStmt:
    """`copy "./nodes" -> "/app"`: files baked into the image at build time."""

    host: Str
    container: Str
    span: Span


@_node
class ExposeStmt:
    """`expose 8000 [-> 0] [on "0.0.0.0"] [service "api"]`."""

    container_port: Int
    host_port: Int | None
    host_ip: Str | None
    service: Str | None
    span: Span


@_node
class DaemonStmt:
    """`daemon ["python3", "serving.py"]`."""

    argv: ListExpr
    span: Span


@_node
class InitStmt:
    """`init ["cmd one", "cmd two"]`."""

    commands: ListExpr
    span: Span


@_node
class CommandStmt:
    """`command train = "python train.py"`."""

    name: str
    command: Expr
    span: Span


@_node
class StepArg:
    """`name = value` in a step's call."""

    name: str
    value: Expr
    span: Span


@_node
class StepStmt:
    """`clean = Clean(row = each(load.rows)) [after all_done] [after [a, b]]`."""

    name: str
    node: Ref
    args: list[StepArg]
    trigger: Str | None  # "all_success" | "all_done" as written (YAML: unites ALL_SUCCESS / ALL_DONE)
    after: list[Ref]
    span: Span
    unites: Ref | None = None  # Exosphere graph templates: the step whose fan-out this step joins


@_node
class SubBlock:
    """A nested block that is not a port list, e.g. `resources { ... }`, `retry { ... }`, `worker { ... }`."""

    kind: str
    items: list["Item"]
    span: Span


Item = Union[Attr, PortBlock, MountStmt, CopyStmt, ExposeStmt, DaemonStmt, InitStmt, CommandStmt, StepStmt, SubBlock]

# ---------------------------------------------------------------- top level

BLOCK_KINDS = ("env", "node", "graph", "codespec", "run")


@_node
class Block:
    """`env py { ... }`, `node Load { ... }`, `graph etl { ... }`, `codespec hello { ... }`, `run greet { ... }`."""

    kind: str
    name: str
    items: list[Item]
    span: Span  # span of the name
    name_span: Span | None = None
    origin: str | None = None  # "exosphere": a graph template taken as it is (its fan-out and string values)


@_node
class Import:
    """`import "path"` (or `import "file.envd" as name`)."""

    path: str
    span: Span
    alias: str | None = None  # `import "trainer/build.envd" as gpu`: the name of the env an envd file gives


@dataclass
class Module:
    """One source file."""

    file: str
    namespace: str | None = None
    namespace_span: Span | None = None
    imports: list[Import] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


def literal_expr(value, span: Span) -> "Expr":
    """The syntax tree of a JSON-like Python value (from JSON, YAML or `ast.literal_eval`), every part at `span`.

    Raises ValueError for anything else (a set, bytes, a map with non-string keys).
    """
    if value is None:
        return Null(span)
    if isinstance(value, bool):
        return Bool(value, span)
    if isinstance(value, int):
        return Int(value, span)
    if isinstance(value, float):
        return Float(value, span)
    if isinstance(value, str):
        return Str(value, span)
    if isinstance(value, (list, tuple)):
        return ListExpr([literal_expr(v, span) for v in value], span)
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return MapExpr([MapEntry(k, literal_expr(v, span), span) for k, v in value.items()], span)
    raise ValueError("not a JSON literal")
