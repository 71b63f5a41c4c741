"""`rtc graph FILE [GRAPH] [--format mermaid|dot]`: a graph's steps and edges as a diagram."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "graph",
        help="print a graph as Mermaid or Graphviz DOT",
        description="Print the steps of GRAPH (default: every graph) and their edges as a Mermaid flowchart or a DOT digraph.",
    )
    p.add_argument("file", help="pipeline file")
    p.add_argument("graph", nargs="?", help="name of one graph (default: all)")
    p.add_argument("--format", "-f", choices=("mermaid", "dot"), default="mermaid")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rtc.compiler import compile_file
    from rtc.base.diagnostics import RtcError
    from rtc.compiler.diagram import render_dot, render_mermaid
    from rtc.compiler.suggest import did_you_mean

    pipeline = compile_file(args.file)
    if args.graph is not None and args.graph not in pipeline.graphs:
        known = sorted(pipeline.graphs)
        raise RtcError(f"{args.file} has no graph {args.graph!r}", hint=did_you_mean(args.graph, known) or ("graphs: " + ", ".join(known) if known else "it defines no graphs"))
    names = [args.graph] if args.graph else sorted(pipeline.graphs)
    if not names:
        raise RtcError(f"{args.file} defines no graphs", hint="codespecs and runs are not drawn")
    graphs = [pipeline.graphs[n] for n in names]
    render = render_mermaid if args.format == "mermaid" else render_dot
    sys.stdout.write(render(graphs))
    return 0
