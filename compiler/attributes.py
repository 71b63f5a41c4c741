"""Which attributes, port lists, statements and nested blocks each block kind
allows, and the shape of each attribute's value.

The syntax tree is generic (a block is a kind, a name and items), so this
table is where `env` learns that `pip` is a list of strings and that `mount`
belongs to it but `inputs` does not. `read_block` checks a block against its
schema once and hands the lowering passes plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from rtc.compiler import codes, values
from rtc.compiler.context import Context
from rtc.base.diagnostics import Span
from rtc.compiler.suggest import did_you_mean
from rtc.dsl import ast

V = values


@dataclass(frozen=True)
class Schema:
    """What a block kind accepts: attributes (name -> reader), port blocks, statements, sub-blocks, and which attributes it requires."""

    attrs: dict[str, Callable]
    ports: tuple[str, ...] = ()
    statements: tuple[type, ...] = ()
    blocks: tuple[str, ...] = ()
    required: tuple[str, ...] = ()


SCHEMAS: dict[str, Schema] = {
    "env": Schema(
        attrs={
            "base": V.read_str,
            "image": V.read_str,
            "pip": V.read_str_list,
            "apt": V.read_str_list,
            "workdir": V.read_str,
            "environ": V.read_str_map,
        },
        statements=(ast.MountStmt, ast.CopyStmt, ast.ExposeStmt, ast.DaemonStmt, ast.InitStmt, ast.CommandStmt),
    ),
    "node": Schema(
        attrs={
            "env": V.read_ref,
            "python": V.read_str,
            "command": V.read_command,
            "fanout": V.read_bool,
            "retries": V.read_int,
            "timeout": V.read_duration,
            "cache": V.read_cache,
        },
        ports=("inputs", "outputs", "secrets"),
        blocks=("retry", "retry_policy"),
        required=("env",),
    ),
    "retry": Schema(
        attrs={
            "max_retries": V.read_int,
            "strategy": V.read_str,
            "delay": V.read_duration,
            "backoff_factor": V.read_duration,
            "exponent": V.read_number,
            "max_delay": V.read_duration,
            "jitter": V.read_scalar,
        }
    ),
    "graph": Schema(
        attrs={"schedule": V.read_str, "workers": V.read_int, "tags": V.read_str_list, "on": V.read_expr},
        ports=("params",),
        statements=(ast.StepStmt,),
        blocks=("retry", "retry_policy"),
    ),
    "codespec": Schema(
        attrs={
            "image": V.read_str,
            "inputs": V.read_name_list,
            "outputs": V.read_name_list,
            "command": V.read_str_list,
            "args": V.read_str_list,
            "workdir": V.read_str,
            "env": V.read_str_map,
            "max_replicas": V.read_int,
            "kind": V.read_str,
            "endpoints": V.read_int_map,
            "version": V.read_int,
            "identity": V.read_str,
            "sockets": V.read_expr,  # checked by lower_tyger (Tyger's rules for them)
        },
        blocks=("resources",),
        required=("image",),
    ),
    "resources": Schema(
        attrs={name: V.read_scalar for name in ("cpu", "memory", "cpu_limit", "memory_limit", "gpu", "shm")},
    ),
    "run": Schema(
        attrs={
            "codespec": V.read_expr,
            "buffers": V.read_str_map,
            "replicas": V.read_int,
            "timeout": V.read_duration,
            "tags": V.read_str_map,
            "buffer_ttl": V.read_duration,
            "node_pool": V.read_str,
            "cluster": V.read_str,
            "schedule": V.read_str,
        },
        blocks=("worker", "codespec"),
    ),
    "worker": Schema(
        attrs={"codespec": V.read_expr, "replicas": V.read_int, "node_pool": V.read_str},
        blocks=("codespec",),
    ),
}

_STATEMENT_WORDS = {
    ast.MountStmt: "mount",
    ast.CopyStmt: "copy",
    ast.ExposeStmt: "expose",
    ast.DaemonStmt: "daemon",
    ast.InitStmt: "init",
    ast.CommandStmt: "command",
    ast.StepStmt: "a step",
}


@dataclass
class BlockView:
    """A block's items sorted by role, attribute values already read."""

    kind: str
    span: Span
    values: dict[str, Any] = field(default_factory=dict)
    attrs: dict[str, ast.Attr] = field(default_factory=dict)
    ports: dict[str, ast.PortBlock] = field(default_factory=dict)
    statements: list[Any] = field(default_factory=list)
    blocks: dict[str, ast.SubBlock] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        """The value, or `default` when absent or invalid (already reported)."""
        value = self.values.get(name, values.INVALID)
        return default if value is values.INVALID else value

    def has(self, name: str) -> bool:
        """Written in the source, valid or not (so a bad value is not also "missing")."""
        return name in self.attrs

    def value_span(self, name: str) -> Span:
        return self.attrs[name].value.span if name in self.attrs else self.span

    def exactly_one(self, ctx: Context, code: str, first: str, second: str, label: str, hint: str) -> bool:
        """Report (at the second when both, at the block when neither) unless exactly one is written."""
        if self.has(first) != self.has(second):
            return True
        both = self.has(first)
        ctx.error(
            code,
            f"{label} has both `{first}` and `{second}`" if both else f"{label} has neither `{first}` nor `{second}`",
            self.attrs[second].span if both else self.span,
            hint=hint,
        )
        return False

    def key_span(self, name: str, key: str) -> Span:
        """Span of `key` inside the map attribute `name` (the attribute's value when not found)."""
        value = self.attrs[name].value
        if isinstance(value, ast.MapExpr):
            for entry in value.entries:
                if entry.key == key:
                    return entry.span
        return self.value_span(name)


def read_block(ctx: Context, kind: str, items: list, span: Span, label: str) -> BlockView:
    """Check `items` against the schema of `kind`; `label` names the block in messages."""
    schema = SCHEMAS[kind]
    view = BlockView(kind=kind, span=span)
    for item in items:
        if isinstance(item, ast.Attr):
            _read_attr(ctx, schema, view, item, label)
        elif isinstance(item, ast.PortBlock):
            if item.kind not in schema.ports:
                _misplaced(ctx, f"`{item.kind} {{ ... }}`", kind, item.span, schema)
            elif item.kind in view.ports:
                ctx.error(codes.DUPLICATE_ATTRIBUTE, f"{label} has two `{item.kind}` lists", item.span, hint="merge them into one")
            else:
                view.ports[item.kind] = item
        elif isinstance(item, ast.SubBlock):
            if item.kind not in schema.blocks:
                _misplaced(ctx, f"`{item.kind} {{ ... }}`", kind, item.span, schema)
            elif item.kind in view.blocks:
                ctx.error(codes.DUPLICATE_ATTRIBUTE, f"{label} has two `{item.kind}` blocks", item.span)
            else:
                view.blocks[item.kind] = item
        elif type(item) in schema.statements:
            view.statements.append(item)
        else:
            _misplaced(ctx, _STATEMENT_WORDS.get(type(item), type(item).__name__), kind, item.span, schema)
    for name in schema.required:
        if name not in view.attrs and name not in view.blocks:
            ctx.error(codes.MISSING_ATTRIBUTE, f"{label} needs `{name}`", span)
    return view


def _read_attr(ctx: Context, schema: Schema, view: BlockView, attr: ast.Attr, label: str) -> None:
    reader = schema.attrs.get(attr.name)
    if reader is None:
        known = list(schema.attrs) + list(schema.ports) + list(schema.blocks)
        ctx.error(
            codes.UNKNOWN_ATTRIBUTE,
            f"unknown attribute `{attr.name}` in {label}",
            attr.span,
            hint=did_you_mean(attr.name, known),
        )
        return
    if attr.name in view.attrs:
        first = view.attrs[attr.name].span
        ctx.error(codes.DUPLICATE_ATTRIBUTE, f"`{attr.name}` is given twice in {label} (first at line {first.line})", attr.span)
        return
    view.attrs[attr.name] = attr
    view.values[attr.name] = reader(ctx, attr.value, f"`{attr.name}`")


def _misplaced(ctx: Context, what: str, kind: str, span: Span, schema: Schema) -> None:
    owners = [k for k, s in SCHEMAS.items() if _allows(s, what)]
    hint = f"{what} belongs in {' or '.join(f'`{o}`' for o in owners)} blocks" if owners else None
    ctx.error(codes.MISPLACED_ITEM, f"{what} is not allowed in {'an' if kind[0] in 'aeiou' else 'a'} `{kind}` block", span, hint=hint)


def _allows(schema: Schema, what: str) -> bool:
    word = what.strip("`").split(" ")[0]
    return (
        word in schema.ports
        or word in schema.blocks
        or any(_STATEMENT_WORDS.get(t) == what for t in schema.statements)
    )
