"""Language server latency: from a change notification to the published diagnostics.

Starts `rtc lsp` as a real process, opens a generated pipeline of about 100,
1,000 and 5,000 lines (an env, nodes, one graph with a step per node), then
sends whole-document changes, each a new text: one edit kind changes a
node's command in the middle of the file, the other the graph's param
default. Each is timed from sending `didChange` to receiving
`publishDiagnostics` for the file (median and p95 over the changes).
Beside it, the same file checked in full: `rtc check FILE` as a process
(Python start and imports included, what a user runs) and `compile_file` in
this process (parse + check + lower, no start-up), both medians; and the
server's own check after the same edit in this process (`Project.check`:
unchanged blocks not re-parsed, no JSON-RPC, no debounce).

The server's debounce (`RTC_LSP_DEBOUNCE_MS`, default 30 ms) is part of the
measured latency; `--debounce-ms 0` shows the work alone. Goals (issue 21):
a median of at most 50 ms at 1,000 lines and 150 ms at 5,000.

Memory (`--cycles N`, default 100): one server opens, checks and closes N
documents (each a different file of `--cycle-lines` lines) one after the
other; its RSS (/proc/PID/status) after the first cycle and after the last.
Goal: back within 50 MB of the start.

    .venv/bin/python benchmarks/lsp_bench.py [--lines 100 1000 5000] [--changes 30] [--debounce-ms 30]
                                             [--cycles 100] [--cycle-lines 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient


def generate(lines: int) -> str:
    """A pipeline of about `lines` lines in the `rtc fmt` layout: an env, nodes, one graph using each node."""
    steps = max(2, lines // 8)  # a node is 6 lines and a blank one, its step one line
    out = ['env py { base = "python:3.11-slim" }', ""]
    for i in range(steps):
        out += [
            f"node N{i} {{",
            "  env     = py",
            "  inputs  { x: int, tag: str }",
            "  outputs { y: int }",
            f'  command = ["sh", "-c", "echo {i}"]',
            "}",
            "",
        ]
    out += ["graph big {", '  params { start: int = 1, tag: str = "t" }', ""]
    out.append("  s0 = N0(x = params.start, tag = params.tag)")
    out += [f"  s{i} = N{i}(x = s{i - 1}.y, tag = params.tag)" for i in range(1, steps)]
    out.append("}")
    return "\n".join(out) + "\n"


# What each change edits: a node in the middle of the file (the usual edit: one block re-parses),
# or the graph (its whole block re-parses; it holds a step per node).
EDITS = {
    "node": lambda text, i: text.replace('"echo 5"]', f'"echo 5 {i}"]', 1),
    "graph": lambda text, i: text.replace('tag: str = "t"', f'tag: str = "t{i}"', 1),
}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def lsp_latencies(folder: Path, text: str, edit, changes: int, debounce_ms: int) -> list[float]:
    client = LanguageClient("rtc-bench", "1")
    published: asyncio.Queue = asyncio.Queue()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams):
        published.put_nowait((time.perf_counter(), params))

    env = dict(os.environ, RTC_LSP_DEBOUNCE_MS=str(debounce_ms))
    await client.start_io(sys.executable, "-m", "rtc", "lsp", env=env)
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=folder.as_uri()))
    client.initialized(types.InitializedParams())
    uri = (folder / "pipeline.rt").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="rt", version=1, text=text)))
    _, first = await published.get()
    assert not first.diagnostics, first.diagnostics
    latencies = []
    for version in range(2, changes + 2):
        new_text = edit(text, version)
        sent = time.perf_counter()
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=new_text)]))
        received, params = await published.get()
        assert params.uri == uri and not params.diagnostics, params.diagnostics
        latencies.append(received - sent)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return latencies


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def memory_cycles(folder: Path, text: str, cycles: int) -> tuple[float, float, float, float]:
    """(RSS after the first cycle, after the last, the highest seen, seconds per cycle) over open/check/close cycles."""
    client = LanguageClient("rtc-bench", "1")
    published: asyncio.Queue = asyncio.Queue()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams):
        published.put_nowait(params)

    await client.start_io(sys.executable, "-m", "rtc", "lsp", env=dict(os.environ, RTC_LSP_DEBOUNCE_MS="0"))
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=folder.as_uri()))
    client.initialized(types.InitializedParams())
    pid = client._server.pid
    start = highest = 0.0
    began = time.perf_counter()
    for i in range(cycles + 1):
        uri = (folder / f"doc{i}.rt").as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="rt", version=1, text=text)))
        while (await published.get()).uri != uri:
            pass
        highest = max(highest, rss_mb(pid))
        client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
        while (await published.get()).uri != uri:
            pass
        if i == 0:
            start = rss_mb(pid)
            began = time.perf_counter()
    end = rss_mb(pid)
    per_cycle = (time.perf_counter() - began) / max(cycles, 1)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return start, end, highest, per_cycle


def check_process(path: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:  # an empty RTC_HOME: `rtc check`'s cache of clean files misses
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "rtc", "check", str(path)], check=True, capture_output=True,
                           env=dict(os.environ, RTC_HOME=home))
            times.append(time.perf_counter() - started)
    return times


def check_in_process(path: Path, runs: int) -> list[float]:
    from rtc.compiler import compile_file

    compile_file(str(path))  # imports and the grammar, once
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        compile_file(str(path))
        times.append(time.perf_counter() - started)
    return times


def check_incremental(path: Path, text: str, edit, runs: int) -> list[float]:
    """The server's own check after an edit, in this process: `Project.check` (no JSON-RPC, no debounce)."""
    from rtc.lsp.project import Project

    project = Project()
    project.set_text(str(path), text)
    project.check(str(path))
    times = []
    for i in range(runs):
        project.set_text(str(path), edit(text, 1000 + i))
        started = time.perf_counter()
        project.check(str(path))
        times.append(time.perf_counter() - started)
    return times


def outline_in_process(path: Path, text: str, runs: int) -> list[float]:
    """The outline (documentSymbol, which editors ask for after every change) of the file, in this process."""
    from rtc.lsp.features import Navigator
    from rtc.lsp.project import Project

    project = Project()
    project.set_text(str(path), text)
    nav = Navigator(project)
    nav.outline(str(path))
    times = []
    for _ in range(runs):
        nav._indexes.clear()  # as after an edit: the index is rebuilt too
        started = time.perf_counter()
        nav.outline(str(path))
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5, help="runs of the full checks")
    parser.add_argument("--debounce-ms", type=int, default=30)
    parser.add_argument("--cycles", type=int, default=100, help="open/close cycles for the memory figure (0: skip)")
    parser.add_argument("--cycle-lines", type=int, default=5000, help="lines of each document opened and closed")
    args = parser.parse_args()
    print(f"debounce {args.debounce_ms} ms; {args.changes} changes per size; {args.runs} full checks\n")
    print(
        f"{'lines':>6} {'edit':>6} {'lsp median':>11} {'lsp p95':>9} {'Project.check':>14} "
        f"{'check (process)':>16} {'compile_file':>13} {'process/lsp':>12} {'outline':>9}"
    )
    for lines in args.lines:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            text = generate(lines)
            path = folder / "pipeline.rt"
            path.write_text(text)
            process = statistics.median(check_process(path, args.runs))
            in_process = statistics.median(check_in_process(path, args.runs))
            outline = statistics.median(outline_in_process(path, text, args.runs))
            for name, edit in EDITS.items():
                latencies = asyncio.run(lsp_latencies(folder, text, edit, args.changes, args.debounce_ms))
                median = statistics.median(latencies)
                incremental = statistics.median(check_incremental(path, text, edit, args.runs))
                print(
                    f"{text.count(chr(10)):>6} {name:>6} {median * 1000:>9.1f}ms {percentile(latencies, 95) * 1000:>7.1f}ms "
                    f"{incremental * 1000:>12.1f}ms "
                    f"{process * 1000:>14.1f}ms {in_process * 1000:>11.1f}ms {process / median:>11.1f}x "
                    f"{outline * 1000:>7.1f}ms",
                    flush=True,
                )
    if args.cycles:
        with tempfile.TemporaryDirectory() as tmp:
            text = generate(args.cycle_lines)
            start, end, highest, per_cycle = asyncio.run(memory_cycles(Path(tmp), text, args.cycles))
            print(f"\nmemory: {args.cycles} open/check/close cycles of {text.count(chr(10))}-line documents "
                  f"({len(text) / 1e6:.2f} MB each, {per_cycle * 1000:.0f} ms per cycle): RSS {start:.0f} MB after the "
                  f"first, {end:.0f} MB after the last ({end - start:+.0f} MB; goal: within 50 MB), highest {highest:.0f} MB")

if __name__ == "__main__":
    main()
