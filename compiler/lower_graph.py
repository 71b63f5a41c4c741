"""`graph` blocks -> ir.Graph: params, steps with every argument bound and
type-checked (fan-out included), then cycles and a topological order."""

from __future__ import annotations

from dataclasses import dataclass

from rtc.compiler import codes, ir, types
from rtc.compiler.attributes import read_block
from rtc.compiler.context import Context
from rtc.compiler.exosphere_graph import lower_template
from rtc.compiler.cron import canonical_schedule, cron_problem
from rtc.compiler.order import find_cycles, topological_order
from rtc.compiler.ports import typed_ports
from rtc.compiler.resolve import Entry, SymbolTable
from rtc.compiler.retry import read_policy
from rtc.compiler.suggest import did_you_mean
from rtc.compiler.triggers import TriggerUse, read_on, trigger_parts
from rtc.compiler.bounds import count_problem
from rtc.compiler.validate import airflow_id_problem, python_name_problem, tag_problem
from rtc.compiler.values import NotLiteral, describe, literal
from rtc.runtime.contract import check_value
from rtc.dsl import ast

TRIGGERS = ("all_success", "all_done")
RESERVED_STEP_NAMES = ("params",)


@dataclass
class _Source:
    """Where a step argument's value comes from, and its type there."""

    binding: object
    type: str | None  # None: unknown (an error upstream was already reported)
    label: str
    upstream: str | None = None


def lower_graph(
    ctx: Context, entry: Entry, symbols: SymbolTable, nodes: dict[str, ir.Node], input_defaults: dict[str, dict],
    node_retries: dict[str, ir.RetryPolicy | None] | None = None,
) -> ir.Graph | None:
    """`input_defaults`: node name -> input name -> default value, bound when a step leaves the input out.
    `node_retries`: node name -> the node's own retry policy (None: the graph's default applies)."""
    block = entry.block
    label = f"graph `{block.name}`"
    start = ctx.mark()
    problem = airflow_id_problem(block.name, "graph name")
    if problem:
        ctx.error(codes.BAD_NAME, problem, block.span)
    view = read_block(ctx, "graph", block.items, block.span, label)

    schedule = view.get("schedule")
    if schedule is not None:
        problem = cron_problem(schedule)
        if problem:
            ctx.error(codes.BAD_CRON, f"schedule {schedule!r}: {problem}", view.value_span("schedule"))
        schedule = canonical_schedule(schedule)
    workers = view.get("workers")
    if workers is not None and count_problem(workers, "`workers`"):
        ctx.error(codes.BAD_VALUE, count_problem(workers, "`workers`"), view.value_span("workers"))
    tags_expr = view.attrs["tags"].value if view.has("tags") else None
    for i, tag in enumerate(view.get("tags", [])):
        problem = tag_problem(tag, "graph tag")
        if problem:
            items = getattr(tags_expr, "items", [])
            ctx.error(codes.TAG_TOO_LONG, problem, items[i].span if i < len(items) else view.value_span("tags"))

    on = read_on(ctx, view.attrs["on"].value, label) if view.has("on") else []
    ctx.trigger_spans[block.name] = [span for _, span in on]
    default_retry = read_policy(ctx, view, label)
    params = typed_ports(ctx, view.ports.get("params"), "param", infer_from_default=True)
    for p in params:
        problem = python_name_problem(p.name, "param")
        if problem:
            ctx.error(codes.BAD_NAME, problem, p.span)
        elif on and p.required:  # a triggered run is given no params
            ctx.error(codes.TRIGGERED_PARAM, f"graph `{block.name}` is `on` {', '.join(f'`{t.label}`' for t, _ in on)}, "
                      f"and a triggered run is given no params, but param `{p.name}` has no default", p.span,
                      hint=f"give it a default: {p.name}: {p.type} = ...")
    # A declared param that failed to lower (bad type or default) maps to None: it
    # already has its diagnostic, so a use of it is not also reported as unknown.
    declared = view.ports.get("params")
    param_by_name: dict[str, ir.Param | None] = {d.name: None for d in (declared.ports if declared else [])}
    param_by_name.update({p.name: p for p in params})

    stmts = _unique_steps(ctx, view.statements)
    step_nodes: dict[str, ir.Node | None] = {}
    for stmt in stmts.values():
        node_entry = symbols.lookup(ctx, "node", stmt.node.dotted, stmt.node.span)
        step_nodes[stmt.name] = nodes.get(stmt.node.dotted) if node_entry else None
    if block.origin == "exosphere":  # a graph template as it is: implicit fan-out, string-encoded values
        stmts = lower_template(ctx, stmts, step_nodes)
    mapped = {name: any(_is_each(a.value) for a in stmt.args) for name, stmt in stmts.items()}
    lines = _fan_out_lines(stmts, step_nodes)

    steps, upstream = [], {}
    for stmt in stmts.values():
        step, upstream[stmt.name] = _lower_step(ctx, stmt, step_nodes, mapped, param_by_name, stmts, input_defaults, block.name, lines,
                                                template=block.origin == "exosphere")
        if step is not None:
            if default_retry is not None and (node_retries or {}).get(step.node) is None:
                step = step.with_changes({"retry": default_retry})
            steps.append(step)

    # Cycles are looked for among all steps, broken ones included.
    spans = {name: stmt.span for name, stmt in stmts.items()}
    for cycle in find_cycles(list(upstream), upstream):
        ctx.error(codes.CYCLE, "cycle between steps: " + " -> ".join(cycle), spans[cycle[0]], hint="a step cannot depend, directly or through others, on itself")

    if ctx.errors_since(start):
        return None
    return ir.Graph(
        name=block.name,
        schedule=schedule,
        workers=workers,
        params=[
            ir.Param(name=p.name, type=p.type, default=None if p.required else p.default, required=p.required, span=ctx.ir_span(p.span))
            for p in params
        ],
        steps=steps,
        order=topological_order(list(upstream), upstream),
        tags=view.get("tags", []),
        triggers=[t.with_changes({"span": ctx.ir_span(span)}) for t, span in on],
        span=ctx.ir_span(block.span),
    )


def _unique_steps(ctx: Context, statements: list) -> dict[str, ast.StepStmt]:
    out: dict[str, ast.StepStmt] = {}
    for stmt in statements:
        if stmt.name in out:
            ctx.error(codes.DUPLICATE_MEMBER, f"step `{stmt.name}` is defined twice (first at line {out[stmt.name].span.line})", stmt.span)
            continue
        problem = airflow_id_problem(stmt.name, "step name")
        if stmt.name in RESERVED_STEP_NAMES:
            problem = f"`{stmt.name}` is reserved (`params.NAME` refers to graph params); rename the step"
        if problem:
            ctx.error(codes.BAD_NAME, problem, stmt.span)
        out[stmt.name] = stmt
    return out


def _lower_step(ctx, stmt: ast.StepStmt, step_nodes, mapped, params, stmts, input_defaults, graph_name: str,
                lines: dict[str, list[str]], template: bool) -> tuple[ir.Step | None, list[str]]:
    """The step (None after reporting a problem) and the steps it waits for."""
    node = step_nodes[stmt.name]
    defaults = input_defaults.get(node.name, {}) if node else {}
    start = ctx.mark()
    upstream: set[str] = set()
    for ref in stmt.after:
        name = ref.dotted
        if name in stmts:
            upstream.add(name)
        else:
            ctx.error(codes.UNKNOWN_STEP, f"unknown step `{name}` in `after`", ref.span, hint=did_you_mean(name, stmts))

    trigger = "all_success"
    if stmt.trigger is not None:
        trigger = stmt.trigger.value.lower()
        if trigger not in TRIGGERS:
            ctx.error(codes.BAD_VALUE, f"unknown trigger {stmt.trigger.value!r}", stmt.trigger.span, hint="`after all_done` (run whatever upstream did) or the default all_success")

    fanned = [a for a in stmt.args if _is_each(a.value)]
    if len(fanned) > 1 and not _one_line(fanned, stmts, lines):
        ctx.error(codes.SEVERAL_EACH, f"step `{stmt.name}` fans out over {len(fanned)} lists that need not pair up",
                  fanned[1].value.span, hint="fan out over outputs of one step, or of steps each mapped over the one before "
                  "(their elements pair up); or zip the lists in an upstream step")

    inputs_by_name = {p.name: p for p in node.inputs} if node else {}
    bound: dict[str, ir.StepInput] = {}
    seen_args: set[str] = set()
    for arg in stmt.args:
        if arg.name in seen_args:
            ctx.error(codes.DUPLICATE_MEMBER, f"input `{arg.name}` is given twice to step `{stmt.name}`", arg.span)
            continue
        seen_args.add(arg.name)
        port = inputs_by_name.get(arg.name)
        if node is not None and port is None:
            ctx.error(codes.UNKNOWN_INPUT, f"node `{node.name}` has no input `{arg.name}`", arg.span, hint=did_you_mean(arg.name, inputs_by_name))
        pick, expr = _unwrap_call(ctx, arg.value)
        if expr is None:
            continue
        each = pick == "each"
        source = _source(ctx, expr, params, stmts, step_nodes, mapped)
        if source is None:
            continue
        if source.upstream:
            upstream.add(source.upstream)
        if isinstance(source.binding, ir.TriggerRef) and pick == "last":
            ctx.error(codes.BAD_ARGUMENT, "last() reads a list of this graph: last(STEP.OUTPUT) or last(params.NAME)", arg.value.span,
                      hint=f"record the element as an output of a step of graph `{source.binding.graph}`, and read that output")
            continue
        if isinstance(source.binding, ir.TriggerRef):  # typed once every graph is lowered (triggers.py)
            ctx.trigger_uses.append(TriggerUse(graph_name, stmt.name, arg, expr, each, source.binding, port, node))
            if port is not None:
                bound[arg.name] = ir.StepInput(name=arg.name, binding=source.binding, each=each, type=port.type)
            continue
        if port is None:
            continue
        if _check_types(ctx, arg, pick, expr, source, port, node, template):
            bound[arg.name] = ir.StepInput(name=arg.name, binding=source.binding, each=each, last=pick == "last", type=port.type)

    if node is not None:
        for p in node.inputs:
            if p.name not in seen_args and p.name in defaults:
                bound[p.name] = ir.StepInput(name=p.name, binding=ir.LiteralValue(value=defaults[p.name]), type=p.type)
        missing = [p.name for p in node.inputs if p.name not in seen_args and p.name not in defaults]
        if missing:
            names = ", ".join(f"`{m}`" for m in missing)
            ctx.error(codes.MISSING_INPUT, f"step `{stmt.name}` does not give required input{'s' if len(missing) > 1 else ''} {names} of node `{node.name}`", stmt.span)
    if node is None or ctx.errors_since(start):
        return None, sorted(upstream)
    return ir.Step(
        id=stmt.name,
        node=node.name,
        inputs=[bound[p.name] for p in node.inputs if p.name in bound],
        upstream=sorted(upstream),
        trigger=trigger,
        mapped=mapped[stmt.name],
        span=ctx.ir_span(stmt.span),
    ), sorted(upstream)


def _is_each(expr) -> bool:
    return isinstance(expr, ast.Call) and expr.func == "each"


def _each_step(expr, stmts) -> str | None:
    """The step whose output `each(STEP.OUTPUT)` reads; None for a param or anything else."""
    ref = expr.args[0] if expr.args else None
    if isinstance(ref, ast.Ref) and len(ref.parts) in (2, 3) and ref.parts[0] in stmts:
        return ref.parts[0]
    return None


def _fan_out_lines(stmts: dict[str, ast.StepStmt], step_nodes) -> dict[str, list[str]]:
    """{step: the steps whose lists its outputs' lists pair up with, itself first, nearest next}.

    A mapped step that is not a fanout node runs once per element of the list it maps over and only drops
    pruned elements, so its lists are a sub-sequence of that list: element by element the same elements
    when the lengths agree (a difference is caught at run time). A fanout node's list, mapped or not, and
    an unmapped step's start a line of their own. Several each() inputs may read steps of one line.
    """
    lines: dict[str, list[str]] = {}

    def line(name: str, seen: frozenset) -> list[str]:
        if name in lines:
            return lines[name]
        node = step_nodes.get(name)
        over = [_each_step(a.value, stmts) for a in stmts[name].args if _is_each(a.value)]
        out = [name]
        if over and None not in over and not (node is not None and node.fanout) and not seen & set(over):
            longest = max((line(o, seen | {name}) for o in dict.fromkeys(over)), key=len)
            out += longest
        lines[name] = out
        return out

    for name in stmts:
        line(name, frozenset({name}))
    return lines


def _one_line(fanned, stmts, lines) -> bool:
    """Whether the each() inputs `fanned` read steps of one line (_fan_out_lines), whose lists pair up."""
    steps = [_each_step(a.value, stmts) for a in fanned]
    if None in steps:
        return False
    longest = max((lines.get(s, [s]) for s in steps), key=len)
    return all(s in longest for s in steps)


# The functions a step argument may call: each() fans the step out over a list, last() reads its last element.
CALLS = ("each", "last")


def _unwrap_call(ctx: Context, expr):
    """(the function called, or None; the inner expression); (None, None) after reporting a bad call."""
    if not isinstance(expr, ast.Call):
        return None, expr
    if expr.func not in CALLS:
        ctx.error(codes.BAD_ARGUMENT, f"unknown function `{expr.func}`", expr.span,
                  hint="each(LIST) fans the step out over a list; last(LIST) reads its last element")
        return None, None
    if len(expr.args) != 1 or not isinstance(expr.args[0], ast.Ref):
        ctx.error(codes.BAD_ARGUMENT, f"{expr.func}() takes one reference: {expr.func}(STEP.OUTPUT) or {expr.func}(params.NAME)", expr.span)
        return None, None
    return expr.func, expr.args[0]


def _source(ctx, expr, params, stmts, step_nodes, mapped) -> _Source | None:
    """What an argument is bound to; None after reporting an unknown reference."""
    if not isinstance(expr, ast.Ref):
        try:
            value = literal(expr)
        except NotLiteral:
            ctx.error(codes.BAD_ARGUMENT, f"{describe(expr)} cannot be a step argument", expr.span)
            return None
        return _Source(ir.LiteralValue(value=value), None, "literal")
    parts = list(expr.parts)
    if len(parts) == 3 and parts[1] == "outputs":  # Exosphere's `${{ load.outputs.rows }}`
        parts = [parts[0], parts[2]]
    if parts[0] == "params" and len(parts) == 2:
        param = params.get(parts[1])
        if param is None and parts[1] in params:
            return None  # declared, but broken: reported at its declaration
        if param is None:
            ctx.error(codes.UNKNOWN_PARAM, f"unknown param `{parts[1]}`", expr.span, hint=did_you_mean(parts[1], params))
            return None
        return _Source(ir.ParamRef(param=param.name), param.type, f"params.{param.name}")
    other = trigger_parts(parts) if parts[0] not in stmts and parts[0] != "params" else None
    if other is not None:  # GRAPH.STEP.OUTPUT: the output that triggered this run (`on`)
        graph, step, output = other
        return _Source(ir.TriggerRef(graph=graph, step=step, output=output), None, ".".join(other))
    if len(parts) != 2:
        ctx.error(
            codes.BAD_ARGUMENT,
            f"`{expr.dotted}` is not a value a step can take",
            expr.span,
            hint="write a literal, params.NAME, STEP.OUTPUT, GRAPH.STEP.OUTPUT (a graph it is `on`) or each(STEP.OUTPUT)",
        )
        return None
    step_name, output = parts
    if step_name not in stmts:
        ctx.error(codes.UNKNOWN_STEP, f"unknown step `{step_name}`", expr.span, hint=did_you_mean(step_name, list(stmts) + ["params"]))
        return None
    node = step_nodes[step_name]
    if node is None:  # its node is unknown or broken: reported there
        return _Source(ir.OutputRef(step=step_name, output=output), None, expr.dotted, upstream=step_name)
    declared = {p.name: p.type for p in node.outputs}
    if output not in declared:
        ctx.error(codes.UNKNOWN_OUTPUT, f"step `{step_name}` (node `{node.name}`) has no output `{output}`", expr.span, hint=did_you_mean(output, declared))
        return None
    seen = f"list[{declared[output]}]" if (mapped[step_name] or node.fanout) else declared[output]
    return _Source(ir.OutputRef(step=step_name, output=output), seen, f"{step_name}.{output}", upstream=step_name)


def check_trigger_types(ctx, use: TriggerUse, recorded_type: str) -> bool:
    """Whether the output a trigger-bound input reads (of type `recorded_type`) fits the input, after reporting."""
    source = _Source(use.binding, recorded_type, use.expr.dotted)
    return _check_types(ctx, use.arg, "each" if use.each else None, use.expr, source, use.port, use.node)


def _check_types(ctx, arg: ast.StepArg, pick: str | None, expr, source: _Source, port: ir.Port, node: ir.Node,
                 template: bool = False) -> bool:
    """Whether what `arg` reads (`source`, through each() or last() when `pick` names one) fits `port`, after reporting.
    `template`: an Exosphere graph template's step, whose hints speak of the template, not of .rt's each()."""
    target = f"input `{port.name}` of node `{node.name}`"
    if isinstance(source.binding, ir.LiteralValue):
        if pick:
            return False  # a call of a literal is rejected in _unwrap_call
        problem = check_value(source.binding.value, port.type, "the literal")
        if problem:
            ctx.error(codes.TYPE_MISMATCH, f"type mismatch: {target} is {port.type}, but {problem}", expr.span)
            return False
        return True
    if source.type is None:
        return False
    fed = source.type
    if pick:
        element = types.element_type(source.type)
        if element is None:
            ctx.error(codes.EACH_NOT_LIST, f"{pick}() needs a list, but `{source.label}` is {source.type}", expr.span, hint=f"pass it directly: {arg.name} = {source.label}")
            return False
        fed = element
    if not types.is_assignable(fed, port.type):
        shown = f"{pick}({source.label})" if pick else source.label
        hint = None
        element = types.element_type(fed)
        if not pick and element is not None and types.is_assignable(element, port.type) and template:
            hint = (f"a template's `${{{{ STEP.outputs.NAME }}}}` hands the value whole, here {fed}: declare node "
                    f"`{node.name}`'s input as `{port.name}: {fed}` (not {port.type}); to run the step once per element, "
                    "return the elements from a fanout node (Exosphere's fan-out)")
        elif not pick and element is not None and types.is_assignable(element, port.type):
            hint = f"fan out over the list: {arg.name} = each({source.label})"
        ctx.error(codes.TYPE_MISMATCH, f"type mismatch: `{shown}` is {fed}, but {target} is {port.type}", expr.span, hint=hint)
        return False
    return True

