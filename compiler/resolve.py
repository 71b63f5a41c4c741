"""The symbol table: every top-level block of every module, by kind and name.

Each kind has its own namespace (an env and a node may share a name), and a
name is defined once across the main file and everything it imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rtc.compiler import codes
from rtc.compiler.context import Context
from rtc.base.diagnostics import Span
from rtc.compiler.suggest import did_you_mean
from rtc.dsl import ast

_UNKNOWN_CODES = {
    "env": codes.UNKNOWN_ENV,
    "node": codes.UNKNOWN_NODE,
    "codespec": codes.UNKNOWN_CODESPEC,
}
_WORDS = {"env": "environment", "node": "node", "codespec": "codespec", "graph": "graph", "run": "run"}


@dataclass(frozen=True)
class Entry:
    """A block found by name, with the module (file) that declares it."""

    block: ast.Block
    module: ast.Module


@dataclass
class SymbolTable:
    """Every block of the main file and its imports, by kind and name."""

    by_kind: dict[str, dict[str, Entry]] = field(default_factory=lambda: {k: {} for k in ast.BLOCK_KINDS})

    def entries(self, kind: str) -> list[Entry]:
        """In source order: the main file first, then imports, as loaded."""
        return list(self.by_kind[kind].values())

    def lookup(self, ctx: Context, kind: str, name: str, span: Span) -> Entry | None:
        """The entry, or None after reporting an unknown reference with a did-you-mean."""
        entry = self.by_kind[kind].get(name)
        if entry is None:
            ctx.error(
                _UNKNOWN_CODES[kind],
                f"unknown {_WORDS[kind]} `{name}`",
                span,
                hint=did_you_mean(name, self.by_kind[kind]),
            )
        return entry


def build_symbols(ctx: Context, modules: list[ast.Module]) -> SymbolTable:
    table = SymbolTable()
    for module in modules:
        for block in module.blocks:
            names = table.by_kind.setdefault(block.kind, {})
            first = names.get(block.name)
            if first is not None:
                where = f"{ctx.relative_file(first.block.span.file)}:{first.block.span.line}"
                ctx.error(
                    codes.DUPLICATE_DEFINITION,
                    f"{_WORDS.get(block.kind, block.kind)} `{block.name}` is defined twice (first at {where})",
                    block.span,
                    hint="rename one of them",
                )
                continue
            names[block.name] = Entry(block, module)
    return table
