"""The documentation a DAG (`doc_md`) or a flow (`description`) carries: what rtc built, in Markdown.

The same text on both targets, what a reader needs first: what the pipeline
does (the source's opening comment), its schedule, params and secrets with
where each target reads them from, then its steps as a Markdown list (Airflow's
and Prefect's graph views draw the picture; neither renders Mermaid, so a
Mermaid block showed as raw text, issue 23). Values reach generated code only as
one string literal (through the quoting filter), so nothing here can become code.
"""

from __future__ import annotations

import json
from pathlib import Path

from rtc.compiler.ir import Graph, Pipeline, Run


def source_tag(pipeline: Pipeline) -> str:
    """The tag naming where a DAG or flow comes from: `source:<namespace>/<file>` (the file name alone,
    `source:pipeline.rt`, would group unrelated pipelines), at most 100 characters as Airflow allows
    (a longer one is cut and ends with a hash of the whole)."""
    tag = f"source:{pipeline.namespace}/{Path(pipeline.source).name}"
    if len(tag) <= 100:
        return tag
    import hashlib

    return tag[:87] + "~" + hashlib.sha256(tag.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _value(value) -> str:
    """A value as the source and the UIs' forms write it: JSON (`"a,b"`, `3`, `true`), not Python's repr."""
    return json.dumps(value, ensure_ascii=False)


def source_summary(source: str, limit: int = 600) -> str:
    """What the pipeline does, in its author's words: the comment lines at the top of its source file
    (`# ETL: extract rows, ...`); empty when there are none or the file cannot be read."""
    try:
        with open(source, encoding="utf-8") as f:
            head = f.read(8192)
    except (OSError, UnicodeDecodeError, ValueError):
        return ""
    lines = []
    for line in head.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        lines.append(stripped.lstrip("#").strip())
    text = " ".join(x for x in lines if x)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reads(step) -> str:
    """What a step reads, for the step list: `extract.count`, a param, `each(...)`, `last(...)`."""
    parts = []
    for i in step.inputs:
        b = i.binding
        what = (f"{b.step}.{b.output}" if b.kind == "output" else f"params.{b.param}" if b.kind == "param"
                else f"{b.graph}.{b.step}.{b.output}" if b.kind == "trigger" else _value(b.value))
        parts.append(f"each({what})" if i.each else f"last({what})" if i.last else what)
    data = {i.binding.step for i in step.inputs if i.binding.kind == "output"}
    after = [u for u in step.upstream if u not in data]
    if after:
        parts.append("after " + ", ".join(after))
    if step.trigger == "all_done":
        parts.append("runs whatever happened above it (all_done)")
    return ", ".join(parts)


def steps_list(graph: Graph) -> list[str]:
    """The graph's steps in order, each with its node and what it reads: Markdown every UI shows."""
    lines = []
    for step in graph.steps:
        mapped = ", one run per element" if step.mapped else ""
        reads = _reads(step)
        lines.append(f"- **{_cell(step.id)}** ({_cell(step.node)}{mapped})" + (f" ← {_cell(reads)}" if reads else ""))
    return lines


def graph_doc(pipeline: Pipeline, graph: Graph, secret_where) -> str:
    """Markdown for one graph, what a reader needs first: what it does (the source's opening comment),
    its schedule, params and secrets (`secret_where(name)` says where the target reads one from), then
    its steps as a list (the UIs' own graph views draw the picture; neither renders Mermaid)."""
    title = f"**{_cell(pipeline.namespace)}.{_cell(graph.name)}**"
    summary = source_summary(pipeline.source)
    lines = [f"{title}: {_cell(summary)}" if summary else title, ""]
    on = ", ".join(f"`{_cell(t.label)}`" for t in graph.triggers)
    if graph.schedule:
        lines.append(f"Schedule: `{_cell(graph.schedule)}`" + (f", and on {on}" if on else ""))
    else:
        lines.append(f"Schedule: on {on}" if on else "Schedule: none (triggered by hand)")
    if graph.params:
        lines += ["", "| param | type | default |", "|---|---|---|"]
        for p in graph.params:
            default = "(required)" if p.required else f"`{_cell(_value(p.default))}`"
            lines.append(f"| {_cell(p.name)} | `{_cell(p.type)}` | {default} |")
    needed: dict[str, list[str]] = {}
    for step in graph.steps:
        for s in pipeline.nodes[step.node].secrets:
            needed.setdefault(s, []).append(step.id)
    if needed:
        lines += ["", "| secret | read from | needed by |", "|---|---|---|"]
        for s, steps in sorted(needed.items()):
            lines.append(f"| `{_cell(s)}` | {_cell(secret_where(s))} | {_cell(', '.join(steps))} |")
    lines += ["", "Steps:", "", *steps_list(graph), "",
              f"Compiled by rtc from `{_cell(Path(pipeline.source).name)}`: edit the source and recompile, "
              "not the generated file."]
    return "\n".join(lines) + "\n"


def run_doc(pipeline: Pipeline, run: Run) -> str:
    """Markdown for one Tyger run: its codespec, image and buffers."""
    spec = pipeline.codespecs.get(run.codespec.partition("/versions/")[0])
    lines = [f"**{_cell(pipeline.namespace)}.run.{_cell(run.name)}**: Tyger run of codespec "
             f"`{_cell(run.codespec)}`, compiled by rtc from `{_cell(Path(pipeline.source).name)}`."]
    if spec is not None:
        lines += ["", f"Image: `{_cell(spec.image)}`, {run.replicas} replica(s)."]
        if spec.inputs:
            lines.append("Input buffers (params: their text, or a stored buffer's reference): " + ", ".join(f"`{_cell(b)}`" for b in spec.inputs))
        if spec.outputs:
            lines.append("Output buffers (stored; their references in the result): " + ", ".join(f"`{_cell(b)}`" for b in spec.outputs))
    if run.schedule:
        lines += ["", f"Schedule: `{_cell(run.schedule)}`"]
    return "\n".join(lines) + "\n"
