"""Exosphere graph templates (`Block.origin == "exosphere"`): their semantics, lowered to rtc's explicit forms.

Fan-out. In Exosphere a node that returns several outputs (a fanout node:
`execute` annotated `-> list[Outputs]`, or `fanout = true`) creates one state
per output, and every node after it runs once per state, until a node that
`unites` it (or a node inside the branch). rtc says so with `each()`: here a
step inside a fan-out branch gets `each(...)` around the one input it reads
from the branch, so it maps over the fanout node's list (or over the list a
mapped step before it returns). The uniting step is not mapped: what it reads
from the branch arrives as a list, rtc's fan-in, when its input's type takes
the list; an input that takes one value (Exosphere's `str`) gets `last(...)`,
the last element in map-index order, where Exosphere's state manager gives
the value of the branch that finished last.

A fanout node inside a fan-out branch runs once per element of the outer
fan-out, and its lists are concatenated (in the outer elements' order), so
the steps after it map over every inner output: Exosphere's nested states,
flattened. A branch step reads values of the innermost fan-out it is in:
outputs of one step, or of several steps each mapped after the one before
(each() zips their lists, which pair up element by element, as Exosphere
hands the step the fields of its own state and its ancestors'). What rtc
cannot express is E410: a branch step that reads no value of its branch
(Exosphere runs it once per output; rtc maps only over a list a step
reads); one that reads values of two steps of the branch that run side by
side (their lists need not pair up: each drops its own pruned elements);
one that reads a value of an outer fan-out inside an inner one (its list is
one per outer element); one in two fan-outs that are not nested; and a join
still inside another fan-out.

String values. Exosphere's v1 templates write every input as a string
("42", "true"); pydantic reads them by the field's type. A literal string
bound to an input that is not `str` is read as JSON when that gives a value
of the input's type (else it stays a string and the type check reports it).
"""

from __future__ import annotations

import json

from rtc.compiler import codes, ir, types
from rtc.compiler.context import Context
from rtc.compiler.order import topological_order
from rtc.runtime.contract import check_value
from rtc.dsl import ast


def lower_template(ctx: Context, stmts: dict[str, ast.StepStmt], step_nodes: dict[str, ir.Node | None]) -> dict[str, ast.StepStmt]:
    stmts = {name: _typed_strings(stmt, step_nodes.get(name)) for name, stmt in stmts.items()}
    return _fan_out(ctx, stmts, step_nodes)


def _typed_strings(stmt: ast.StepStmt, node: ir.Node | None) -> ast.StepStmt:
    if node is None:
        return stmt
    types = {p.name: p.type for p in node.inputs}
    args = []
    for arg in stmt.args:
        want = types.get(arg.name)
        if isinstance(arg.value, ast.Str) and want not in (None, "str", "json"):
            try:
                value = json.loads(arg.value.value)
            except ValueError:
                value = None
            if value is not None and check_value(value, want) is None:
                arg = ast.StepArg(arg.name, ast.literal_expr(value, arg.value.span), arg.span)
        args.append(arg)
    return ast.StepStmt(stmt.name, stmt.node, args, stmt.trigger, stmt.after, stmt.span, stmt.unites)


def _reads(stmt: ast.StepStmt, steps) -> list[tuple[int, ast.Ref]]:
    """(argument index, STEP.OUTPUT reference) of each argument that reads another step's output."""
    return [(i, a.value) for i, a in enumerate(stmt.args)
            if isinstance(a.value, ast.Ref) and len(a.value.parts) == 2 and a.value.parts[0] in steps]


def _ancestors(name: str, upstream: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    pending = list(upstream.get(name, ()))
    while pending:
        up = pending.pop()
        if up not in seen:
            seen.add(up)
            pending += upstream.get(up, ())
    return seen


def _fan_out(ctx: Context, stmts: dict[str, ast.StepStmt], step_nodes) -> dict[str, ast.StepStmt]:
    upstream = {name: sorted({r.parts[0] for _, r in _reads(s, stmts)} | {r.parts[0] for r in s.after if r.parts[0] in stmts})
                for name, s in stmts.items()}
    fanout = {name for name, node in step_nodes.items() if node is not None and node.fanout}
    branches: dict[str, set[str]] = {}
    ended: dict[str, set[str]] = {}  # uniting step -> the fanout steps whose branches it ends
    for name in topological_order(list(stmts), upstream):  # a cycle is reported by lower_graph; order is still total
        inside: set[str] = set()
        for up in upstream[name]:
            inside |= branches.get(up, set()) | ({up} if up in fanout else set())
        unites = stmts[name].unites
        if unites is not None:  # the join: the branches of what it unites end here
            before = set(inside)
            target = unites.parts[0]
            inside -= {target} | branches.get(target, set())
            # A fan-out after the united step ends here too: its branches all descend from the united step's one
            # state, which is what Exosphere's state manager waits on (every state whose parents hold that state),
            # so the uniting node runs once, after all of them, not once per output.
            inside -= {f for f in inside if target in _ancestors(f, upstream)}
            ended[name] = before - inside
        branches[name] = inside

    ancestors: dict[str, set[str]] = {}

    def ancestors_of(step: str) -> set[str]:
        if step not in ancestors:
            ancestors[step] = _ancestors(step, upstream)
        return ancestors[step]

    def innermost(fans: set[str]) -> str | None:
        """The fan-out of `fans` inside all the others (None: they are side by side, not nested)."""
        inner = [f for f in fans if all(g == f or g in ancestors_of(f) for g in fans)]
        return inner[0] if len(inner) == 1 else None

    def level(step: str) -> str | None:
        """The fan-out whose outputs the lists of `step`'s outputs follow; None for a step that runs once."""
        if step in fanout:
            return step  # mapped or not, its own list (a mapped one's: its elements' lists, concatenated)
        return innermost(branches[step]) if branches.get(step) else None

    out = dict(stmts)
    for name, stmt in stmts.items():
        inside = branches.get(name, set())
        if not inside:
            continue
        where = ", ".join(f"`{f}`" for f in sorted(inside))
        origin = innermost(inside)
        if origin is None:
            ctx.error(codes.TEMPLATE_FANOUT, f"step `{name}` is in the fan-outs of {where}, side by side; rtc maps a step "
                      "over one fan-out", stmt.span, hint="unite all but one of them before this step")
            continue
        if name in ended:  # it joins one fan-out but is still in another, which it would have to run once per output of
            ctx.error(codes.TEMPLATE_FANOUT, f"step `{name}` unites `{stmts[name].unites.parts[0]}` but is still in the "
                      f"fan-out of {where}; rtc cannot run a join once per output of another fan-out", stmt.span,
                      hint=f"unite `{origin}` too, or join in a step of its own")
            continue
        reads = [(i, r, level(r.parts[0])) for i, r in _reads(stmt, stmts)]
        outer = [(r, lv) for _, r, lv in reads if lv is not None and lv != origin and lv in inside]
        if outer:
            ref, lv = outer[0]
            ctx.error(codes.TEMPLATE_FANOUT,
                      f"step `{name}` runs once per output of fanout step `{origin}`, but reads `{ref.dotted}`, a value of "
                      f"the fan-out of `{lv}` around it; rtc pairs the values of one fan-out", ref.span,
                      hint=f"have a step of `{origin}`'s branch pass the value on as an output, and read that")
            continue
        in_branch = [(i, r) for i, r, lv in reads if lv == origin]
        steps = list(dict.fromkeys(r.parts[0] for _, r in in_branch))
        # Several steps of the branch: Exosphere hands the step the fields of its own state and its ancestors'.
        # rtc zips their lists, which pairs the same elements when each step is mapped over the one before
        # (lower_graph._fan_out_lines; a pruned element in between fails the step, naming the lengths).
        chain = sorted(steps, key=lambda s: len(ancestors_of(s)))
        if not in_branch or any(a not in ancestors_of(b) for a, b in zip(chain, chain[1:])):
            what = ("reads no output of that branch" if not in_branch
                    else f"reads values of steps {', '.join(f'`{s}`' for s in steps)} of that branch, which run side by side")
            ctx.error(codes.TEMPLATE_FANOUT,
                      f"step `{name}` runs once per output of fanout step `{origin}` in Exosphere, but {what}; "
                      "rtc maps a step over one list it reads", stmt.span,
                      hint=f"read values of one step of the branch (such as ${{{{ {origin}.outputs.NAME }}}}), "
                      f"or unite `{origin}` before this step")
            continue
        args = list(stmt.args)
        for i, ref in in_branch:
            args[i] = ast.StepArg(args[i].name, ast.Call("each", [ref], ref.span), args[i].span)
        out[name] = ast.StepStmt(stmt.name, stmt.node, args, stmt.trigger, stmt.after, stmt.span, stmt.unites)
    for name, origins in ended.items():
        out[name] = _pick_last(out[name], step_nodes, lambda step: step in origins or bool(branches.get(step, set()) & origins))
    return out


def _pick_last(stmt: ast.StepStmt, step_nodes, in_fan_out) -> ast.StepStmt:
    """A uniting step's inputs that read one value of the fan-out it ends (not its list) as `last(...)`.

    Exosphere fills such a field from one state, the branch that finished last; rtc reads the last element
    in map-index order, the same on every target and every run. An input whose type takes the whole list
    keeps rtc's fan-in.
    """
    node = step_nodes.get(stmt.name)
    if node is None:
        return stmt
    ports = {p.name: p.type for p in node.inputs}
    args = list(stmt.args)
    for i, ref in _reads(stmt, step_nodes):
        source = step_nodes.get(ref.parts[0])
        made = {p.name: p.type for p in source.outputs} if source is not None else {}
        element, port = made.get(ref.parts[1]), ports.get(args[i].name)
        if (not in_fan_out(ref.parts[0]) or element is None or port is None
                or types.is_assignable(f"list[{element}]", port) or not types.is_assignable(element, port)):
            continue
        args[i] = ast.StepArg(args[i].name, ast.Call("last", [ref], ref.span), args[i].span)
    return ast.StepStmt(stmt.name, stmt.node, args, stmt.trigger, stmt.after, stmt.span, stmt.unites)
