"""Typed port lists (`inputs`, `outputs`, `params`) and name lists (`secrets`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rtc.compiler import codes, types, values
from rtc.compiler.context import Context
from rtc.base.diagnostics import Span
from rtc.runtime.contract import check_value
from rtc.dsl import ast

NO_DEFAULT: Any = object()

_LITERAL_TYPES = {ast.Str: "str", ast.Int: "int", ast.Float: "float", ast.Bool: "bool", ast.Duration: "str"}


@dataclass(frozen=True)
class TypedPort:
    """A port as declared, its type canonical; an input with a default is optional."""

    name: str
    type: str
    default: Any
    span: Span

    @property
    def required(self) -> bool:
        return self.default is NO_DEFAULT


def unique_decls(ctx: Context, block: ast.PortBlock | None, what: str) -> list[ast.PortDecl]:
    """The declarations of a port list, duplicates reported and dropped."""
    if block is None:
        return []
    seen: dict[str, ast.PortDecl] = {}
    for decl in block.ports:
        if decl.name in seen:
            ctx.error(
                codes.DUPLICATE_MEMBER,
                f"{what} `{decl.name}` is declared twice (first at line {seen[decl.name].span.line})",
                decl.span,
            )
            continue
        seen[decl.name] = decl
    return list(seen.values())


def typed_ports(ctx: Context, block: ast.PortBlock | None, what: str, infer_from_default: bool = False) -> list[TypedPort]:
    """Ports with canonical types and checked defaults; bad ones reported and left out."""
    out = []
    for decl in unique_decls(ctx, block, what):
        port = _typed_port(ctx, decl, what, infer_from_default)
        if port is not None:
            out.append(port)
    return out


def _typed_port(ctx: Context, decl: ast.PortDecl, what: str, infer: bool) -> TypedPort | None:
    type_text = decl.type
    if type_text is None:
        if infer and decl.default is not None and type(decl.default) in _LITERAL_TYPES:
            type_text = _LITERAL_TYPES[type(decl.default)]
        else:
            ctx.error(codes.MISSING_TYPE, f"{what} `{decl.name}` has no type", decl.span, hint=f"write `{decl.name}: str` (or int, float, bool, json, list[T], dict[str, T])")
            return None
    try:
        canonical = types.canonical(type_text)
    except types.TypeSyntaxError as exc:
        ctx.error(codes.UNKNOWN_TYPE, f"{what} `{decl.name}`: {exc}", decl.type_span or decl.span)
        return None
    default = NO_DEFAULT
    if decl.default is not None:
        try:
            default = values.literal(decl.default)
        except values.NotLiteral as exc:
            ctx.error(codes.BAD_DEFAULT, f"the default of {what} `{decl.name}` must be a literal value, not {values.describe(exc.expr)}", decl.default.span)
            return None
        if what == "param" and canonical in types.ARTIFACTS:
            # A file or folder given to a run is a path on the host that runs it (relative: to the pipeline
            # file's folder), stored before the first step reads it (rtc.runtime.step.store_host_paths).
            problem = None if isinstance(default, str) and default else (
                f"value should be the path of a {'folder' if canonical == 'dir' else 'file'}, got {default!r:.60}")
        else:
            problem = check_value(default, canonical, "value")
        if problem:
            ctx.error(
                codes.BAD_DEFAULT,
                f"default of {what} `{decl.name}` does not match its type {canonical}: {problem}",
                decl.default.span,
            )
            return None
    return TypedPort(decl.name, canonical, default, decl.span)
