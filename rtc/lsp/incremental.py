"""Re-parse only the top-level blocks an edit touched.

A `.rt` file is a sequence of independent top-level items (`namespace`,
`import`, and blocks), so it can be cut before each item that starts at brace
depth 0 and each piece parsed alone by the real parser (`parse_rt`). A piece
is kept with its text; after an edit, pieces whose text is unchanged are
reused (their spans moved by the lines inserted or removed above them), and
only the changed ones are parsed. For a file that parses, the merged module
equals `parse_rt` of the whole text (a property test checks it). For a broken
file each broken piece reports its own first error, so several syntax errors
show at once.
"""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache

from rtc.base.diagnostics import CompileError, Diagnostic, Span, sorted_diagnostics
from rtc.dsl import ast

# Only what decides a cut: strings and comments (skipped whole), brackets, and the words
# that start a top-level item (not inside a longer name such as `my-env`).
_SCAN = re.compile(
    r'"""[\s\S]*?(?:"""|\Z)|"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[{}\[\]()]'
    r"|(?<![A-Za-z0-9_-])(?:namespace|import|env|node|graph|codespec|run)(?![A-Za-z0-9_-])"
)


def pieces(text: str) -> list[tuple[int, int, str]]:
    """(offset, line from 0, text) of each top-level item, the text between items included."""
    cuts = [0]
    depth = 0
    name_from = -1  # after `env`, `node`, ... or `namespace` comes a name, which may be such a word too
    for match in _SCAN.finditer(text):
        char = text[match.start()]
        if char == "#":
            continue  # a comment between a block's kind and its name changes nothing
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth = max(depth - 1, 0)
        elif depth == 0 and char not in '"#':
            if name_from >= 0 and not re.sub(r"#[^\n]*", "", text[name_from : match.start()]).strip():
                name_from = -1
                continue
            if match.start() > 0:
                cuts.append(match.start())
            name_from = match.end() if match.group() != "import" else -1
            continue
        name_from = -1
    cuts.append(len(text))
    out, line = [], 0
    for start, end in zip(cuts, cuts[1:]):
        if end > start:
            piece = text[start:end]
            out.append((start, line, piece))
            line += piece.count("\n")
    return out


class IncrementalParser:
    """Parses one file's successive texts, reusing the pieces that did not change."""

    def __init__(self, file: str):
        self.file = file
        self._cache: dict[tuple[str, int], tuple[int, ast.Module | None, list[Diagnostic]]] = {}

    def parse(self, text: str) -> ast.Module:
        from rtc.dsl.parser import parse_rt

        module = ast.Module(file=self.file)
        problems: list[Diagnostic] = []
        cache: dict = {}
        for offset, line, piece in pieces(text):
            column = offset - (text.rfind("\n", 0, offset) + 1)
            key = (piece, column)
            found = self._cache.get(key)
            if found is None:
                try:
                    parsed: ast.Module | None = parse_rt("\n" * line + " " * column + piece, self.file)
                    found = (line, parsed, [])
                except CompileError as exc:
                    found = (line, None, exc.diagnostics)
            cache[key] = found
            parsed_at, parsed, diagnostics = found
            delta = line - parsed_at
            if parsed is None:
                problems += [_moved(d, delta) for d in diagnostics]
                continue
            if delta:
                parsed = _moved(parsed, delta)
                cache[key] = (line, parsed, [])
            if parsed.namespace is not None:
                if module.namespace is not None:
                    problems.append(Diagnostic("E004", "a file has one namespace; this is the second", parsed.namespace_span))
                module.namespace, module.namespace_span = parsed.namespace, parsed.namespace_span
            module.imports += parsed.imports
            module.blocks += parsed.blocks
        self._cache = cache
        if problems:
            raise CompileError(sorted_diagnostics(problems))
        return module


@lru_cache(maxsize=None)
def _field_names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _moved(obj, delta: int):
    """`obj` with every span `delta` lines further down (a copy; syntax nodes are frozen)."""
    if isinstance(obj, Span):
        end = obj.end_line + delta if obj.end_line is not None else None
        return Span(obj.file, obj.line + delta, obj.col, end, obj.end_col)
    if isinstance(obj, list):
        return [_moved(item, delta) for item in obj]
    if isinstance(obj, Diagnostic):
        return dataclasses.replace(obj, span=_moved(obj.span, delta) if obj.span else None)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return type(obj)(*[_moved(getattr(obj, name), delta) for name in _field_names(type(obj))])
    return obj
