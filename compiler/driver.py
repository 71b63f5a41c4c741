"""The compiler driver: load, check and lower a file; see the package docstring for the passes."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from pathlib import Path

from rtc.compiler import codes, ir
from rtc.compiler.context import Context
from rtc.base.diagnostics import CompileError, Span
from rtc.compiler.lower_env import lower_env
from rtc.compiler.lower_graph import lower_graph
from rtc.compiler.lower_node import lower_node
from rtc.compiler.lower_tyger import lower_codespec, lower_run
from rtc.compiler.resolve import build_symbols
from rtc.compiler.validate import airflow_id_problem, tag_problem

__all__ = ["CompileError", "compile_file", "compile_modules", "fewer_collections"]


def compile_file(path: str) -> ir.Pipeline:
    """Parse `path` and the files it imports, check them, and lower them to the IR."""
    from rtc.dsl import load_modules

    with fewer_collections():
        return compile_modules(load_modules(str(path)), str(path))


@contextmanager
def fewer_collections():
    """Run the cyclic garbage collector less often while compiling.

    Parsing and lowering allocate many small objects that stay alive until
    the end; with the default thresholds the collector re-scans them over and
    over, which made compile time grow faster than the file (measured in
    benchmarks/compile_bench.py: check + lower went from ~100 to ~300 us per
    node between 1,000 and 10,000 nodes; with this, ~70 us at both sizes).
    """
    old = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def compile_modules(modules, source: str) -> ir.Pipeline:
    """Check and lower parsed modules (the main file first); `source` is the main file as given."""
    ctx = Context(source)
    main = modules[0]
    namespace = main.namespace or Path(main.file).stem
    problem = airflow_id_problem(namespace, "namespace")
    if problem:
        ctx.error(codes.BAD_NAME, problem, main.namespace_span or Span(main.file, 1, 1), hint="set one with `namespace NAME`" if not main.namespace else None)
    # Both become DAG tags (`<namespace>`, `source:<file name>`), which Airflow caps.
    problem = tag_problem(namespace, "the namespace") or tag_problem(f"source:{Path(source).name}", "the tag source:<file name>")
    if problem:
        ctx.error(codes.TAG_TOO_LONG, problem, main.namespace_span or Span(main.file, 1, 1), hint="use a shorter namespace or file name")

    symbols = build_symbols(ctx, modules)

    nodes: dict[str, ir.Node] = {}
    input_defaults: dict[str, dict] = {}
    node_retries: dict[str, ir.RetryPolicy | None] = {}
    for entry in symbols.entries("node"):
        node, defaults, retry = lower_node(ctx, entry, symbols)
        if node is not None:
            nodes[node.name] = node
            input_defaults[node.name] = defaults
            node_retries[node.name] = retry
    python_envs = {node.env for node in nodes.values() if node.python is not None}

    environments = {}
    for entry in symbols.entries("env"):
        env = lower_env(ctx, entry, namespace, python=entry.block.name in python_envs)
        if env is not None:
            environments[env.name] = env

    graphs = {}
    broken = set()
    for entry in symbols.entries("graph"):
        graph = lower_graph(ctx, entry, symbols, nodes, input_defaults, node_retries)
        if graph is not None:
            graphs[graph.name] = graph
        else:
            broken.add(entry.block.name)
    if ctx.trigger_uses or any(g.triggers for g in graphs.values()):
        from rtc.compiler.triggers import check_triggers

        for name in check_triggers(ctx, symbols, graphs, nodes, ctx.trigger_spans, broken):
            graphs.pop(name, None)

    codespecs = {}
    for entry in symbols.entries("codespec"):
        block = entry.block
        spec = lower_codespec(ctx, block.name, block.items, block.span, f"codespec `{block.name}`")
        if spec is not None:
            codespecs[spec.name] = spec
    runs = {}
    for entry in symbols.entries("run"):
        run = lower_run(ctx, entry, symbols, codespecs)
        if run is not None:
            runs[run.name] = run

    ctx.bag.raise_if_any()
    return ir.Pipeline(
        namespace=namespace,
        source=source,
        environments=environments,
        nodes=nodes,
        graphs=graphs,
        codespecs=codespecs,
        runs=runs,
    )
