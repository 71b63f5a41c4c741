"""Ports of a `python = "module:Class"` node, read from the class in the env's copied code.

The module is looked up where the image will have it: the env's `copy`
destinations are on PYTHONPATH (a copied folder as a root, a copied file in
its folder), so `copy "./nodes" -> "/app"` makes `main:MyNode` the file
`./nodes/main.py` (or `./nodes/main/__init__.py`). When the env copies code
and installs no pip packages, a module found nowhere is an error (E312), and
so is a class the module lacks; otherwise the module may come from a package
or the base image and is not checked.

When a node also writes a port list, both must agree (E409, with the
position in the other file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rtc.compiler import codes
from rtc.compiler.context import Context
from rtc.base.diagnostics import CompileError, Span
from rtc.compiler.ports import TypedPort, typed_ports, unique_decls
from rtc.compiler.resolve import Entry
from rtc.compiler.types import parse_type
from rtc.dsl import ast
from rtc.dsl.python_node import MODELS, PythonModule, PythonNodeClass

MODEL_NAMES = {"inputs": "Inputs", "outputs": "Outputs", "secrets": "Secrets"}


@dataclass(frozen=True)
class CodeRoot:
    """Where a module may be found: a copied folder (`folder`) or one copied file (`file`, module `name`)."""

    folder: Path | None = None
    file: Path | None = None
    name: str | None = None


def code_roots(env: Entry) -> list[CodeRoot]:
    return copied_code_roots(env.module.file, env.block.items)


def copied_code_roots(source_file: str, items) -> list[CodeRoot]:
    """Where an environment's `copy` items put Python code: folders, and single .py files under their module name."""
    base = Path(os.path.abspath(source_file)).parent
    roots = []
    for item in items:
        if isinstance(item, ast.CopyStmt):
            host = base / item.host.value
            if host.is_dir():
                roots.append(CodeRoot(folder=host))
            elif host.suffix == ".py":
                dest = item.container.value
                name = Path(host.name if dest.endswith("/") else dest).stem
                roots.append(CodeRoot(file=host, name=name))
    return roots


def _installs_packages(env: Entry) -> bool:
    return any(isinstance(i, ast.Attr) and i.name == "pip" for i in env.block.items)


def find_module(roots: list[CodeRoot], module: str) -> Path | None:
    parts = module.split(".")
    for root in roots:
        if root.file is not None:
            if module == root.name:
                return root.file
            continue
        for candidate in (root.folder.joinpath(*parts).with_suffix(".py"), root.folder.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate
    return None


def read_node_class(ctx: Context, target: str, target_span: Span, env: Entry, cache: dict) -> PythonNodeClass | None:
    """The class `module:Class` names, from the env's copied code; None when it cannot be read (reported if wrong)."""
    module, _, class_name = target.partition(":")
    roots = code_roots(env)
    path = find_module(roots, module)
    if path is None:
        if roots and not _installs_packages(env):
            where = ", ".join(ctx.relative_file(str(r.folder or r.file)) for r in roots)
            ctx.error(codes.UNKNOWN_PYTHON, f"module {module!r} is not in the code env `{env.block.name}` copies ({where})",
                      target_span, hint=f"copy the folder that holds {module.replace('.', '/')}.py into the env, e.g. copy \"./nodes\" -> \"/app\"")
        return None
    key = str(path)
    if key not in cache:
        try:
            cache[key] = PythonModule(key, path.read_text(encoding="utf-8"))
        except CompileError as exc:  # reported at the `python = ...` that needs the file, with the file's own position
            cache[key] = exc.diagnostics[0]
        except (OSError, UnicodeDecodeError) as exc:
            ctx.error(codes.UNKNOWN_PYTHON, f"cannot read {ctx.relative_file(key)}: {exc}", target_span)
            return None
    parsed = cache[key]
    if not isinstance(parsed, PythonModule):
        ctx.error(codes.PYTHON_SYNTAX, f"{_at(ctx, parsed.span)}: {parsed.message}", target_span)
        return None
    found = parsed.node_class(class_name)
    if found is None:
        classes = ", ".join(sorted(parsed.classes)) or "none"
        ctx.error(codes.UNKNOWN_PYTHON, f"module {module!r} ({ctx.relative_file(key)}) has no class {class_name!r}", target_span,
                  hint=f"classes defined there: {classes}")
    elif found.problem is not None:  # refused now, not as a TypeError traceback when the step runs
        message, where = found.problem
        ctx.error(codes.RUNTIME_REFUSES, f"{_at(ctx, where)}: {message}", target_span,
                  hint="write `async def execute(self) -> Outputs:` and nested `class Inputs(BaseModel)` / "
                       "`class Outputs(BaseModel)` in the class, as Exosphere's docs do")
    return found


def ports_of(ctx: Context, view, derived: PythonNodeClass | None, label: str):
    """(inputs, outputs, secret names): the written lists, else the class's; disagreements reported (E409)."""
    out = {}
    for kind in MODELS:
        written = view.ports.get(kind)
        from_class = derived.ports.get(kind, ast.PortBlock(kind, [], derived.span)) if derived else None
        what = {"inputs": "input", "outputs": "output", "secrets": "secret"}[kind]
        if kind == "secrets":
            mine = {d.name: d for d in unique_decls(ctx, written, what)}
            theirs = {d.name: d for d in unique_decls(ctx, from_class, what)} if from_class else {}
        else:
            mine = {p.name: p for p in typed_ports(ctx, written, what)}
            theirs = {p.name: p for p in typed_ports(ctx, from_class, what)} if from_class else {}
        if written is not None and derived is not None:
            _compare(ctx, kind, what, mine, theirs, written, derived, label)
        out[kind] = list(mine.values()) if written is not None or derived is None else list(theirs.values())
    return out["inputs"], out["outputs"], out["secrets"]


def _at(ctx: Context, span: Span) -> str:
    """A position in another file, relative to the main file's folder (as the user reads paths)."""
    return f"{ctx.relative_file(span.file)}:{span.line}:{span.col}"


def _compare(ctx, kind, what, mine: dict, theirs: dict, written: ast.PortBlock, derived: PythonNodeClass, label):
    model = f"{derived.name}.{MODEL_NAMES[kind]}"
    for name, port in mine.items():
        other = theirs.get(name)
        if other is None:
            ctx.error(codes.PORTS_DISAGREE, f"{what} `{name}` of {label} is not in {model} ({_at(ctx, _block_span(derived.ports.get(kind), derived))})",
                      port.span, hint=f"add `{name}` to {model}, or remove it here")
        elif isinstance(port, TypedPort) and not _compatible(port.type, other.type):
            ctx.error(codes.PORTS_DISAGREE, f"{what} `{name}` of {label} is {port.type} here but {other.type} in {model} ({_at(ctx, other.span)})",
                      port.span, hint="make the two types the same (or drop the list here: the class's types are used)")
    for name, other in theirs.items():
        if name not in mine:
            ctx.error(codes.PORTS_DISAGREE, f"{model} declares {what} `{name}` ({_at(ctx, other.span)}), which {label} does not list",
                      written.span, hint=f"add `{name}` here, or drop the list here: the class's ports are used")


def _compatible(written: str, from_class: str) -> bool:
    """Equal, or the class says less (`json` where it wrote Optional, Any or a model; `Path`, which is `file`,
    where it wrote `dir`): the pipeline narrows it."""
    def walk(a, b) -> bool:
        if b[0] == "json" or a == b or (a, b) == (("dir",), ("file",)):  # a Path field holds a file or a folder
            return True
        return a[0] == b[0] and a[0] in ("list", "dict") and walk(a[1], b[1])

    return walk(parse_type(written), parse_type(from_class))


def _block_span(block: ast.PortBlock | None, derived: PythonNodeClass) -> Span:
    return block.span if block is not None else derived.span
