"""`rtc lsp` within bounds (issue 21, class 5): closed documents are freed, requests whose params
fail validation are answered with an error, renames to keywords or to a taken name are refused.

The server runs as a real process spoken to over stdio with framed JSON-RPC (no client library
in between that would validate the params first). Memory is the server's own RSS from /proc.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from rtc.lsp.features import Navigator
from rtc.lsp.project import Project


class RawClient:
    def __init__(self, root: Path):
        env = dict(os.environ, RTC_LSP_DEBOUNCE_MS="0")
        self.proc = subprocess.Popen([sys.executable, "-m", "rtc", "lsp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.next_id = 0
        self.messages: list[dict] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.request("initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": {}})
        self.notify("initialized", {})

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                elif line in (b"\r\n", b"\n"):
                    break
            message = json.loads(out.read(length))
            with self.cond:
                self.messages.append(message)
                self.cond.notify_all()

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def wait(self, predicate, timeout=120):
        with self.cond:
            assert self.cond.wait_for(lambda: any(predicate(m) for m in self.messages), timeout), "no answer"
            found = next(m for m in self.messages if predicate(m))
            self.messages.remove(found)
            return found

    def request(self, method: str, params) -> dict:
        self.next_id += 1
        msg_id = self.next_id
        self.send({"id": msg_id, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == msg_id and "method" not in m)

    def notify(self, method: str, params) -> None:
        self.send({"method": method, "params": params})

    def diagnostics(self, uri: str) -> dict:
        return self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri)

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def close(self):
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def server(tmp_path):
    client = RawClient(tmp_path)
    yield client
    client.close()


def pipeline(steps: int) -> str:
    out = ['env py { base = "python:3.11-slim" }', ""]
    for i in range(steps):
        out += [f"node N{i} {{", "  env     = py", "  inputs  { x: int }", "  outputs { y: int }",
                f'  command = ["sh", "-c", "echo {i}"]', "}", ""]
    out += ["graph big {", "  params { start: int = 1 }", "  s0 = N0(x = params.start)"]
    out += [f"  s{i} = N{i}(x = s{i - 1}.y)" for i in range(1, steps)]
    return "\n".join(out + ["}"]) + "\n"


def open_and_close(server: RawClient, uri: str, text: str) -> None:
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "rt", "version": 1, "text": text}})
    assert server.diagnostics(uri)["params"]["diagnostics"] == []
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert server.diagnostics(uri)["params"]["diagnostics"] == []  # cleared on close


def test_memory_returns_after_100_open_close_cycles(server, tmp_path):
    text = pipeline(800)  # about 5,600 lines, 130 KB
    open_and_close(server, (tmp_path / "warm.rt").as_uri(), text)
    start = server.rss_mb()
    for i in range(100):  # 100 documents, each opened, checked and closed
        open_and_close(server, (tmp_path / f"doc{i}.rt").as_uri(), text)
    grown = server.rss_mb() - start
    assert grown < 50, f"RSS grew by {grown:.0f} MB over 100 open/close cycles (start {start:.0f} MB)"


@pytest.mark.parametrize("method,params", [
    ("textDocument/hover", {"textDocument": 5, "position": "x"}),
    ("textDocument/hover", {"textDocument": {"uri": "file:///a.rt"}}),
    ("textDocument/definition", None),
    ("textDocument/rename", {"textDocument": {"uri": "file:///a.rt"}, "position": {"line": -1, "character": []},
                             "newName": 3}),
    ("textDocument/completion", [1, 2, 3]),
    ("textDocument/documentSymbol", {"textDocument": {}}),
])
def test_requests_whose_params_fail_validation_are_answered_with_an_error(server, method, params):
    answer = server.request(method, params)
    assert "error" in answer and answer["error"]["code"] in (-32602, -32603), answer
    # and the server still answers what is valid
    ok = server.request("textDocument/documentSymbol", {"textDocument": {"uri": "file:///nowhere.rt"}})
    assert "result" in ok, ok


SOURCE = textwrap.dedent("""\
    env py { base = "python:3.11-slim" }

    node Load {
      env     = py
      inputs  { path: str }
      outputs { count: int }
      command = ["true"]
    }

    graph g {
      params { source: str = "/x" }
      load  = Load(path = params.source)
      again = Load(path = params.source) after [load]
    }
    """)


@pytest.fixture
def nav(tmp_path):
    path = str(tmp_path / "p.rt")
    Path(path).write_text(SOURCE)
    project = Project()
    project.set_text(path, SOURCE)
    return Navigator(project), path


def at(word: str, nth: int = 0):
    lines = SOURCE.splitlines()
    hits = [(n, line.index(word)) for n, line in enumerate(lines) if word in line]
    return hits[nth]


@pytest.mark.parametrize("new_name", ["true", "false", "null", "node", "graph", "env", "import", "after"])
def test_a_rename_to_a_keyword_is_refused(nav, new_name):
    navigator, path = nav
    with pytest.raises(ValueError, match="keyword"):
        navigator.rename(path, *at("again ="), new_name)


def test_a_rename_to_an_existing_name_is_refused(nav):
    navigator, path = nav
    with pytest.raises(ValueError, match="already the name of a step"):
        navigator.rename(path, *at("again ="), "load")
    with pytest.raises(ValueError, match="reserved"):
        navigator.rename(path, *at("again ="), "params")
    with pytest.raises(ValueError, match="already the name of a step"):
        navigator.rename(path, *at("load  ="), "again")
    edits = navigator.rename(path, *at("again ="), "second")
    assert sum(len(r) for r in edits.values()) == 1


def test_a_rename_to_a_keyword_over_the_wire_is_an_error(server, tmp_path):
    uri = (tmp_path / "p.rt").as_uri()
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "rt", "version": 1, "text": SOURCE}})
    server.diagnostics(uri)
    line, col = at("again =")
    answer = server.request("textDocument/rename", {"textDocument": {"uri": uri}, "position": {"line": line, "character": col},
                                                    "newName": "true"})
    assert answer.get("error", {}).get("code") == -32602 and "keyword" in answer["error"]["message"], answer
    answer = server.request("textDocument/rename", {"textDocument": {"uri": uri}, "position": {"line": line, "character": col},
                                                    "newName": "load"})
    assert "error" in answer and "already" in answer["error"]["message"], answer


def test_a_document_over_the_source_bound_is_e007_not_parsed(tmp_path):
    project = Project()
    path = str(tmp_path / "huge.rt")
    project.set_text(path, "# " + "x" * (16 * 1024 * 1024) + "\n")
    checked = project.check(path)
    assert [d.code for d in checked.diagnostics] == ["E007"], checked.diagnostics
    project.close(path)
    assert not project._parses and not project.open
