"""Every CLI command and every front end, fed hostile input: a diagnostic and a non-zero exit, never a traceback.

Table-driven. Each case runs `python -m rtc ...` as a user would, in a
subprocess with a CPU-time and address-space limit (resource.setrlimit) and
a wall-clock timeout; its peak memory comes from wait4's rusage. The table
has hostile files for each front end (.rt, rtc YAML, Tyger codespec and
run-spec YAML, IR JSON), hostile `--param` values, and hostile arguments
of the store commands. Every command `rtc --help` lists gets at least the
generic cases (each hostile file as its argument), so a new command is
covered the day it is added.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from rtc.cli import COMMAND_MODULES

WALL_SECONDS = 60
CPU_SECONDS = 60
ADDRESS_SPACE = 3 * 1024**3  # virtual: Python with pydantic, lark, yaml, docker and threads stays well below
PEAK_RSS = 700 * 1024**2  # measured: about 60-150 MB per case; a file that is read whole would blow it

EXAMPLE_IR_NODE = {"name": "N", "env": "e", "command": ["true"]}


def _ir(**changes) -> str:
    """A small valid IR, then `changes` applied (a path like graphs.g.steps.0.id: value)."""
    data = {
        "ir_version": "1",
        "namespace": "hostile",
        "source": "hostile.rt",
        "environments": {"e": {"name": "e", "image": "busybox"}},
        "nodes": {"N": {"name": "N", "env": "e", "command": ["true"], "inputs": [{"name": "x", "type": "json"}]}},
        "graphs": {"g": {"name": "g", "params": [{"name": "p", "type": "float", "default": 1.0, "required": False}],
                         "steps": [{"id": "a", "node": "N", "inputs": [{"name": "x", "type": "json", "binding": {"kind": "literal", "value": 1}}]}],
                         "order": ["a"]}},
        "codespecs": {"c": {"name": "c", "image": "busybox", "command": ["true"]}},
        "runs": {"r": {"name": "r", "codespec": "c"}},
    }
    text = None
    for path, value in changes.items():
        if path == "raw":
            text = value
            continue
        target = data
        *parents, last = path.split("__")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return text if text is not None else json.dumps(data)


# name -> (file name, content or a special maker)
FRONT_END_FILES: dict[str, tuple[str, object]] = {
    # .rt
    "rt-deep-list": ("p.rt", 'env e { image = "busybox" }\nnode N { env = e inputs { x: json } command = ["true"] }\ngraph g { a = N(x = ' + "[" * 50_000 + "]" * 50_000 + ") }\n"),
    "rt-deep-type": ("p.rt", "graph g { params { p: " + "list[" * 3000 + "str" + "]" * 3000 + " } }\n"),
    "rt-deep-call": ("p.rt", "graph g { a = " + "f(" * 3000 + ")" * 3000 + " }\n"),
    "rt-surrogate": ("p.rt", 'env e { image = "busybox" environ = { A = "\\udc00" } }\n'),
    "rt-bad-utf8": ("p.rt", b'env e { image = "\xff\xfe" }\n'),
    "rt-nul": ("p.rt", 'env e { image = "busy\x00box" }\n'),
    "rt-environ-nul-escape": ("p.rt", 'env e { image = "busybox" environ = { A = "a\\u0000b" } }\n'),
    "rt-environ-huge": ("p.rt", 'env e { image = "busybox" environ = { A = "' + "x" * 200_000 + '" } }\n'),
    "rt-garbage": ("p.rt", bytes(range(256)) * 40),
    "rt-huge-sparse": ("p.rt", "sparse:17000000"),
    "rt-fifo": ("p.rt", "fifo"),
    "rt-dev-zero": ("p.rt", "symlink:/dev/zero"),
    "rt-folder": ("p.rt", "folder"),
    "rt-import-dev-zero": ("p.rt", 'import "z.rt"\n'),
    "rt-import-cycle": ("p.rt", 'import "p.rt"\n'),
    "rt-copy-absolute": ("p.rt", 'env e { base = "python:3.11-slim" copy "/etc/passwd" -> "/x" }\n'),
    "rt-copy-dotdot": ("p.rt", 'env e { base = "python:3.11-slim" copy "../../../../etc" -> "/x" }\n'),
    "rt-copy-symlink-out": ("p.rt", 'env e { base = "python:3.11-slim" copy "out" -> "/x" }\n'),
    "rt-timeout-huge": ("p.rt", 'env e { image = "busybox" }\nnode N { env = e command = ["true"] timeout = "1e999s" }\n'),
    "rt-timeout-1e9-days": ("p.rt", 'env e { image = "busybox" }\nnode N { env = e command = ["true"] timeout = 1000000000d }\n'),
    "rt-retries-huge": ("p.rt", 'env e { image = "busybox" }\nnode N { env = e command = ["true"] retries = 100000000000000000000000 }\n'),
    "rt-long-tag": ("p.rt", 'graph g { tags = ["' + "t" * 101 + '"] }\n'),
    "rt-long-run-tag": ("p.rt", 'codespec c { image = "busybox" command = ["true"] }\nrun r { codespec = c tags = { k = "' + "v" * 100 + '" } }\n'),
    "rt-replicas-huge": ("p.rt", 'codespec c { image = "busybox" command = ["true"] }\nrun r { codespec = c replicas = 9223372036854775808 }\n'),
    "rt-bad-image": ("p.rt", 'env e { image = "UPPER/../x::" }\n'),
    "rt-superscript-number": ("p.rt", 'env e { image = "busybox" }\nnode N { env = e command = ["true"] retries = ² }\n'),
    "rt-arabic-digits": ("p.rt", 'env e { image = "busybox" }\nnode N { env = e command = ["true"] retries = ١ }\n'),
    "rt-5000-digits": ("p.rt", 'env e { image = "busybox" }\nnode N { env = e command = ["true"] retries = ' + "9" * 5000 + " }\n"),
    "rt-long-non-ascii-name": ("p.rt", "env " + "é" * 300 + ' { image = "busybox" }\n'),
    # envd's build.envd (issue 21, class 5)
    "envd-5000-digits": ("build.envd", "def build():\n    runtime.expose(envd_port=" + "9" * 5000 + ")\n"),
    "envd-deep-list": ("build.envd", "def build():\n    install.apt_packages(name=" + "[" * 3000 + "]" * 3000 + ")\n"),
    "envd-deep-dict": ("build.envd", "def build():\n    runtime.environ(env=" + '{"a": ' * 3000 + "1" + "}" * 3000 + ")\n"),
    "envd-deep-unclosed": ("build.envd", "def build():\n    install.apt_packages(name=" + "[" * 200_000 + "\n"),
    "envd-port-superscript": ("build.envd", 'def build():\n    runtime.expose(envd_port="²")\n'),
    "envd-port-arabic": ("build.envd", "def build():\n    runtime.expose(envd_port=١)\n"),
    "envd-float-inf": ("build.envd", "def build():\n    runtime.expose(envd_port=1e999)\n"),
    "envd-garbage": ("build.envd", bytes(range(256)) * 40),
    # rtc YAML
    "yaml-alias-bomb": ("p.yaml", "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))),
    "yaml-deep-flow": ("p.yaml", "envs: " + "[" * 50_000 + "]" * 50_000 + "\n"),
    "yaml-deep-block": ("p.yaml", "".join("  " * i + "k:\n" for i in range(1500))),
    "yaml-python-tag": ("p.yaml", "envs: !!python/object/apply:os.system ['echo pwned']\n"),
    "yaml-surrogate": ("p.yaml", 'namespace: x\nenvs:\n  e: {image: busybox, environ: {A: "\\ud800"}}\n'),
    "yaml-two-docs": ("p.yaml", "namespace: a\n---\nnamespace: b\n"),
    "yaml-scalar": ("p.yaml", "just a string\n"),
    "yaml-long-source-tag": ("x" * 95 + ".yaml", "namespace: x\ngraphs: {g: {}}\n"),
    # Tyger codespec and run-spec YAML
    "tyger-codespec-bad-image": ("c.yml", "name: c\nimage: 'NOT AN IMAGE'\ncommand: [sh]\n"),
    "tyger-codespec-bad-name": ("c.yml", "name: ../../etc\nimage: busybox\n"),
    "tyger-codespec-env-nul": ("c.yml", 'name: c\nimage: busybox\nenv: {A: "x\\0y"}\n'),
    "tyger-run-huge-replicas": ("r.yml", "job:\n  codespec: {image: busybox, command: [true]}\n  replicas: 1e999\n"),
    "tyger-run-timeout-nan": ("r.yml", "job:\n  codespec: {image: busybox, command: [true]}\ntimeoutSeconds: .nan\n"),
    "tyger-run-long-tag": ("r.yml", "job:\n  codespec: {image: busybox, command: [true]}\n  tags: {k: '" + "v" * 120 + "'}\n"),
    "tyger-run-cluster-long": ("r.yml", "job:\n  codespec: {image: busybox, command: [true]}\ncluster: '" + "c" * 100 + "'\n"),
    # IR JSON
    "ir-step-id-dotdot": ("p.json", _ir(graphs__g__steps__0__id="../../escape")),
    "ir-bad-image": ("p.json", _ir(environments__e__image="NOT AN IMAGE")),
    "ir-unknown-node": ("p.json", _ir(graphs__g__steps__0__node="Nope")),
    "ir-unknown-env": ("p.json", _ir(nodes__N__env="nope")),
    "ir-nan": ("p.json", _ir(raw=_ir().replace('"value": 1', '"value": NaN'))),
    "ir-deep": ("p.json", _ir(raw=_ir().replace('"value": 1', '"value": ' + "[" * 100_000 + "]" * 100_000))),
    "ir-surrogate": ("p.json", _ir(raw=_ir().replace('"value": 1', '"value": "\\ud800"'))),
    "ir-huge-int": ("p.json", _ir(runs__r__replicas=10**30)),
    "ir-timeout-inf": ("p.json", _ir(raw=_ir().replace('"command": ["true"], "inputs"', '"command": ["true"], "timeout_seconds": 1e999, "inputs"'))),
    "ir-environ-nul": ("p.json", _ir(environments__e__environ={"A": "a\u0000b"})),
    "ir-copy-absolute": ("p.json", _ir(environments__e__build={"base": "busybox", "copy_files": [{"host_path": "/etc/shadow", "container_path": "/x", "digest": "0"}]})),
    "ir-cycle": ("p.json", _ir(graphs__g__steps__0__upstream=["a"])),
    "ir-truncated": ("p.json", _ir()[:200]),
    "ir-not-an-object": ("p.json", "[1, 2, 3]"),
    "ir-wrong-version": ("p.json", _ir(ir_version="999")),
}

# Commands that take a pipeline file, and how (FILE is replaced by the hostile file).
FILE_COMMANDS = {
    "check": ["check", "FILE"],
    "check-json": ["check", "--format", "json", "FILE"],
    "compile-ir": ["compile", "FILE", "-t", "ir", "-o", "OUT/ir.json"],
    "compile-airflow": ["compile", "FILE", "-t", "airflow", "-o", "OUT"],
    "compile-prefect": ["compile", "FILE", "-t", "prefect", "-o", "OUT"],
    "graph": ["graph", "FILE"],
    "build": ["build", "FILE"],
    "run": ["run", "FILE"],
    "run-create": ["run", "create", "FILE"],
    "exec": ["exec", "-f", "FILE"],
    "env-up": ["env", "up", "FILE", "e"],
    "env-run": ["env", "run", "FILE", "e", "--command", "c"],
    "env-down": ["env", "down", "FILE", "e"],
    "deploy": ["deploy", "FILE", "--target", "prefect"],
    "fmt": ["fmt", "FILE"],
    "codespec-create": ["codespec", "create", "-f", "FILE"],
}
# Every front-end file goes through the command that reads it (IR JSON: `run`, the others: `check`);
# every file command, with its own argument shape, gets a sample (each subprocess costs ~0.5 s).
SAMPLE = ("rt-dev-zero", "ir-step-id-dotdot")

PARAM_FILE = 'env e { image = "busybox" }\nnode N { env = e inputs { x: json } command = ["true"] }\n' \
             'graph g { params { f: float = 1.0  b: bool = false  j: json = 1  s: str = "" } a = N(x = params.j) }\n'
HOSTILE_PARAMS = {
    "nan": "f=nan", "inf": "f=inf", "overflow": "f=1e999", "hex-float": "f=0x1p3", "bool-yes": "b=yes", "bool-1": "b=1",
    "json-nan": "j=[NaN]", "json-deep": "j=" + "[" * 30_000 + "]" * 30_000, "json-garbage": "j={", "no-equals": "f",
    "unknown": "nope=1", "str-not-utf8": b"s=\xff\xfe".decode("utf-8", "surrogateescape"),
}

# Store and other commands, with hostile arguments (no pipeline file).
OTHER_CASES = {
    "run-show-huge": ["run", "show", "9" * 40],
    "run-show-text": ["run", "show", "../../etc/passwd"],
    "run-watch-missing": ["run", "watch", "12345"],
    "run-list-negative": ["run", "list", "--limit", "-1"],
    "run-list-since-garbage": ["run", "list", "--since", "yesterday-ish"],
    "run-cancel-missing": ["run", "cancel", "777"],
    "run-logs-missing": ["run", "logs", "777", "--tail", "-5"],
    "buffer-read-traversal": ["buffer", "read", "../../../etc/passwd", "--timeout", "1s"],
    "buffer-write-traversal": ["buffer", "write", "../store.db"],
    "buffer-show-missing": ["buffer", "show", "nope"],
    "buffer-read-bad-timeout": ["buffer", "read", "x", "--timeout", "1e999s"],
    "buffer-create-bad-tag": ["buffer", "create", "--tag", "novalue"],
    "schema-bad-option": ["schema", "--nope"],
    "exec-no-file": ["exec"],
    "exec-bad-timeout": ["exec", "-f", "FILE:tyger-ok", "--timeout", "forever"],
    "exec-huge-replicas": ["exec", "-f", "FILE:tyger-ok", "-r", "99999999999999999999"],
    "exec-bad-buffer": ["exec", "-f", "FILE:tyger-ok", "--buffer", "input=../../x"],
    "run-workers-zero": ["run", "FILE:params", "--workers", "0"],
    "env-list-no-args-extra": ["env", "list", "extra"],
    "gc-extra": ["gc", "extra-argument"],
    "cache-dir-not-a-folder": ["cache", "ls", "--dir", "/etc/passwd"],
    "cache-clear-bad-option": ["cache", "clear", "--older-than-nope"],
    "codespec-show-traversal": ["codespec", "show", "../../etc/passwd"],
    "lsp-bad-option": ["lsp", "--nope"],
    # issue 21, class 6: names, numbers and durations in every notation, paths too long
    "codespec-create-long-name": ["codespec", "create", "-f", "FILE:long-codespec"],
    "codespec-show-long-name": ["codespec", "show", "c" * 300],
    "codespec-show-superscript": ["codespec", "show", "c/versions/²"],
    "codespec-show-arabic": ["codespec", "show", "c/versions/١"],
    "codespec-version-arabic": ["codespec", "show", "c", "--version", "١"],
    "buffer-create-ttl-inf": ["buffer", "create", "--ttl", "inf"],
    "buffer-create-ttl-nan": ["buffer", "create", "--ttl", "nan"],
    "buffer-create-ttl-zero": ["buffer", "create", "--ttl", "0"],
    "buffer-create-ttl-timespan-zero": ["buffer", "create", "--ttl", "0.00:00"],
    "buffer-create-ttl-arabic": ["buffer", "create", "--ttl", "١h"],
    "exec-buffer-ttl-nan": ["exec", "-f", "FILE:tyger-ok", "--buffer-ttl", "nan"],
    "exec-buffer-ttl-zero": ["exec", "-f", "FILE:tyger-ok", "--buffer-ttl", "0"],
    "run-create-buffer-ttl-inf": ["run", "create", "-f", "FILE:tyger-ok", "--buffer-ttl", "inf"],
    "exec-timeout-nan": ["exec", "-f", "FILE:tyger-ok", "--timeout", "nan"],
    "schema-o-folder": ["schema", "-o", "."],
    "schema-o-too-long": ["schema", "-o", "x" * 300],
    "compile-o-too-long": ["compile", "FILE:params", "-t", "airflow", "-o", "d" * 300],
    "compile-o-too-long-ir": ["compile", "FILE:params", "-t", "ir", "-o", "d" * 300 + ".json"],
    "exec-replicas-arabic": ["exec", "-f", "FILE:tyger-ok", "-r", "١"],
    "exec-version-superscript": ["exec", "-f", "FILE:tyger-ok", "--version", "²"],
    "run-list-limit-arabic": ["run", "list", "--limit", "١٠"],
    "run-logs-tail-underscore": ["run", "logs", "1", "--tail", "1_0"],
    "run-workers-arabic": ["run", "FILE:params", "--workers", "٢"],
    "env-logs-daemon-arabic": ["env", "logs", "FILE:params", "e", "--daemon", "١"],
    "codespec-list-limit-arabic": ["codespec", "list", "-l", "١"],
    "deploy-schedule-wait-nan": ["deploy", "FILE:params", "--target", "prefect", "--schedule-wait", "nan"],
    "artifacts-get-traversal": ["artifacts", "get", "../../etc", "out"],
    "artifacts-get-short-prefix": ["artifacts", "get", "a", "out"],
    "artifacts-get-long-path": ["artifacts", "get", "abcd", "p" * 300],
    "artifacts-ls-missing-run": ["artifacts", "ls", "no-such-run"],
    "artifacts-gc-older-than-nan": ["artifacts", "gc", "--older-than", "nan"],
    "artifacts-gc-older-than-arabic": ["artifacts", "gc", "--older-than", "١d"],
    "no-such-command": ["no-such-command"],
}
TYGER_OK = "name: ok\nimage: busybox\ncommand: [sh, -c, 'cat $INPUT_PIPE']\nbuffers: {inputs: [input]}\n"


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss: int


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_limited(args: list[str], cwd: Path, env: dict) -> Outcome:
    """Run rtc under the limits; reaped with wait4, whose rusage gives this child's own peak memory."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "rtc", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, preexec_fn=_limits)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > WALL_SECONDS:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                err.seek(0)
                pytest.fail(f"rtc {' '.join(args)[:200]} ran longer than {WALL_SECONDS}s\n{err.read().decode(errors='replace')[-2000:]}")
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        return Outcome(proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                       time.monotonic() - started, usage.ru_maxrss * 1024)


def make_file(folder: Path, name: str, content) -> Path:
    path = folder / name
    if content == "fifo":
        os.mkfifo(path)
    elif content == "folder":
        path.mkdir()
    elif isinstance(content, str) and content.startswith("symlink:"):
        path.symlink_to(content.split(":", 1)[1])
    elif isinstance(content, str) and content.startswith("sparse:"):
        with open(path, "wb") as f:
            f.truncate(int(content.split(":", 1)[1]))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


@pytest.fixture
def sandbox(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "z.rt").symlink_to("/dev/zero")
    (work / "out").symlink_to("/etc")
    env = {**os.environ, "RTC_HOME": str(tmp_path / "home"), "PREFECT_API_URL": "http://127.0.0.1:9/api",
           "DOCKER_HOST": os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")}
    return work, env


def assert_refused(outcome: Outcome, args: list[str]) -> None:
    shown = f"rtc {' '.join(args)[:200]}\nexit {outcome.code}\nstderr: {outcome.stderr[-3000:]}\nstdout: {outcome.stdout[-500:]}"
    assert outcome.code != 0, shown
    assert "Traceback" not in outcome.stderr and "Traceback" not in outcome.stdout, shown
    if "--format" in args:  # `check --format json`: the diagnostics are the JSON on stdout
        diagnostics = [d for f in json.loads(outcome.stdout)["files"] for d in f["diagnostics"]]
        assert diagnostics and all(d["code"] and d["message"] for d in diagnostics), shown
    else:
        assert "error" in outcome.stderr.lower() or "usage:" in outcome.stderr, "a refusal says why: " + shown
    assert outcome.peak_rss < PEAK_RSS, f"peak memory {outcome.peak_rss / 2**20:.0f} MiB: " + shown


def _cases():
    for file_case, (name, _) in FRONT_END_FILES.items():
        commands = list(FILE_COMMANDS) if file_case in SAMPLE else ["run" if name.endswith(".json") else "check"]
        for command in commands:
            yield pytest.param(command, file_case, id=f"{command}:{file_case}")


@pytest.mark.parametrize("command, file_case", list(_cases()))
def test_hostile_file(sandbox, command, file_case):
    work, env = sandbox
    name, content = FRONT_END_FILES[file_case]
    path = make_file(work, name, content)
    args = [str(path) if a == "FILE" else a.replace("OUT", str(work / "out-dir")) for a in FILE_COMMANDS[command]]
    outcome = run_limited(args, work, env)
    assert_refused(outcome, args)
    if command.startswith("compile"):
        out = work / "out-dir"
        written = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
        assert written == [], f"nothing half-written: {written}"


@pytest.mark.parametrize("case", sorted(HOSTILE_PARAMS))
def test_hostile_param(sandbox, case):
    work, env = sandbox
    path = make_file(work, "params.rt", PARAM_FILE)
    args = ["run", str(path), "--param", HOSTILE_PARAMS[case]]
    assert_refused(run_limited(args, work, env), args)


@pytest.mark.parametrize("case", sorted(OTHER_CASES))
def test_hostile_arguments(sandbox, case):
    work, env = sandbox
    files = {"FILE:tyger-ok": make_file(work, "ok.yml", TYGER_OK), "FILE:params": make_file(work, "params.rt", PARAM_FILE),
             "FILE:long-codespec": make_file(work, "long.yml", f"name: {'c' * 300}\nimage: busybox\ncommand: [\"true\"]\n")}
    args = [str(files[a]) if a in files else a for a in OTHER_CASES[case]]
    assert_refused(run_limited(args, work, env), args)


def _listed_commands() -> list[str]:
    return [name.replace("_", "-") for name in COMMAND_MODULES]


@pytest.mark.parametrize("command", _listed_commands())
def test_every_command_refuses_hostile_files(sandbox, command):
    """Each command `rtc --help` lists, given each kind of hostile file as its arguments."""
    work, env = sandbox
    for file_case in ("yaml-deep-flow", "rt-surrogate"):
        name, content = FRONT_END_FILES[file_case]
        (work / file_case).mkdir()
        args = [command, str(make_file(work / file_case, name, content))]
        outcome = run_limited(args, work, env)
        shown = f"rtc {' '.join(args)}\nexit {outcome.code}\n{outcome.stderr[-2000:]}"
        assert "Traceback" not in outcome.stderr, shown
        # `schema` takes no file (argparse refuses, 2). `fmt` lays out what parses, as `ruff format` does:
        # a lone surrogate escape is a meaning error (E011) for `check`, kept as written by `fmt`.
        formats_syntax_only = command == "fmt" and file_case == "rt-surrogate"
        assert outcome.code != 0 or command == "schema" or formats_syntax_only, shown
        assert outcome.peak_rss < PEAK_RSS, shown


def test_the_table_covers_every_listed_command():
    covered = {args[0] for args in FILE_COMMANDS.values()} | {args[0] for args in OTHER_CASES.values()}
    missing = sorted(set(_listed_commands()) - covered)
    # Every command also gets test_every_command_refuses_hostile_files; this asks for cases of its own arguments.
    assert not missing, f"commands `rtc --help` lists without a case in FILE_COMMANDS or OTHER_CASES: {missing}"


# ---------------------------------------------------------------- properties (issue 21)
#
# Generated hostile inputs, run as a user would (same limits as the table): numbers in every
# notation, long and non-ASCII names, `inf`/`nan`/`0` durations, deep nesting in every reader.
# A refusal is a message and a non-zero exit; nothing ever ends in a traceback. Each example is a
# subprocess (~0.1 s: start-up is kept small), so the counts are moderate and the values concentrated on
# the edges (hypothesis's shrinking still names the smallest failing input).

from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PROPERTY = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
OTHER_DIGITS = "²³¹١٢٣۴५๓０１𝟘"
numbers = st.one_of(
    st.sampled_from(["inf", "-inf", "nan", "NaN", "1e999", "-1e999", "0", "-0", "0.0", "1e-3", "1E3", "0x10", "0o7",
                     "0b1", "1_000", "+5", ".5", "5.", "²", "١", "١٢", "٣h", "9" * 5000, "1" + "0" * 400, "-1",
                     "18446744073709551616", "9223372036854775808", "1e308", "4.9e-324"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**60), max_value=10**60).map(str),
    st.text(alphabet="0123456789" + OTHER_DIGITS + ".eE+-_x", min_size=1, max_size=30),
)
durations = st.one_of(
    numbers,
    st.tuples(numbers, st.sampled_from(["", "s", "m", "h", "d", "ms", "ns", "µs"])).map("".join),
    st.tuples(st.integers(0, 10**7), st.integers(0, 99), st.integers(0, 99)).map(lambda t: f"{t[0]}.{t[1]:02d}:{t[2]:02d}"),
    st.sampled_from(["0s", "0.00:00", "0.00:00:00", "366.00:00:01", "99999999.23:59", "1h1h", "h", "", " ", "1.24:00"]),
)
names = st.one_of(
    st.sampled_from(["c" * 300, "é" * 200, "𝒞" * 100, "a/../b", "..", ".", "-", "a" * 256, "nul\u0000x", "CON", "x y",
                     "\u202eevil", "true", "null"]),
    st.text(min_size=1, max_size=400).filter(lambda t: "\x00" not in t),
)
nesting = st.tuples(st.integers(min_value=65, max_value=5000), st.booleans())


def _property_sandbox(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prop")
    work = tmp / "work"
    work.mkdir()
    env = {**os.environ, "RTC_HOME": str(tmp / "home"), "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    return work, env


def assert_no_traceback(outcome: Outcome, args: list[str]) -> None:
    shown = f"rtc {' '.join(map(repr, args))[:300]}\nexit {outcome.code}\nstderr: {outcome.stderr[-2000:]}"
    assert "Traceback" not in outcome.stderr and "Fatal Python error" not in outcome.stderr, shown
    assert outcome.code in (0, 1, 2), shown
    if outcome.code != 0:
        assert "error" in outcome.stderr.lower() or "usage:" in outcome.stderr, "a refusal says why: " + shown
    assert outcome.peak_rss < PEAK_RSS, shown


@given(ttl=durations)
@example(ttl="inf")
@example(ttl="nan")
@example(ttl="0")
@example(ttl="١h")
@PROPERTY
def test_any_buffer_ttl_is_a_lifetime_or_a_message(tmp_path_factory, ttl):
    work, env = _property_sandbox(tmp_path_factory)
    args = ["buffer", "create", f"--ttl={ttl}"]
    outcome = run_limited(args, work, env)
    assert_no_traceback(outcome, args)
    if outcome.code == 0:  # accepted: a real lifetime that `buffer show` can print (inf made it fail for good)
        shown = run_limited(["buffer", "show", outcome.stdout.strip()], work, env)
        assert shown.code == 0 and '"expiresAt"' in shown.stdout, shown.stderr
        expires = json.loads(shown.stdout)
        from rtc.integrations.tyger.store import parse_time

        life = parse_time(expires["expiresAt"]) - parse_time(expires["createdAt"])
        assert 0 < life <= 366 * 86400
    for bad in ("inf", "nan", "0", "١", "²"):
        if ttl.strip() in (bad, bad + "s", bad + "h"):
            assert outcome.code != 0, ttl


@given(duration=durations, command=st.sampled_from(["exec-timeout", "exec-buffer-ttl", "read-timeout", "create-timeout"]))
@PROPERTY
def test_any_duration_option_is_a_duration_or_a_message(tmp_path_factory, duration, command):
    work, env = _property_sandbox(tmp_path_factory)
    spec = make_file(work, "ok.yml", "name: ok\nimage: rtc-no-such-image/x:1\ncommand: [\"true\"]\n")
    args = {
        "exec-timeout": ["exec", "-f", str(spec), f"--timeout={duration}"],
        "exec-buffer-ttl": ["exec", "-f", str(spec), f"--buffer-ttl={duration}"],
        "read-timeout": ["buffer", "read", "nope", f"--timeout={duration}"],
        "create-timeout": ["run", "create", "-f", str(spec), f"--timeout={duration}"],
    }[command]
    outcome = run_limited(args, work, env)
    assert_no_traceback(outcome, args)
    if duration.strip() in ("inf", "nan", "-1", "1e999", "١", "²"):
        assert outcome.code != 0


@given(name=names, command=st.sampled_from(["codespec-show", "codespec-create", "codespec-version", "exec-codespec"]))
@PROPERTY
def test_any_codespec_name_is_found_or_a_message(tmp_path_factory, name, command):
    work, env = _property_sandbox(tmp_path_factory)
    spec = work / "c.yml"
    spec.write_text(json.dumps({"name": name, "image": "busybox", "command": ["true"]}), encoding="utf-8",
                    errors="surrogatepass")
    args = {
        "codespec-show": ["codespec", "show", name],
        "codespec-create": ["codespec", "create", "-f", str(spec)],
        "codespec-version": ["codespec", "show", f"ok/versions/{name}"],
        "exec-codespec": ["exec", "--codespec", name],
    }[command]
    outcome = run_limited(args, work, env)
    assert_no_traceback(outcome, args)
    if command != "codespec-create" or len(name) > 200 or not name.isascii():
        assert outcome.code != 0, args


@given(number=numbers, reader=st.sampled_from(["rt-retries", "rt-port", "envd-port", "yaml-replicas", "ir-replicas",
                                                "tyger-replicas"]))
@PROPERTY
def test_numbers_in_every_notation_in_every_reader(tmp_path_factory, number, reader):
    work, env = _property_sandbox(tmp_path_factory)
    name, text, command = {
        "rt-retries": ("p.rt", f'env e {{ image = "busybox" }}\nnode N {{ env = e command = ["true"] retries = {number} }}\n', "check"),
        "rt-port": ("p.rt", f'env e {{ image = "busybox" expose {number} -> 0 }}\n', "check"),
        "envd-port": ("e/build.envd", f"def build():\n    base(image=\"busybox\")\n    runtime.expose(envd_port={number})\n", "check"),
        "yaml-replicas": ("p.yaml", f"namespace: n\ncodespecs:\n  c: {{image: busybox, command: ['true']}}\nruns:\n  r: {{codespec: c, replicas: {number}}}\n", "check"),
        "ir-replicas": ("p.json", _ir(raw=_ir().replace('"codespec": "c"', f'"codespec": "c", "replicas": {number}')), "check"),
        "tyger-replicas": ("r.yml", f"job:\n  codespec: {{image: busybox, command: ['true']}}\n  replicas: {number}\n", "check"),
    }[reader]
    path = work / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    args = [command, str(path)]
    outcome = run_limited(args, work, env)
    assert_no_traceback(outcome, args)
    if not number.isascii() or number.strip().lower() in ("inf", "-inf", "nan", "1e999") or len(number) > 100:
        assert outcome.code != 0, args


@given(depth=nesting, reader=st.sampled_from(["rt", "yaml", "envd", "ir", "tyger", "param"]))
@PROPERTY
def test_deep_nesting_in_every_reader_is_a_diagnostic(tmp_path_factory, depth, reader):
    work, env = _property_sandbox(tmp_path_factory)
    levels, dicts = depth
    value = ('{"k": ' * levels + "1" + "}" * levels) if dicts else ("[" * levels + "]" * levels)
    rt_value = ("{ k = " * levels + "1" + " }" * levels) if dicts else value
    name, text = {
        "rt": ("p.rt", 'env e { image = "busybox" }\nnode N { env = e inputs { x: json } command = ["true"] }\n'
                       f"graph g {{ a = N(x = {rt_value}) }}\n"),
        "yaml": ("p.yaml", f"namespace: n\nenvs:\n  e: {{image: busybox, environ: {{A: {json.dumps(value)}}}}}\nx: {value}\n"),
        "envd": ("e/build.envd", f"def build():\n    runtime.environ(env={{\"A\": {value}}})\n"),
        "ir": ("p.json", _ir(raw=_ir().replace('"value": 1', f'"value": {value}'))),
        "tyger": ("r.yml", f"job:\n  codespec: {{image: busybox, command: ['true']}}\n  tags: {value}\n"),
        "param": ("p.rt", PARAM_FILE),
    }[reader]
    path = work / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    args = ["run", str(path), "--param", f"j={value}"] if reader == "param" else \
        ["run" if reader == "ir" else "check", str(path)]
    outcome = run_limited(args, work, env)
    assert_no_traceback(outcome, args)
    assert outcome.code != 0, args
