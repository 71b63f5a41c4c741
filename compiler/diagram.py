"""Mermaid and Graphviz DOT text of graphs in the IR (for `rtc graph`).

Data edges are labelled `output -> input`; `after` edges are dashed; a
fanned-out input is labelled `each(...)` and a mapped step drawn as a stack.
A graph's `on` is a dotted edge between graphs shown together: from the step
whose output triggers it (or from the triggering graph) to the graph.
Identifiers are generated (`s0`, `s1`, ...) and every user string is
escaped, so names never break the diagram syntax.
"""

from __future__ import annotations

import json

from rtc.compiler.ir import Graph, OutputRef


def _edges(graph: Graph):
    """(from step, to step, label, dashed) in a stable order."""
    out = []
    for step in graph.steps:
        data_from = set()
        for inp in step.inputs:
            if isinstance(inp.binding, OutputRef):
                data_from.add(inp.binding.step)
                label = f"{inp.binding.output} → {inp.name}"
                out.append((inp.binding.step, step.id, f"each({label})" if inp.each else f"last({label})" if inp.last else label, False))
        for up in step.upstream:
            if up not in data_from:
                out.append((up, step.id, "after", True))
    return out


def _trigger_edges(graphs: list[Graph]):
    """(from graph, from step or None, to graph, label) for each `on` entry between graphs shown."""
    shown = {g.name for g in graphs}
    return [(t.graph, t.step, g.name, f"on {t.label}") for g in graphs for t in g.triggers if t.graph in shown]


def _ids(graphs: list[Graph]) -> dict[tuple[str, str], str]:
    ids, n = {}, 0
    for graph in graphs:
        for step_id in graph.order:
            ids[(graph.name, step_id)] = f"s{n}"
            n += 1
    return ids


def _mermaid_text(text: str) -> str:
    # Mermaid's entity codes are `#name;`: escape `#` first, then what would end the string or start a tag.
    escaped = text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    return '"' + escaped + '"'


def render_mermaid(graphs: list[Graph]) -> str:
    ids = _ids(graphs)
    lines = ["flowchart TD"]
    for gi, graph in enumerate(graphs):
        lines.append(f"  subgraph g{gi}[{_mermaid_text(graph.name)}]")
        steps = {s.id: s for s in graph.steps}
        for step_id in graph.order:
            step = steps[step_id]
            label = _mermaid_text(f"{step.id}: {step.node}")
            shape = f"[[{label}]]" if step.mapped else f"[{label}]"
            lines.append(f"    {ids[(graph.name, step_id)]}{shape}")
        for src, dst, label, dashed in _edges(graph):
            arrow = "-.->" if dashed else "-->"
            lines.append(f"    {ids[(graph.name, src)]} {arrow}|{_mermaid_text(label)}| {ids[(graph.name, dst)]}")
        lines.append("  end")
    index = {g.name: gi for gi, g in enumerate(graphs)}
    for src_graph, src_step, dst_graph, label in _trigger_edges(graphs):
        src = ids[(src_graph, src_step)] if src_step is not None else f"g{index[src_graph]}"
        lines.append(f"  {src} -.->|{_mermaid_text(label)}| g{index[dst_graph]}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def render_dot(graphs: list[Graph]) -> str:
    ids = _ids(graphs)
    lines = ["digraph rtc {", "  rankdir=TB;", "  node [shape=box];"]
    for gi, graph in enumerate(graphs):
        lines.append(f"  subgraph cluster_{gi} {{")
        lines.append(f"    label={_dot_text(graph.name)};")
        steps = {s.id: s for s in graph.steps}
        for step_id in graph.order:
            step = steps[step_id]
            style = ", style=\"filled\", peripheries=2" if step.mapped else ""
            lines.append(f"    {ids[(graph.name, step_id)]} [label={_dot_text(f'{step.id}: {step.node}')}{style}];")
        for src, dst, label, dashed in _edges(graph):
            style = ", style=dashed" if dashed else ""
            lines.append(f"    {ids[(graph.name, src)]} -> {ids[(graph.name, dst)]} [label={_dot_text(label)}{style}];")
        lines.append("  }")
    index = {g.name: gi for gi, g in enumerate(graphs)}
    by_name = {g.name: g for g in graphs}
    edges = [(a, s_, b, label) for a, s_, b, label in _trigger_edges(graphs) if by_name[a].order and by_name[b].order]
    if edges:  # between clusters: an edge between two of their steps, clipped at the clusters (compound)
        lines.insert(1, "  compound=true;")
    for src_graph, src_step, dst_graph, label in edges:
        tail = "" if src_step is not None else f", ltail=cluster_{index[src_graph]}"
        src = ids[(src_graph, src_step if src_step is not None else by_name[src_graph].order[-1])]
        dst = ids[(dst_graph, by_name[dst_graph].order[0])]
        lines.append(f"  {src} -> {dst} [label={_dot_text(label)}, style=dotted, lhead=cluster_{index[dst_graph]}{tail}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
