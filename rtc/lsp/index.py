"""Definitions and references in one file's syntax tree.

A symbol is identified by `(kind, name, scope)`:

| kind      | scope            | defined by                  | referred to by                          |
|-----------|------------------|-----------------------------|-----------------------------------------|
| env       | -                | `env NAME {`                | `env = NAME` in a node                  |
| node      | -                | `node NAME {`               | `step = NAME(...)`                      |
| codespec  | -                | `codespec NAME {`           | `codespec = NAME` in a run or worker    |
| graph/run | -                | their blocks                | graphs: `on = [NAME, NAME.step.output]`, `NAME.step.output` |
| step      | graph            | `NAME = Node(...)`          | `NAME.output`, `after NAME`, `after [NAME]`, `graph.NAME.output` |
| param     | graph            | `params { NAME: type }`     | `params.NAME`                           |
| input     | node             | `inputs { NAME: type }`     | `Node(NAME = ...)`                      |
| output    | node             | `outputs { NAME: type }`    | `step.NAME`                             |
| file      | -                | the file                    | `import "path"`                         |

Names of envs, nodes and codespecs are global across a file and its imports
(the compiler's rule), so a reference resolves to a definition with the same
key in the files its file imports. Positions come from the spans the front
ends record, checked against the text; where a span does not lead to the
name (a YAML `${{ }}` reference, text edited since the parse), the
occurrence is skipped rather than guessed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from rtc.dsl import ast
from rtc.lsp.textpos import Range, lines_of, word_range

GLOBAL_KINDS = ("env", "node", "graph", "codespec", "run")


@dataclass(frozen=True)
class Key:
    kind: str
    name: str
    scope: str | None = None


@dataclass(frozen=True)
class Occurrence:
    key: Key
    file: str
    range: Range
    is_definition: bool
    target: object = field(default=None, compare=False, hash=False)  # the definition's syntax node (a Block, PortDecl, StepStmt) when one


@dataclass
class FileIndex:
    file: str
    occurrences: list[Occurrence]
    blocks: list[ast.Block]

    def at(self, line: int, character: int) -> Occurrence | None:
        for occ in self.occurrences:
            if occ.range.contains(line, character):
                return occ
        return None

    def definitions(self) -> dict[Key, Occurrence]:
        return {o.key: o for o in self.occurrences if o.is_definition}


def build(module: ast.Module, text: str) -> FileIndex:
    """The occurrences of every symbol in one file (its text: the one the module was parsed from, or newer)."""
    builder = _Builder(module.file, lines_of(text))
    for imp in module.imports:
        builder.import_(imp)
    for block in module.blocks:
        builder.block(block)
    return FileIndex(module.file, builder.out, list(module.blocks))


class _Builder:
    def __init__(self, file: str, lines: list[str]):
        self.file, self.lines = file, lines
        self.out: list[Occurrence] = []

    def add(self, key: Key, span, name: str, is_definition: bool, target=None, after: int | None = None) -> Range | None:
        found = word_range(self.lines, span, name, after)
        if found is not None:
            self.out.append(Occurrence(key, self.file, found, is_definition, target))
        return found

    def import_(self, imp: ast.Import) -> None:
        line = imp.span.line - 1
        if 0 <= line < len(self.lines):
            text = self.lines[line]
            start = text.find(imp.path, max(imp.span.col - 1, 0))
            if start >= 0:
                target = os.path.normpath(os.path.join(os.path.dirname(self.file), imp.path))
                rng = Range(line, start, line, start + len(imp.path))
                self.out.append(Occurrence(Key("file", target), self.file, rng, False, imp))

    def block(self, block: ast.Block) -> None:
        self.add(Key(block.kind, block.name), block.name_span or block.span, block.name, True, block)
        if block.kind == "node":
            self.node(block)
        elif block.kind == "graph":
            self.graph(block)
        elif block.kind == "run":
            self.run(block.items)

    def node(self, block: ast.Block) -> None:
        for item in block.items:
            if isinstance(item, ast.Attr) and item.name == "env" and isinstance(item.value, ast.Ref):
                self.ref(Key("env", item.value.dotted), item.value)
            elif isinstance(item, ast.PortBlock) and item.kind in ("inputs", "outputs"):
                kind = "input" if item.kind == "inputs" else "output"
                for port in item.ports:
                    self.add(Key(kind, port.name, block.name), port.span, port.name, True, port)

    def run(self, items) -> None:
        for item in items:
            if isinstance(item, ast.Attr) and item.name == "codespec" and isinstance(item.value, ast.Ref):
                self.ref(Key("codespec", item.value.dotted), item.value)
            elif isinstance(item, ast.SubBlock) and item.kind == "worker":
                self.run(item.items)

    def ref(self, key: Key, ref: ast.Ref) -> None:
        self.add(key, ref.span, key.name, False)

    def graph(self, block: ast.Block) -> None:
        scope = block.name
        steps = {item.name: item for item in block.items if isinstance(item, ast.StepStmt)}
        for item in block.items:
            if isinstance(item, ast.PortBlock) and item.kind == "params":
                for port in item.ports:
                    self.add(Key("param", port.name, scope), port.span, port.name, True, port)
            elif isinstance(item, ast.StepStmt):
                self.step(item, scope, steps)
            elif isinstance(item, ast.Attr) and item.name == "on":  # `on = [nightly, nightly.train.model]`
                for ref in (item.value.items if isinstance(item.value, ast.ListExpr) else [item.value]):
                    if isinstance(ref, ast.Ref):
                        self.other_graph(ref)

    def step(self, step: ast.StepStmt, scope: str, steps: dict[str, ast.StepStmt]) -> None:
        self.add(Key("step", step.name, scope), step.span, step.name, True, step)
        node = step.node.dotted
        self.ref(Key("node", node), step.node)
        for arg in step.args:
            self.add(Key("input", arg.name, node), arg.span, arg.name, False)
            self.value(arg.value, scope, steps)
        for ref in step.after:
            self.ref(Key("step", ref.dotted, scope), ref)

    def value(self, expr, scope: str, steps: dict[str, ast.StepStmt]) -> None:
        if isinstance(expr, ast.Call):
            for arg in expr.args:
                self.value(arg, scope, steps)
        elif isinstance(expr, ast.ListExpr):
            for item in expr.items:
                self.value(item, scope, steps)
        elif isinstance(expr, ast.Ref) and len(expr.parts) >= 2:
            head, last = expr.parts[0], expr.parts[-1]
            if head == "params":
                first = word_range(self.lines, expr.span, "params")
                if first is not None:
                    self.add(Key("param", last, scope), expr.span, last, False, after=first.end)
            elif head not in steps and len(expr.parts) in (3, 4):  # GRAPH.STEP.OUTPUT: another graph's (`on`)
                self.other_graph(expr)
            else:
                first = self.add(Key("step", head, scope), expr.span, head, False)
                step = steps.get(head)
                if first is not None and step is not None:
                    self.add(Key("output", last, step.node.dotted), expr.span, last, False, after=first.end)

    def other_graph(self, ref: ast.Ref) -> None:
        """`nightly` or `nightly.train.model` (in `on`, or read by a step): the graph, and its step."""
        first = self.add(Key("graph", ref.parts[0]), ref.span, ref.parts[0], False)
        if first is not None and len(ref.parts) > 1:
            self.add(Key("step", ref.parts[1], ref.parts[0]), ref.span, ref.parts[1], False, after=first.end)


# ---------------------------------------------------------------- across files


def resolve(key: Key, indexes: list[FileIndex]) -> Occurrence | None:
    """The definition of `key` among `indexes` (a file and what it imports)."""
    for index in indexes:
        for occ in index.occurrences:
            if occ.is_definition and occ.key == key:
                return occ
    return None
