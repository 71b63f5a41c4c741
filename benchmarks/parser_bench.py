"""Issue 18, part 5: the `.rt` readers side by side; does Lark alone keep the compile goals?

Readers, each turning source text into the same syntax tree (`rtc.dsl.ast`, spans included;
the benchmark checks that the trees are equal before timing anything):

- `fast`: `rtc.dsl.fast_parser` (the hand-written reader `rtc.dsl.parse_text` tries first);
- `lark-tree`: `rtc.dsl.parser.parse_rt_with_lark` as it is (Lark LALR, `propagate_positions`,
  a parse tree, then `_AstBuilder.transform`), tables built at start-up;
- `lark-inline`: Lark's fastest honest setup: LALR, the tables loaded from a prebuilt cache file
  (`cache=PATH`, written by the warm-up), and `_AstBuilder`'s rule methods applied *during* the
  parse (`transformer=`). Lark refuses `v_args(meta=True)` in an inline transformer, so the rule
  methods get their positions from their children instead: `keep_all_tokens=True` keeps the
  punctuation, and a rule's span runs from its first child's start to its last child's end
  (what `propagate_positions` computes); no parse tree, no second pass;
- `lark-floor` (parse only, for scale): Lark LALR from the same cached tables, no transformer, no
  positions: what Lark's lexer and parser cost before any syntax tree is built (its bare Tree);
- `standalone`: the same inline transformer over Lark's standalone generator
  (`python -m lark.tools.standalone`: a module holding serialized tables; `lark` itself is
  never imported, the generated module stands in for it).

Figures (medians, CPU seconds of `time.process_time`; wall seconds for `rtc check`):

1. parse only, in this process, of `compile_bench.generate(n)` for 1,000 and 10,000 nodes
   (under `rtc.compiler.fewer_collections()`, as `compile_file` parses);
2. start-up: a fresh process that imports the reader, builds it and reads a small file
   (examples/tyger/pipeline.rt), CPU of the whole process;
3. end to end: `compile_bench.py`'s child (load, check, lower, render) for every target with
   each reader installed, a fresh process per compile, CPU; goal < 4 s at 10,000 nodes;
4. `rtc check` of the small file, first run (the check cache emptied), a fresh `rtc` process
   per run through the same launcher for every reader, wall; goal < 0.12 s. For scale, the
   installed `rtc` script on the same file is timed in the same rounds.

    .venv/bin/python benchmarks/parser_bench.py [--runs 3] [--sizes 1000 10000] [--check-repeat 7]
                                                [--targets ir airflow prefect] [--skip-compile]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SMALL = REPO / "examples" / "tyger" / "pipeline.rt"
READERS = ("fast", "lark-tree", "lark-inline", "standalone")

# What `parse_tree_builder` keeps of a rule's children when tokens are not all kept: the named
# terminals. Every other token (punctuation, keywords) is dropped before `_AstBuilder`'s method
# sees the children, as Lark drops it in the tree it builds.
_KEPT = frozenset({"NAME", "NUMBER", "STRING", "LONG_STRING", "READONLY"})
# Rules whose optional parts leave placeholders: with every token kept, `["->" NUMBER]` leaves
# two Nones, not one, so these take their arguments by position in the full list of children.
_BY_POSITION = {
    "mount_stmt": (1, 3, 4),  # "mount" STRING "->" STRING [READONLY]
    "expose_stmt": (1, 3, 5, 7),  # "expose" NUMBER ["->" NUMBER] ["on" STRING] ["service" STRING]
    "port_decl": (0, 2, 4),  # NAME ":" type ["=" expr]
}


class _Meta:
    """What `_AstBuilder._span` reads of Lark's `meta`."""

    __slots__ = ("line", "column", "end_line", "end_column", "empty")


def _start(child) -> tuple[int, int]:
    if hasattr(child, "type") and hasattr(child, "column"):  # a Token
        return child.line, child.column
    span = child[-1] if isinstance(child, tuple) else child.span  # (text, span), (kind, payload, span)
    return span.line, span.col


def _end(child) -> tuple[int, int]:
    if hasattr(child, "type") and hasattr(child, "end_column"):
        return child.end_line, child.end_column
    span = child[-1] if isinstance(child, tuple) else child.span
    return span.end_line, span.end_col


def _meta(children: list) -> _Meta:
    meta = _Meta()
    present = [c for c in children if c is not None]
    meta.empty = not present
    if present:
        meta.line, meta.column = _start(present[0])
        meta.end_line, meta.end_column = _end(present[-1])
    return meta


def inline_builder_class():
    """`_AstBuilder` with one plain method per rule (children -> node), for `Lark(transformer=...)`."""
    from lark import Token

    from rtc.dsl.parser import _AstBuilder

    def method(rule: str, base):
        if rule in _BY_POSITION:
            where = _BY_POSITION[rule]

            def callback(self, children):
                return base(self, _meta(children), *[children[i] for i in where])
        elif rule == "block":  # block_kind NAME "{" _body "}": the kind is a keyword token, kept

            def callback(self, children):
                return base(self, _meta(children), children[0], children[1], *children[3:-1])
        elif rule == "block_kind":

            def callback(self, children):
                return base(self, _meta(children), children[0])
        else:

            def callback(self, children):
                kept = [c for c in children if not (isinstance(c, Token) and c.type not in _KEPT)]
                return base(self, _meta(children), *kept)

        callback.__name__ = rule
        return callback

    methods = {
        name: method(name, attr.base_func)
        for name, attr in vars(_AstBuilder).items()
        if not name.startswith("_") and hasattr(attr, "base_func")
    }
    return type("InlineAstBuilder", (_AstBuilder,), methods)


def _finish(builder, module):
    from rtc.dsl import parser  # its CompileError, wherever the diagnostics module lives

    if builder.diagnostics:
        raise parser.CompileError(parser.sorted_diagnostics(builder.diagnostics))
    return module


def lark_inline_reader(cache: str):
    """parse(text, file) over Lark LALR with cached tables and the transformer applied during the parse."""
    from lark import Lark

    builder = inline_builder_class()("<text>")
    lark = Lark.open_from_package(
        "rtc.grammars", "rtc.lark", parser="lalr", maybe_placeholders=True, keep_all_tokens=True,
        transformer=builder, cache=cache,
    )

    def parse(text: str, file: str):
        builder.file, builder.diagnostics = file, []
        return _finish(builder, lark.parse(text))

    return parse


def standalone_reader(module_path: str):
    """parse(text, file) over the standalone module at `module_path` (it stands in for `lark`)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("rtc_lark_standalone", module_path)
    standalone = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(standalone)
    if "rtc.dsl.parser" not in sys.modules:  # its `from lark import ...` gets the standalone's classes
        sys.modules["lark"] = sys.modules["lark.exceptions"] = standalone
    builder = inline_builder_class()("<text>")
    parser = standalone.Lark_StandAlone(transformer=builder)

    def parse(text: str, file: str):
        builder.file, builder.diagnostics = file, []
        return _finish(builder, parser.parse(text))

    return parse


def reader(name: str, cache: str = "", standalone: str = ""):
    """parse(text, file) -> Module for one of READERS (building it: this is start-up)."""
    if name == "fast":
        from rtc.dsl.fast_parser import try_parse

        return try_parse
    if name == "lark-tree":
        from rtc.dsl.parser import _lark, parse_rt_with_lark

        _lark()
        return parse_rt_with_lark
    if name == "lark-inline":
        return lark_inline_reader(cache)
    if name == "standalone":
        return standalone_reader(standalone)
    if name == "lark-floor":
        from lark import Lark

        lark = Lark.open_from_package("rtc.grammars", "rtc.lark", parser="lalr", cache=cache + ".floor")
        return lambda text, file: lark.parse(text)
    raise ValueError(name)


def install(name: str) -> None:
    """Make `rtc.dsl.parse_text` read `.rt` files with reader `name` only (no fast path but for `fast`)."""
    if name == "fast":
        return
    parse = reader(name, os.environ.get("PB_CACHE", ""), os.environ.get("PB_STANDALONE", ""))
    import rtc.dsl.fast_parser
    import rtc.dsl.parser

    rtc.dsl.fast_parser.read_with_depth = lambda text, file: None
    rtc.dsl.parser.parse_rt_with_lark = parse
    rtc.dsl.parser.parse_rt = parse


def child_startup() -> None:
    """In a fresh process: build reader argv[2], read the small file; print the process's CPU seconds."""
    parse = reader(sys.argv[2], os.environ.get("PB_CACHE", ""), os.environ.get("PB_STANDALONE", ""))
    module = parse(SMALL.read_text(encoding="utf-8"), str(SMALL))
    assert module is not None and module.blocks
    print(time.process_time())


# ---------------------------------------------------------------- the benchmark


def _prepare(folder: Path) -> dict[str, str]:
    """Write the standalone module and the cache file; the environment the children need."""
    import subprocess

    standalone = folder / "rtc_lark_standalone.py"
    subprocess.run(
        [sys.executable, "-m", "lark.tools.standalone", "--maybe_placeholders", "--keep_all_tokens",
         "-o", str(standalone), str(REPO / "grammars" / "rtc.lark")],
        check=True,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PB_CACHE=str(folder / "rtc-lark.cache"), PB_STANDALONE=str(standalone), PYTHONHASHSEED="0")
    lark_inline_reader(env["PB_CACHE"])  # writes the table cache
    return env


def _same_trees(readers: dict, texts: dict[str, str]) -> None:
    for label, text in texts.items():
        trees = {name: parse(text, label) for name, parse in readers.items()}
        reference = trees["lark-tree"]
        for name, tree in trees.items():
            if tree != reference:
                raise SystemExit(f"{name} builds a different tree than lark-tree for {label}")


def main() -> int:
    import argparse
    import statistics
    import subprocess
    import tempfile

    sys.path.insert(0, str(HERE))
    from bench_util import RTC, interleaved, load, median, timed
    from compile_bench import CHILD, TARGETS, generate

    from rtc.compiler import fewer_collections

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="repetitions of each parse and compile")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    ap.add_argument("--check-repeat", type=int, default=7)
    ap.add_argument("--startup-repeat", type=int, default=7)
    ap.add_argument("--skip-compile", action="store_true", help="no end-to-end compiles (the slowest part)")
    args = ap.parse_args()
    print(f"before: {load()}")
    with tempfile.TemporaryDirectory(prefix="rtc-parser-bench-") as tmp:
        folder = Path(tmp)
        env = _prepare(folder)
        os.environ.update(PB_CACHE=env["PB_CACHE"], PB_STANDALONE=env["PB_STANDALONE"])
        # In this process: every reader but the standalone one (it would stand in for `lark` here).
        readers = {name: reader(name, env["PB_CACHE"]) for name in READERS if name != "standalone"}
        floor = reader("lark-floor", env["PB_CACHE"])
        sources = {f"{n} nodes": generate(n) for n in args.sizes}
        examples = {str(p): p.read_text(encoding="utf-8") for p in sorted((REPO / "examples").rglob("*.rt"))}
        _same_trees(readers, {**examples, **{k: v for k, v in sources.items() if len(v) < 2_000_000}})
        check_standalone = (
            "import sys; sys.path.insert(0, %r); import parser_bench as pb; parse = pb.reader('standalone', "
            "standalone=%r); ref = pb.reader('fast'); import pathlib\n"
            "for p in sys.argv[1:]:\n"
            "    t = pathlib.Path(p).read_text(); assert parse(t, p) == ref(t, p), p\n"
        ) % (str(HERE), env["PB_STANDALONE"])
        subprocess.run([sys.executable, "-c", check_standalone, *examples], check=True, env=env)
        print("trees: every reader builds the same tree for every example and the generated programs")

        # 1. parse only, in process
        parse_cpu: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.runs):
            for n, (label, text) in zip(args.sizes, sources.items()):
                for name, parse in [*readers.items(), ("lark-floor", floor)]:
                    with fewer_collections():
                        began = time.process_time()
                        parse(text, label)
                        parse_cpu.setdefault((name, n), []).append(time.process_time() - began)
        # the standalone reader, in a child per size
        for n, text in zip(args.sizes, sources.values()):
            path = folder / f"gen{n}.rt"
            path.write_text(text, encoding="utf-8")
            code = (
                "import sys, time; sys.path.insert(0, %r); import parser_bench as pb\n"
                "parse = pb.reader('standalone', standalone=%r)\n"
                "from rtc.compiler import fewer_collections\n"
                "text = open(sys.argv[1]).read()\n"
                "for _ in range(%d):\n"
                "    with fewer_collections():\n"
                "        t = time.process_time(); parse(text, sys.argv[1]); print(time.process_time() - t)\n"
            ) % (str(HERE), env["PB_STANDALONE"], args.runs)
            out = subprocess.run([sys.executable, "-c", code, str(path)], check=True, env=env, capture_output=True, text=True)
            parse_cpu[("standalone", n)] = [float(x) for x in out.stdout.split()]

        # 2. start-up: import + build + read the small file, fresh process, CPU
        startup: dict[str, list[float]] = {name: [] for name in READERS}
        startup_code = "import sys; sys.path.insert(0, %r); import parser_bench; parser_bench.child_startup()" % str(HERE)
        for round_ in range(args.startup_repeat + 1):
            for name in READERS:
                out = subprocess.run([sys.executable, "-c", startup_code, "startup", name], check=True, env=env,
                                     capture_output=True, text=True)
                if round_:  # the first round warms the bytecode caches
                    startup[name].append(float(out.stdout.strip()))

        # 3. end to end, CPU, a fresh process per compile
        compiles: dict[tuple[str, int, str], list[float]] = {}
        compile_readers = ("fast", "lark-tree", "lark-inline", "standalone")
        if not args.skip_compile:
            prefix = "import os, sys; sys.path.insert(0, %r); import parser_bench; parser_bench.install(os.environ['PB_MODE'])\n" % str(HERE)
            for _ in range(args.runs):
                for n in args.sizes:
                    for target in args.targets:
                        for name in compile_readers:
                            done = subprocess.run(
                                [sys.executable, "-c", prefix + CHILD, str(folder / f"gen{n}.rt"), target],
                                env={**env, "PB_MODE": name}, capture_output=True, text=True,
                            )
                            if done.returncode != 0:
                                raise SystemExit(f"{name} {n} {target}:\n{done.stderr}")
                            r = __import__("json").loads(done.stdout.strip().splitlines()[-1])
                            compiles.setdefault((name, n, target), []).append(r)

        # 4. rtc check, first run, wall
        home = folder / "home"
        check_env = {**env, "RTC_HOME": str(home)}
        launcher = (
            "import os, sys; sys.path.insert(0, %r); import parser_bench; parser_bench.install(os.environ['PB_MODE']); "
            "from rtc.cli import main; sys.exit(main())" % str(HERE)
        )

        def first_check(name: str):
            def run() -> float:
                import shutil

                shutil.rmtree(home / "cache" / "check", ignore_errors=True)
                argv = [*RTC, "check", str(SMALL)] if name == "rtc" else [sys.executable, "-c", launcher, "check", str(SMALL)]
                return timed(argv, env={**check_env, "PB_MODE": name if name != "rtc" else "fast"})

            return run

        checks = interleaved({name: first_check(name) for name in ("rtc", *READERS)}, args.check_repeat)
    print(f"after:  {load()}")

    # -- report
    med = statistics.median
    print(f"\n1. parse only (CPU s, median of {args.runs}; ratio to fast)")
    for n in args.sizes:
        fast = med(parse_cpu[("fast", n)])
        print(f"  {n:>6} nodes: " + "  ".join(
            f"{name} {med(parse_cpu[(name, n)]):.3f} ({med(parse_cpu[(name, n)]) / fast:.1f}x)"
            for name in (*READERS, "lark-floor")))
    print(f"\n2. start-up: import + build + read {SMALL.name}, whole process CPU s (median of {args.startup_repeat})")
    fast = med(startup["fast"])
    print("  " + "  ".join(f"{name} {med(v):.3f} (+{med(v) - fast:.3f})" for name, v in startup.items()))
    if compiles:
        print(f"\n3. end to end compile, CPU s (median of {args.runs}): parse + check + render = total; goal < 4 s at 10,000")
        for n in args.sizes:
            for target in args.targets:
                cells = []
                for name in compile_readers:
                    runs = compiles[(name, n, target)]
                    parse, check, render = (med(r[k] for r in runs) for k in ("parse", "check", "render"))
                    cells.append(f"{name} {parse:.2f}+{check:.2f}+{render:.2f}={parse + check + render:.2f}")
                print(f"  {n:>6} {target:>8}: " + "  ".join(cells))
    print(f"\n4. rtc check {SMALL.relative_to(REPO)}, first run, wall s (median of {args.check_repeat}); goal < 0.12 s")
    print("  " + "  ".join(f"{name} {median(v):.3f}" for name, v in checks.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
