"""Reading composed YAML nodes: positions, shapes, scalars and `${{ ... }}` mappings.

`yaml.compose` (SafeLoader) gives nodes that keep their marks, so every
syntax-tree node built from YAML carries the line and column of its key or
value. Shape problems (a list where a mapping belongs) are collected as
diagnostics and the offending part skipped, so one run reports several.
"""

from __future__ import annotations

import re

import yaml

from rtc.base.diagnostics import Diagnostic, Span
from rtc.dsl import ast
from rtc.base.quantities import parse_duration
from rtc.dsl.parser import DURATION_HINT

BAD_YAML = "E005"
BAD_SHAPE = "E006"

# A YAML document expanding to more nodes than this (alias bombs) is refused.
MAX_NODES = 200_000

_MAPPING = re.compile(r"\s*\$\{\{(.*)\}\}\s*", re.DOTALL)
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_DOTTED = re.compile(rf"{_NAME}(?:\.{_NAME})*")
_CALL = re.compile(rf"({_NAME})\s*\((.*)\)", re.DOTALL)
_IDENTIFIER = re.compile(_NAME)

_KIND_NAMES = {
    yaml.MappingNode: "a mapping",
    yaml.SequenceNode: "a list",
    yaml.ScalarNode: "a single value",
}


class YamlReader:
    """Turns nodes of one file into syntax-tree values; collects diagnostics."""

    def __init__(self, file: str):
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        self._constructor = yaml.SafeLoader("")
        self._budget = MAX_NODES

    # -- positions and errors

    def span(self, node: yaml.Node) -> Span:
        start, end = node.start_mark, node.end_mark
        return Span(self.file, start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def error(self, message: str, node: yaml.Node | None, hint: str | None = None, code: str = BAD_SHAPE) -> None:
        self.diagnostics.append(Diagnostic(code, message, self.span(node) if node is not None else None, hint))

    # -- shapes

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """(key text, key node, value node) of a mapping; [] after a diagnostic when it is not one."""
        if is_null(node):
            return []
        if not isinstance(node, yaml.MappingNode):
            self.error(f"{what} must be a mapping (`key: value` lines), not {describe(node)}", node)
            return []
        try:
            self._constructor.flatten_mapping(node)  # `<<: *anchor` merge keys, as yaml.safe_load does
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or node.start_mark
            self.diagnostics.append(
                Diagnostic(BAD_YAML, f"bad YAML: {exc.problem}", Span(self.file, mark.line + 1, mark.column + 1))
            )
            return []
        out = []
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                self.error(f"a key in {what} must be a plain name, not {describe(key)}", key)
                continue
            out.append((key.value, key, value))
        return out

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(f"{what} must be a list, not {describe(node)}", node)
            return []
        return list(node.value)

    def text(self, node: yaml.Node, what: str) -> str | None:
        if isinstance(node, yaml.ScalarNode) and not is_null(node):
            return node.value
        self.error(f"{what} must be a single value, not {describe(node)}", node)
        return None

    # -- values

    def expr(self, node: yaml.Node, _path: frozenset = frozenset()) -> ast.Expr:
        """Any YAML value as an expression; `${{ ... }}` strings become Ref / Call."""
        self._budget -= 1
        if self._budget == 0:
            self.error("the document is too large once its aliases are expanded", node)
        if self._budget <= 0 or id(node) in _path:
            if id(node) in _path:
                self.error("an alias that contains itself cannot be a value", node)
            return ast.Null(self.span(node))
        span = self.span(node)
        if isinstance(node, yaml.SequenceNode):
            inner = _path | {id(node)}
            return ast.ListExpr([self.expr(item, inner) for item in node.value], span)
        if isinstance(node, yaml.MappingNode):
            inner = _path | {id(node)}
            entries = [
                ast.MapEntry(key, self.expr(value, inner), self.span(key_node))
                for key, key_node, value in self.mapping(node, "this value")
            ]
            return ast.MapExpr(entries, span)
        return self.scalar(node)

    def scalar(self, node: yaml.ScalarNode) -> ast.Expr:
        span, tag = self.span(node), node.tag
        if tag.endswith(":str"):
            match = _MAPPING.fullmatch(node.value)
            if match:
                return self.mapping_expr(match.group(1), node)
            if "${{" in node.value:
                self.error(
                    "a `${{ ... }}` mapping must be the whole value, not part of a string",
                    node,
                    "write the mapping alone, e.g. `path: ${{ params.source }}`",
                )
            return ast.Str(node.value, span)
        try:
            value = self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError):
            return ast.Str(node.value, span)
        if value is None:
            return ast.Null(span)
        if isinstance(value, bool):
            return ast.Bool(value, span)
        if isinstance(value, int):
            return ast.Int(value, span)
        if isinstance(value, float):
            return ast.Float(value, span)
        return ast.Str(node.value, span)  # timestamps, binary, custom tags: kept as written

    def mapping_expr(self, inner: str, node: yaml.Node) -> ast.Expr:
        """`a.outputs.b`, `params.x`, `store.x`, `a.b`, `each(a.outputs.b)` -> Ref / Call."""
        text, span = inner.strip(), self.span(node)
        call = _CALL.fullmatch(text)
        if call:
            args = [a.strip() for a in call.group(2).split(",")] if call.group(2).strip() else []
            return ast.Call(call.group(1), [self._mapping_ref(a, node) for a in args], span)
        return self._mapping_ref(text, node)

    def _mapping_ref(self, text: str, node: yaml.Node) -> ast.Expr:
        span = self.span(node)
        if not _DOTTED.fullmatch(text):
            self.error(
                f"cannot read the mapping `${{{{ {text} }}}}`",
                node,
                "a mapping is STEP.outputs.NAME, params.NAME, store.NAME or each(...) of one of them",
            )
            return ast.Str(text, span)
        parts = text.split(".")
        if len(parts) == 3 and parts[1] == "outputs":
            parts = [parts[0], parts[2]]
        elif len(parts) == 4 and parts[2] == "outputs":  # another graph's output (`on`): GRAPH.STEP.OUTPUT
            parts = [parts[0], parts[1], parts[3]]
        elif len(parts) == 2 and parts[0] == "store":  # Exosphere's run-wide store: rtc's params
            parts = ["params", parts[1]]
        return ast.Ref(parts, span)

    def name_ref(self, node: yaml.Node, what: str) -> ast.Expr:
        """A value naming something (an env, a codespec, a buffer): a Ref when it is a plain name."""
        value = self.expr(node)
        if isinstance(value, ast.Str) and _IDENTIFIER.fullmatch(value.value):
            return ast.Ref([value.value], value.span)
        return value

    def duration(self, node: yaml.Node) -> ast.Expr:
        """`10m`, `2h45m` -> Duration; a number stays a number; a bad duration is a diagnostic."""
        value = self.expr(node)
        if isinstance(value, ast.Str):
            seconds = parse_duration(value.value)
            if seconds is None:
                self.diagnostics.append(
                    Diagnostic("E003", f"bad duration {value.value!r}", value.span, DURATION_HINT)
                )
                return value
            return ast.Duration(value.value.strip(), seconds, value.span)
        return value

    def seconds(self, node: yaml.Node) -> ast.Expr:
        """Tyger's `timeoutSeconds: 43200` as a Duration."""
        value = self.expr(node)
        if isinstance(value, (ast.Int, ast.Float)) and not isinstance(value.value, bool):
            number = value.value
            text = f"{int(number)}s" if float(number).is_integer() else f"{number}s"
            return ast.Duration(text, float(number), value.span)
        if isinstance(value, ast.Str):
            return self.duration(node)
        self.error(f"timeoutSeconds must be a number of seconds, not {describe(node)}", node)
        return value


def is_null(node: yaml.Node | None) -> bool:
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"))


def describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return f"the value {node.value!r}" if len(node.value) <= 40 else "a single value"
    return _KIND_NAMES.get(type(node), "this value")


def normalize_type(text: str) -> str:
    """`dict[str,int]` / `list[ str ]` -> the spelling the `.rt` parser produces."""
    return re.sub(r"\s+", "", text).replace(",", ", ")
