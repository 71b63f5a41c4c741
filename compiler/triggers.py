"""`on` in a graph: runs of other graphs, or new outputs of their steps, that start it.

Two passes. While a graph is lowered (lower_graph), `read_on` reads its `on`
list (shape, duplicates) and a step argument written `GRAPH.STEP.OUTPUT` is
bound to an `ir.TriggerRef` and remembered in `Context.trigger_uses`. Once
every graph is lowered, `check_triggers` resolves both against the other
graphs (which may come from imported files): unknown graph (E315), step
(E302) or output (E303); a name that is not an output a run records (E412);
a cycle of triggers (E411); a step reading a graph that its graph is not
`on` (E413); and the types of the bound inputs (E401/E402).

What a run *records* (and so what `on` may name): the declared outputs of a
graph's steps. `rtc run` keeps each succeeded step's outputs in its run
record (`rtc run show`), file and dir outputs as artifact references in the
artifact store; a step's inputs and a graph's params are not recorded as
outputs (E412), nor are Tyger runs' buffers (a run is not a graph: E315).
"""

from __future__ import annotations

from dataclasses import dataclass

from rtc.base.diagnostics import Span
from rtc.compiler import codes, ir
from rtc.compiler.context import Context
from rtc.compiler.order import find_cycles
from rtc.compiler.suggest import did_you_mean
from rtc.dsl import ast

ON_SHAPE_HINT = "write `on = [GRAPH]` (a run of GRAPH succeeded) or `on = [GRAPH.STEP.OUTPUT]` (STEP recorded a new OUTPUT)"


@dataclass
class TriggerUse:
    """A step argument bound to another graph's output, checked once every graph is lowered."""

    graph: str  # the graph whose step reads it
    step: str
    arg: ast.StepArg
    expr: ast.Ref
    each: bool
    binding: ir.TriggerRef
    port: ir.Port | None
    node: ir.Node | None


def trigger_parts(parts: list[str]) -> list[str] | None:
    """[graph, step, output] of `g.s.o` (or Exosphere's `g.s.outputs.o`); None for other shapes."""
    if len(parts) == 4 and parts[2] == "outputs":
        return [parts[0], parts[1], parts[3]]
    return list(parts) if len(parts) == 3 else None


def read_on(ctx: Context, expr, label: str) -> list[tuple[ir.Trigger, Span]]:
    """The entries of `on = [...]` (YAML: `on: [nightly, nightly.train.model]`) with their spans."""
    items = expr.items if isinstance(expr, ast.ListExpr) else [expr]  # `on = nightly` alone is fine too
    out: list[tuple[ir.Trigger, Span]] = []
    seen: dict[str, Span] = {}
    for item in items:
        if isinstance(item, ast.Ref):
            parts = list(item.parts)
        elif isinstance(item, ast.Str):  # YAML writes names as strings; `"nightly.train.model"` too
            parts = item.value.split(".")
        else:
            ctx.error(codes.WRONG_SHAPE, f"`on` in {label} lists graphs and step outputs, not {_what(item)}", item.span, hint=ON_SHAPE_HINT)
            continue
        if any(not p for p in parts) or not (len(parts) == 1 or trigger_parts(parts)):
            ctx.error(codes.WRONG_SHAPE, f"`{'.'.join(parts)}` in `on` of {label} is neither GRAPH nor GRAPH.STEP.OUTPUT", item.span, hint=ON_SHAPE_HINT)
            continue
        trigger = ir.Trigger(graph=parts[0]) if len(parts) == 1 else ir.Trigger(**dict(zip(("graph", "step", "output"), trigger_parts(parts))))
        if trigger.label in seen:
            ctx.error(codes.DUPLICATE_MEMBER, f"`{trigger.label}` is listed twice in `on` of {label} (first at line {seen[trigger.label].line})", item.span)
            continue
        seen[trigger.label] = item.span
        out.append((trigger, item.span))
    return out


def _what(expr) -> str:
    from rtc.compiler.values import describe

    return describe(expr)


def check_triggers(ctx: Context, symbols, graphs: dict[str, ir.Graph], nodes: dict[str, ir.Node],
                   on_spans: dict[str, list[Span]], broken: set[str]) -> set[str]:
    """Resolve every graph's `on` and trigger-bound inputs; the names of graphs that got an error.

    `on_spans`: graph -> the span of each of its triggers (in order); `broken`: graphs that were
    declared but failed to lower (already reported: a reference to them is not also reported).
    """
    bad: set[str] = set()
    known = set(symbols.by_kind.get("graph", {}))

    def output_of(where: str, graph: str, step: str | None, output: str | None, span: Span) -> tuple[str | None, bool]:
        """(the type a run records for graph.step.output, resolved?) after reporting any problem."""
        if graph not in known:
            other = next((kind for kind in ("run", "codespec", "node", "env") if graph in symbols.by_kind.get(kind, {})), None)
            hint = (f"`{graph}` is a Tyger {other}, not a graph: `on` names graphs" if other in ("run", "codespec")
                    else f"`{graph}` is a {other}, not a graph" if other else did_you_mean(graph, known))
            ctx.error(codes.UNKNOWN_GRAPH, f"unknown graph `{graph}` in {where}", span, hint=hint)
            return None, False
        if graph in broken or graph not in graphs:
            return None, False  # reported where it is declared
        if step is None:
            return None, True
        g = graphs[graph]
        by_id = {s.id: s for s in g.steps}
        if step == "params":
            ctx.error(codes.NOT_RECORDED, f"`{graph}.params.{output}` in {where} is a param of graph `{graph}`, not an output a run records",
                      span, hint="name an output of one of its steps: GRAPH.STEP.OUTPUT")
            return None, False
        s = by_id.get(step)
        if s is None:
            ctx.error(codes.UNKNOWN_STEP, f"graph `{graph}` has no step `{step}` ({where})", span, hint=did_you_mean(step, by_id))
            return None, False
        node = nodes[s.node]
        declared = {p.name: p.type for p in node.outputs}
        if output not in declared:
            if output in {p.name for p in node.inputs}:
                ctx.error(codes.NOT_RECORDED, f"`{output}` is an input of step `{step}` of graph `{graph}` (node `{node.name}`), "
                          f"not an output a run records ({where})", span,
                          hint="a run records its steps' declared outputs: " + (", ".join(f"`{o}`" for o in declared) or "this node has none"))
            else:
                ctx.error(codes.UNKNOWN_OUTPUT, f"step `{step}` of graph `{graph}` (node `{node.name}`) has no output `{output}` ({where})",
                          span, hint=did_you_mean(output, declared))
            return None, False
        seen = f"list[{declared[output]}]" if (s.mapped or node.fanout) else declared[output]
        return seen, True

    # `on` of every graph.
    edges: dict[str, list[str]] = {name: [] for name in graphs}  # graph -> graphs it is on (upstream)
    first_span: dict[tuple[str, str], Span] = {}
    on_errors: set[str] = set()  # graphs whose `on` has an error of its own
    for name, g in graphs.items():
        for trigger, span in zip(g.triggers, on_spans.get(name, [])):
            _, ok = output_of(f"`on` of graph `{name}`", trigger.graph, trigger.step, trigger.output, span)
            if not ok:
                bad.add(name)
                on_errors.add(name)
                continue
            if trigger.graph in edges[name]:
                continue
            edges[name].append(trigger.graph)
            first_span[(name, trigger.graph)] = span
    for cycle in find_cycles(list(edges), {n: [u for u in ups if u in edges] for n, ups in edges.items()}):
        # cycle is in the direction runs fire: a -> b means b is on a; report at b's `on` entry.
        ctx.error(codes.TRIGGER_CYCLE, "cycle of triggers: " + " -> ".join(cycle), first_span[(cycle[1], cycle[0])],
                  hint="a graph cannot be started, directly or through others, by its own runs")
        bad.update(cycle)

    # Inputs bound to GRAPH.STEP.OUTPUT.
    from rtc.compiler.lower_graph import check_trigger_types

    for use in ctx.trigger_uses:
        g = graphs.get(use.graph)
        if g is None:
            continue
        b = use.binding
        seen, ok = output_of(f"step `{use.step}` of graph `{use.graph}`", b.graph, b.step, b.output, use.expr.span)
        if not ok:
            bad.add(use.graph)
            continue
        on = {t.label for t in g.triggers}
        if b.graph not in on and f"{b.graph}.{b.step}.{b.output}" not in on and use.graph not in on_errors:
            ctx.error(codes.NOT_ON, f"step `{use.step}` reads `{use.expr.dotted}`, but graph `{use.graph}` is not `on` graph `{b.graph}`",
                      use.expr.span, hint=f"add it to the graph's triggers: on = [{b.graph}.{b.step}.{b.output}]")
            bad.add(use.graph)
            continue
        if use.port is not None and use.node is not None and not check_trigger_types(ctx, use, seen):
            bad.add(use.graph)
    return bad


TARGET_REFUSES_ON = "E515"  # docs/diagnostics.md; reported by `rtc compile --target airflow`, not by the checker


def refuse_on(pipeline: ir.Pipeline, target: str) -> None:
    """What Airflow's Assets cannot carry of `on`, as one diagnostic at its position, before anything is written:
    an asset event is one task's, so a trigger on an output of a step that runs once per element (each
    element would announce its own value, where `rtc run` and Prefect announce the list), and a step that
    runs once per element reading another graph's output (its elements task has no asset events)."""
    import os

    from rtc.base.diagnostics import CompileError, Diagnostic

    def located(at):
        if at is None:
            return None
        base = os.path.dirname(pipeline.source)
        return Span(os.path.normpath(os.path.join(base, at.file)) if base else at.file, at.line, at.col)

    for graph in pipeline.graphs.values():
        for trigger in graph.triggers:
            producer = pipeline.graphs.get(trigger.graph)
            step = next((s for s in producer.steps if s.id == trigger.step), None) if producer else None
            if step is not None and step.mapped:
                raise CompileError(Diagnostic(
                    TARGET_REFUSES_ON,
                    f"graph `{graph.name}` is `on` `{trigger.label}`, an output of a step that runs once per element; "
                    f"the {target} target announces outputs of steps that run once (an Asset event is one task's)",
                    located(trigger.span),
                    f"be `on` the graph (`on = [{trigger.graph}]`), or on an output of a step after the fan-in",
                ))
        for step, _ in graph.trigger_inputs():
            if step.mapped:
                raise CompileError(Diagnostic(
                    TARGET_REFUSES_ON,
                    f"step `{step.id}` of graph `{graph.name}` runs once per element and reads another graph's output; "
                    f"the {target} target gives those to steps that run once",
                    located(step.span),
                    "read it in a step before the fan-out and pass it on",
                ))
