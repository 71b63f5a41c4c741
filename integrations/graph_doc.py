"""The documentation a DAG (`doc_md`) or a flow (`description`) carries: what rtc built, in Markdown.

The same text on both targets: the source file, the graph as a Mermaid
picture (Airflow and Prefect both render Markdown; Mermaid where the UI
supports it, a readable code block elsewhere), its params and its secrets
with where each target reads them from. Values reach generated code only as
one string literal (through the quoting filter), so nothing here can become code.
"""

from __future__ import annotations

from pathlib import Path

from rtc.compiler.ir import Graph, Pipeline, Run


def _label(text: str) -> str:
    """A Mermaid label: quoted, with the characters Mermaid reads specially written as entities."""
    return '"' + text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;") + '"'


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


def mermaid(graph: Graph) -> list[str]:
    ids = {step.id: f"s{i}" for i, step in enumerate(graph.steps)}
    lines = ["```mermaid", "graph LR"]
    for step in graph.steps:
        mapped = " (each)" if step.mapped else ""
        lines.append(f"  {ids[step.id]}[{_label(f'{step.id}: {step.node}{mapped}')}]")
    for step in graph.steps:
        style = "-.->|all_done|" if step.trigger == "all_done" else "-->"
        for up in step.upstream:
            lines.append(f"  {ids[up]} {style} {ids[step.id]}")
    lines.append("```")
    return lines


def graph_doc(pipeline: Pipeline, graph: Graph, secret_where) -> str:
    """Markdown for one graph; `secret_where(name)` says where the target reads a secret from."""
    lines = [f"**{_cell(pipeline.namespace)}.{_cell(graph.name)}**, compiled by rtc from "
             f"`{_cell(Path(pipeline.source).name)}`. Do not edit the generated file: edit the source and recompile.",
             "", *mermaid(graph)]
    if graph.schedule:
        lines += ["", f"Schedule: `{_cell(graph.schedule)}`"]
    if graph.params:
        lines += ["", "| param | type | default |", "|---|---|---|"]
        for p in graph.params:
            default = "(required)" if p.required else f"`{_cell(repr(p.default))}`"
            lines.append(f"| {_cell(p.name)} | `{_cell(p.type)}` | {default} |")
    secrets = sorted({s for step in graph.steps for s in pipeline.nodes[step.node].secrets})
    if secrets:
        lines += ["", "Secrets: " + ", ".join(f"`{_cell(s)}` ({_cell(secret_where(s))})" for s in secrets)]
    return "\n".join(lines) + "\n"


def run_doc(pipeline: Pipeline, run: Run) -> str:
    """Markdown for one Tyger run: its codespec, image and buffers."""
    spec = pipeline.codespecs.get(run.codespec.partition("/versions/")[0])
    lines = [f"**{_cell(pipeline.namespace)}.run.{_cell(run.name)}**: Tyger run of codespec "
             f"`{_cell(run.codespec)}`, compiled by rtc from `{_cell(Path(pipeline.source).name)}`."]
    if spec is not None:
        lines += ["", f"Image: `{_cell(spec.image)}`, {run.replicas} replica(s)."]
        if spec.inputs:
            lines.append("Input buffers (params, their text is the content): " + ", ".join(f"`{_cell(b)}`" for b in spec.inputs))
        if spec.outputs:
            lines.append("Output buffers (in the result): " + ", ".join(f"`{_cell(b)}`" for b in spec.outputs))
    if run.schedule:
        lines += ["", f"Schedule: `{_cell(run.schedule)}`"]
    return "\n".join(lines) + "\n"
