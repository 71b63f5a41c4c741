"""Completion: what may be typed at a position.

While one types, the file rarely parses, so the context is read from the
text before the cursor with a forgiving tokenizer (which block, sub-block,
call or list the cursor is in, and what the current line holds so far), and
the candidates come from the last good parses of the file and its imports.
Which attributes a block allows comes from the compiler's own table
(`rtc.compiler.attributes.SCHEMAS`), so completion and checking agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rtc.dsl import ast
from rtc.lsp.features import Navigator, _find_block, _port, _ports
from rtc.lsp.textpos import offset_of, tokens

TYPES = ["str", "int", "float", "bool", "json", "list[str]", "dict[str, str]"]
TOP_LEVEL = ["env", "node", "graph", "codespec", "run", "namespace", "import"]
PORT_BLOCKS = ("inputs", "outputs", "params", "secrets")
_DOTTED = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)\.([A-Za-z0-9_-]*)$")
_AFTER = re.compile(r"\bafter\s+([A-Za-z0-9_-]*)$")


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # keyword attribute block env node codespec step param input output type value
    detail: str = ""
    insert: str | None = None


@dataclass
class _Frame:
    bracket: str  # { ( [
    kind: str  # block, sub, call, list, map
    name: str = ""
    block_kind: str = ""  # for blocks: env, node, graph, codespec, run


def complete(nav: Navigator, path: str, text: str, line: int, character: int) -> list[Completion]:
    offset = offset_of(text, line, character)
    before = text[:offset]
    toks = tokens(before)
    if toks and toks[-1].end == offset and _unfinished(toks[-1]):
        return []  # inside a comment or a string
    frames: list[_Frame] = []
    for i, tok in enumerate(toks):
        if tok.text in "{([" and tok.kind == "punct":
            frames.append(_open(tok.text, toks[:i], frames))
        elif tok.text in "})]" and tok.kind == "punct" and frames:
            frames.pop()
    line_prefix = before[before.rfind("\n") + 1 :]
    graph = next((f.name for f in frames if f.kind == "block" and f.block_kind == "graph"), None)
    scope = nav.scope(path)

    dotted = _DOTTED.search(line_prefix)
    if dotted and graph is not None:
        return _members(scope, graph, dotted.group(1))
    if _AFTER.search(line_prefix) and graph is not None:
        return _steps(scope, graph) + [Completion(t, "keyword", "trigger") for t in ("all_done", "all_success")]

    # The tokens of the current statement: on this line, after the innermost open bracket.
    line_start = offset - len(line_prefix)
    opened_at = _innermost_open(toks)
    current = [t for t in toks if t.start >= max(line_start, opened_at) and t.kind not in ("comment", "newline")]
    if current and current[-1].kind == "name" and current[-1].end == offset:
        current = current[:-1]  # the word being typed

    frame = frames[-1] if frames else None
    if frame is None:
        return [Completion(k, "keyword") for k in TOP_LEVEL] if not current else []
    if frame.kind == "call" and graph is not None:
        return _in_call(scope, graph, frame.name, toks, opened_at, offset)
    if frame.kind == "list" and len(frames) >= 2 and graph is not None and _after_list(toks, opened_at):
        return _steps(scope, graph)
    if frame.kind in ("block", "sub"):
        return _in_block(scope, frames, frame, current, graph)
    return []


def _unfinished(tok) -> bool:
    if tok.kind == "comment":
        return True
    if tok.kind == "str":
        return len(tok.text) < 2 or not tok.text.endswith('"')
    if tok.kind == "long":
        return len(tok.text) < 6 or not tok.text.endswith('"""')
    return False


def _open(bracket: str, previous: list, frames: list[_Frame]) -> _Frame:
    words = [t for t in previous if t.kind not in ("comment", "newline")]
    last = words[-1] if words else None
    if bracket == "(":
        return _Frame("(", "call", last.text if last is not None and last.kind == "name" else "")
    if bracket == "[":
        return _Frame("[", "list")
    if not frames and len(words) >= 2 and words[-2].text in ("env", "node", "graph", "codespec", "run"):
        return _Frame("{", "block", words[-1].text, words[-2].text)
    if last is not None and last.kind == "name":
        return _Frame("{", "sub", last.text)
    return _Frame("{", "map")


def _innermost_open(toks) -> int:
    depth = 0
    for tok in reversed(toks):
        if tok.kind != "punct":
            continue
        if tok.text in "})]":
            depth += 1
        elif tok.text in "{([":
            if depth == 0:
                return tok.end
            depth -= 1
    return 0


def _after_list(toks, opened_at: int) -> bool:
    words = [t for t in toks if t.end <= opened_at and t.kind not in ("comment", "newline")]
    return len(words) >= 2 and words[-2].text == "after"


# ---------------------------------------------------------------- candidates


def _definitions(scope, kind: str, graph: str | None = None) -> list:
    seen, out = set(), []
    for found in scope:
        for occ in found.occurrences:
            if occ.is_definition and occ.key.kind == kind and (graph is None or occ.key.scope == graph):
                if occ.key.name not in seen:
                    seen.add(occ.key.name)
                    out.append(occ)
    return out


def _steps(scope, graph: str) -> list[Completion]:
    return [
        Completion(o.key.name, "step", f"node {o.target.node.dotted}" if isinstance(o.target, ast.StepStmt) else "step")
        for o in _definitions(scope[:1], "step", graph)
    ]


def _members(scope, graph: str, head: str) -> list[Completion]:
    """After `params.` the graph's params; after `step.` that step's node's outputs."""
    graph_block = _find_block(scope[:1], "graph", graph)
    if graph_block is None:
        return []
    if head == "params":
        return [Completion(p.name, "param", _port(p)) for p in _ports(graph_block, "params")]
    step = next((i for i in graph_block.items if isinstance(i, ast.StepStmt) and i.name == head), None)
    node = _find_block(scope, "node", step.node.dotted) if step is not None else None
    if node is None:
        return []
    return [Completion(p.name, "output", f"{p.type}  (output of {node.name})") for p in _ports(node, "outputs")]


def _in_call(scope, graph: str, callee: str, toks, opened_at: int, offset: int) -> list[Completion]:
    """Inside `Node(...)`: its input names with their types, or values after `name =`."""
    values = _steps(scope, graph) + [
        Completion("params", "value", "the graph's params"),
        Completion("each", "value", "fan out: one run per element", "each("),
        Completion("last", "value", "the last element of a list (of a fan-out: in map-index order)", "last("),
    ]
    if callee in ("each", "last"):
        return values
    inside = [t for t in toks if t.start >= opened_at and t.kind not in ("comment", "newline")]
    since_comma = inside
    for i, tok in enumerate(inside):
        if tok.text == ",":
            since_comma = inside[i + 1 :]
    if since_comma and since_comma[-1].kind == "name" and since_comma[-1].end == offset:
        since_comma = since_comma[:-1]  # the word being typed
    if not since_comma:
        node = _find_block(scope, "node", callee)
        if node is None:
            return []
        given = {inside[i].text for i in range(len(inside) - 1) if inside[i + 1].text == "=" and inside[i].kind == "name"}
        out = []
        for port in _ports(node, "inputs"):
            if port.name not in given:
                detail = f"{port.type}" + (f" = {_port(port).split(' = ', 1)[1]}" if port.default is not None else "")
                out.append(Completion(port.name, "input", detail, f"{port.name} = "))
        return out
    if since_comma[-1].text == "=":
        return values
    return []


def _in_block(scope, frames: list[_Frame], frame: _Frame, current, graph: str | None) -> list[Completion]:
    from rtc.compiler.attributes import _STATEMENT_WORDS, SCHEMAS

    top = frames[0]
    kind = frame.block_kind if frame.kind == "block" else frame.name
    if frame.kind == "sub" and kind in PORT_BLOCKS:
        if current and current[-1].text == ":":
            return [Completion(t, "type") for t in TYPES]
        return []
    schema = SCHEMAS.get(kind)
    if schema is None:
        return []
    if not current:
        out = [Completion(name, "attribute", kind, f"{name} = ") for name in schema.attrs]
        out += [Completion(name, "block", f"{kind}: a list of ports", f"{name} {{ ") for name in schema.ports]
        out += [Completion(name, "block", kind, f"{name} {{ ") for name in schema.blocks]
        out += [Completion(_STATEMENT_WORDS[s], "keyword", kind) for s in schema.statements if s is not ast.StepStmt]
        return out
    if len(current) == 2 and current[0].kind == "name" and current[1].text == "=":
        attr = current[0].text
        if kind == "node" and attr == "env":
            return [Completion(o.key.name, "env") for o in _definitions(scope, "env")]
        if kind in ("run", "worker") and attr == "codespec":
            return [Completion(o.key.name, "codespec") for o in _definitions(scope, "codespec")]
        if top.block_kind == "graph" and frame is top and attr not in schema.attrs:
            return [
                Completion(o.key.name, "node", _signature(o.target), f"{o.key.name}(")
                for o in _definitions(scope, "node")
            ]
        if attr in ("fanout", "jitter"):
            return [Completion("true", "value"), Completion("false", "value")]
    return []


def _signature(block) -> str:
    if not isinstance(block, ast.Block):
        return ""
    inputs = ", ".join(_port(p) for p in _ports(block, "inputs"))
    outputs = ", ".join(_port(p) for p in _ports(block, "outputs"))
    return f"({inputs}) -> ({outputs})"
