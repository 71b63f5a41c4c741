"""The syntax tree as plain data, for tests, debugging and `.rt`/YAML comparisons."""

from __future__ import annotations

import dataclasses

from rtc.base.diagnostics import Span

# Fields only foreign formats set (Exosphere templates); left out of dumps when unset.
_OPTIONAL = ("unites", "origin", "alias")


def to_data(node, spans: bool = False):
    """Dataclasses -> dicts tagged with their class (`"_": "Attr"`); spans dropped unless asked for."""
    if isinstance(node, Span):
        return [node.line, node.col, node.end_line, node.end_col] if spans else None
    if dataclasses.is_dataclass(node):
        out = {"_": type(node).__name__}
        for f in dataclasses.fields(node):
            if not spans and (f.name == "span" or f.name.endswith("_span")):
                continue
            if f.name == "file" or (f.name in _OPTIONAL and getattr(node, f.name) is None):
                continue
            out[f.name] = to_data(getattr(node, f.name), spans)
        return out
    if isinstance(node, (list, tuple)):
        return [to_data(item, spans) for item in node]
    return node
