"""Hover, definition, references, rename and the outline, over `Project` and `index`.

Each function takes the project, a file and a 0-based position and returns
plain values (`Occurrence`s, markdown, `Outline`s); `server` turns them into
LSP messages.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from rtc.dsl import ast
from rtc.lsp import index
from rtc.lsp.index import FileIndex, Key, Occurrence
from rtc.lsp.project import Project
from rtc.lsp.textpos import NAME, Range, block_end, lines_of, position_of, word_range

RENAMABLE = ("env", "node", "graph", "codespec", "run", "step", "param", "input", "output")
# Words of the grammar (grammars/rtc.lark) and the literals: never a name a rename may give.
KEYWORDS = frozenset({"after", "as", "codespec", "command", "copy", "daemon", "env", "expose", "graph", "import",
                      "init", "mount", "namespace", "node", "null", "on", "readonly", "run", "service", "true", "false"})
RESERVED_STEP_NAMES = ("params",)
# Kinds whose names share one namespace: a step and a param may share a name (`params.x` vs `x.y`).
_NAMESPACES = ({"input", "output"},)


def _same_namespace(a: str, b: str) -> bool:
    return a == b or any(a in group and b in group for group in _NAMESPACES)


class Navigator:
    """Indexes of files, rebuilt when a file's parse changes."""

    def __init__(self, project: Project):
        self.project = project
        self._indexes: dict[str, tuple[ast.Module, str, FileIndex]] = {}

    def index(self, path: str) -> FileIndex | None:
        module = self.project.module(path)
        text = self.project.text(path)
        if module is None or text is None:
            return None
        cached = self._indexes.get(path)
        if cached is not None and cached[0] is module and cached[1] == text:
            return cached[2]
        built = index.build(module, text)
        self._indexes[path] = (module, text, built)
        return built

    def forget_unused(self) -> None:
        """Drop the indexes of files the project no longer keeps (closed, imported by nothing open)."""
        keep = self.project.needed()
        for file in [f for f in self._indexes if f not in keep]:
            del self._indexes[file]

    def scope(self, path: str) -> list[FileIndex]:
        """`path`'s index, then those of the files it imports."""
        out = []
        for file in self.project.closure(path):
            found = self.index(file)
            if found is not None:
                out.append(found)
        return out

    # -- definition, references, rename

    def at(self, path: str, line: int, character: int) -> Occurrence | None:
        found = self.index(path)
        return found.at(line, character) if found is not None else None

    def definition(self, path: str, line: int, character: int) -> Occurrence | None:
        occ = self.at(path, line, character)
        if occ is None:
            return None
        if occ.key.kind == "file":
            return Occurrence(occ.key, occ.key.name, Range(0, 0, 0, 0), True) if os.path.exists(occ.key.name) else None
        if occ.is_definition:
            return occ
        return index.resolve(occ.key, self.scope(path))

    def references(self, path: str, line: int, character: int, include_definition: bool = True) -> list[Occurrence]:
        """Every occurrence of the symbol at the position, in every file that can see its definition."""
        definition = self.definition(path, line, character)
        if definition is None or definition.key.kind == "file":
            return []
        out = []
        for file in self.project.known_files():
            if file != definition.file and definition.file not in self.project.closure(file):
                continue
            found = self.index(file)
            if found is None:
                continue
            for occ in found.occurrences:
                if occ.key == definition.key and (include_definition or not occ.is_definition):
                    out.append(occ)
        return sorted(set(out), key=lambda o: (o.file, o.range.line, o.range.start))

    def prepare_rename(self, path: str, line: int, character: int) -> Occurrence | None:
        occ = self.at(path, line, character)
        if occ is None or occ.key.kind not in RENAMABLE:
            return None
        return occ if self.definition(path, line, character) is not None else None

    def rename(self, path: str, line: int, character: int, new_name: str) -> dict[str, list[Range]]:
        """file -> ranges to replace with `new_name`; raises ValueError for a name rtc cannot take."""
        if not isinstance(new_name, str) or len(new_name) > 255 or not NAME.fullmatch(new_name):
            raise ValueError(f"{str(new_name)[:60]!r} is not a name: use letters, digits, '_' and '-', starting with a letter or '_'")
        if new_name in KEYWORDS:
            raise ValueError(f"{new_name!r} is a keyword of the language; choose another name")
        if self.prepare_rename(path, line, character) is None:
            return {}
        definition = self.definition(path, line, character)
        occ = definition or self.at(path, line, character)
        if occ is not None:
            key = occ.key
            if key.name == new_name:
                return {}
            if key.kind == "step" and new_name in RESERVED_STEP_NAMES:
                raise ValueError(f"{new_name!r} is reserved for a graph's params; choose another step name")
            for found in self.scope(path):
                for other in found.occurrences:
                    if (other.is_definition and other.key.name == new_name and other.key.scope == key.scope
                            and _same_namespace(other.key.kind, key.kind)):
                        raise ValueError(f"{new_name!r} is already the name of a {other.key.kind}"
                                         + (f" in {key.scope}" if key.scope else "")
                                         + f" ({os.path.basename(other.file)}:{other.range.line + 1}); choose another name")
        edits: dict[str, list[Range]] = {}
        for occ in self.references(path, line, character):
            edits.setdefault(occ.file, []).append(occ.range)
        return edits

    # -- hover

    def hover(self, path: str, line: int, character: int) -> tuple[str, Range] | None:
        occ = self.at(path, line, character)
        if occ is None:
            return None
        definition = self.definition(path, line, character)
        if occ.key.kind == "file":
            return _file_hover(self, occ.key.name), occ.range
        if definition is None:
            return f"`{occ.key.name}`: no {occ.key.kind} of that name is defined here or in the imported files", occ.range
        where = f"\n\n*{os.path.basename(definition.file)}:{definition.range.line + 1}*"
        return describe(definition.key, definition.target, self.scope(path)) + where, occ.range

    # -- outline

    def outline(self, path: str) -> list[Outline]:
        found = self.index(path)
        text = self.project.text(path)
        if found is None or text is None:
            return []
        lines = lines_of(text)
        starts = [0]  # offset of each line: linear in the file, not per block (5,000 lines took 23 s)
        for line_text in lines[:-1]:
            starts.append(starts[-1] + len(line_text) + 1)
        members: dict[str, list[Occurrence]] = {}
        for occ in found.occurrences:
            if occ.is_definition and occ.key.kind in ("step", "param", "input", "output"):
                members.setdefault(occ.key.scope, []).append(occ)
        out = []
        for block in found.blocks:
            name = word_range(lines, block.name_span or block.span, block.name)
            if name is None:
                continue
            start = (starts[name.line] if name.line < len(starts) else len(text)) + name.start
            whole = Range(name.line, 0, *position_of(text, block_end(text, start))) if path.endswith(".rt") else name
            outline = Outline(block.name, block.kind, whole, name)
            for occ in members.get(block.name, ()):
                if whole.contains(occ.range.line, occ.range.start):
                    outline.children.append(Outline(occ.key.name, occ.key.kind, occ.range, occ.range, _detail(occ)))
            out.append(outline)
        return out


@dataclass
class Outline:
    name: str
    kind: str
    range: Range
    selection: Range
    detail: str = ""
    children: list["Outline"] = field(default_factory=list)


def _offset(lines: list[str], line: int, character: int) -> int:
    return sum(len(text) + 1 for text in lines[:line]) + character


def _detail(occ: Occurrence) -> str:
    target = occ.target
    if isinstance(target, ast.PortDecl):
        return target.type or ""
    if isinstance(target, ast.StepStmt):
        return target.node.dotted
    return ""


# ---------------------------------------------------------------- descriptions


def expr_text(expr) -> str:
    """An expression as one would write it in a `.rt` file."""
    if isinstance(expr, ast.Str):
        return json.dumps(expr.value, ensure_ascii=False)
    if isinstance(expr, ast.Bool):
        return "true" if expr.value else "false"
    if isinstance(expr, ast.Null):
        return "null"
    if isinstance(expr, ast.Duration):
        return expr.text
    if isinstance(expr, (ast.Int, ast.Float)):
        return str(expr.value)
    if isinstance(expr, ast.Ref):
        return expr.dotted
    if isinstance(expr, ast.ListExpr):
        return "[" + ", ".join(expr_text(i) for i in expr.items) + "]"
    if isinstance(expr, ast.MapExpr):
        return "{ " + ", ".join(f"{e.key} = {expr_text(e.value)}" for e in expr.entries) + " }"
    if isinstance(expr, ast.Call):
        return f"{expr.func}(" + ", ".join(expr_text(a) for a in expr.args) + ")"
    return "?"


def _port(port: ast.PortDecl) -> str:
    text = f"{port.name}: {port.type}" if port.type else port.name
    return text + (f" = {expr_text(port.default)}" if port.default is not None else "")


def _find_block(scope: list[FileIndex], kind: str, name: str) -> ast.Block | None:
    for found in scope:
        for block in found.blocks:
            if block.kind == kind and block.name == name:
                return block
    return None


def _attrs(block: ast.Block) -> dict[str, ast.Attr]:
    return {i.name: i for i in block.items if isinstance(i, ast.Attr)}


def _ports(block: ast.Block, kind: str) -> list[ast.PortDecl]:
    return [p for i in block.items if isinstance(i, ast.PortBlock) and i.kind == kind for p in i.ports]


def describe(key: Key, target, scope: list[FileIndex]) -> str:
    """Markdown for a symbol: what a user wants to know without opening its definition."""
    if key.kind == "node" and isinstance(target, ast.Block):
        return _describe_node(target, scope)
    if key.kind == "env" and isinstance(target, ast.Block):
        attrs = _attrs(target)
        lines = [f"**env** `{target.name}`"]
        if "image" in attrs:
            lines.append(f"- image: `{expr_text(attrs['image'].value)}` (used as it is)")
        if "base" in attrs:
            lines.append(f"- built from `{expr_text(attrs['base'].value)}`")
        for name in ("pip", "apt", "workdir", "environ"):
            if name in attrs:
                lines.append(f"- {name}: `{expr_text(attrs[name].value)}`")
        for item in target.items:
            if isinstance(item, ast.CopyStmt):
                lines.append(f"- copy `{item.host.value}` -> `{item.container.value}`")
            elif isinstance(item, ast.MountStmt):
                lines.append(f"- mount `{item.host.value}` -> `{item.container.value}`" + (" readonly" if item.read_only else ""))
        return "\n".join(lines)
    if key.kind == "codespec" and isinstance(target, ast.Block):
        attrs = _attrs(target)
        lines = [f"**codespec** `{target.name}`"]
        for name in ("image", "kind", "inputs", "outputs", "command", "max_replicas", "version"):
            if name in attrs:
                label = {"inputs": "input buffers", "outputs": "output buffers"}.get(name, name)
                lines.append(f"- {label}: `{expr_text(attrs[name].value)}`")
        return "\n".join(lines)
    if key.kind == "run" and isinstance(target, ast.Block):
        attrs = _attrs(target)
        codespec = expr_text(attrs["codespec"].value) if "codespec" in attrs else "?"
        return f"**run** `{target.name}` of codespec `{codespec}`"
    if key.kind == "graph" and isinstance(target, ast.Block):
        steps = [i for i in target.items if isinstance(i, ast.StepStmt)]
        attrs = _attrs(target)
        lines = [f"**graph** `{target.name}`: {len(steps)} step{'s' * (len(steps) != 1)}"]
        if "schedule" in attrs:
            lines.append(f"- schedule: `{expr_text(attrs['schedule'].value)}`")
        params = _ports(target, "params")
        if params:
            lines.append("- params: " + ", ".join(f"`{_port(p)}`" for p in params))
        return "\n".join(lines)
    if key.kind == "param" and isinstance(target, ast.PortDecl):
        required = "" if target.default is not None else " (required at run time)"
        return f"**param** `{_port(target)}` of graph `{key.scope}`{required}"
    if key.kind in ("input", "output") and isinstance(target, ast.PortDecl):
        return f"**{key.kind}** `{_port(target)}` of node `{key.scope}`"
    if key.kind == "step" and isinstance(target, ast.StepStmt):
        node = _find_block(scope, "node", target.node.dotted)
        head = f"**step** `{target.name}` = node `{target.node.dotted}`"
        return head + ("\n\n" + _describe_node(node, scope) if node is not None else "")
    return f"**{key.kind}** `{key.name}`"


def _describe_node(block: ast.Block, scope: list[FileIndex] = ()) -> str:
    attrs = _attrs(block)
    lines = [f"**node** `{block.name}`"]
    if "env" in attrs:
        lines.append(f"- env: `{expr_text(attrs['env'].value)}`")
    derived = _class_ports(block, attrs, scope)
    for kind in ("inputs", "outputs"):
        ports = _ports(block, kind)
        written = any(isinstance(i, ast.PortBlock) and i.kind == kind for i in block.items)
        source = ""
        if not written and derived is not None and kind in derived.ports:  # not written: the Python class declares them
            ports, source = derived.ports[kind].ports, f" (from class `{derived.name}`)"
        lines.append(f"- {kind}: " + (", ".join(f"`{_port(p)}`" for p in ports) if ports else "none") + source)
    secrets = _ports(block, "secrets")
    if not secrets and derived is not None and "secrets" in derived.ports:
        secrets = derived.ports["secrets"].ports
    if secrets:
        lines.append("- secrets: " + ", ".join(f"`{p.name}`" for p in secrets))
    if "python" in attrs:
        lines.append(f"- python: `{expr_text(attrs['python'].value)}`")
    if "command" in attrs:
        lines.append(f"- command: `{expr_text(attrs['command'].value)}`")
    return "\n".join(lines)


def _class_ports(block: ast.Block, attrs: dict, scope: list[FileIndex]):
    """The Python class `python = "mod:Class"` names, read as the compiler reads it (never imported), or None."""
    from rtc.compiler.python_nodes import copied_code_roots, find_module
    from rtc.dsl.python_node import PythonModule

    target = attrs.get("python")
    env_ref = attrs.get("env")
    if target is None or env_ref is None or not isinstance(target.value, ast.Str) or ":" not in target.value.value:
        return None
    env_name = expr_text(env_ref.value)
    for found in scope:
        for env in found.blocks:
            if env.kind != "env" or env.name != env_name:
                continue
            roots = copied_code_roots(found.file, env.items)
            module, _, class_name = target.value.value.partition(":")
            path = find_module(roots, module)
            if path is None:
                return None
            try:
                return PythonModule(str(path), path.read_text(encoding="utf-8")).node_class(class_name)
            except Exception:  # noqa: BLE001 - a hover never fails: the file may be mid-edit
                return None
    return None


def _file_hover(nav: Navigator, path: str) -> str:
    found = nav.index(path) if os.path.exists(path) else None
    if found is None:
        return f"`{path}` (cannot be read or does not parse)"
    names = [f"{b.kind} `{b.name}`" for b in found.blocks]
    return f"`{os.path.basename(path)}`: " + (", ".join(names) if names else "defines nothing")
