"""The compiler's commands through a real subprocess: exit codes, output, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RTC = [sys.executable, "-m", "rtc"]
INVALID = sorted((REPO / "tests" / "invalid").glob("*.rt"))

GOOD = textwrap.dedent("""\
    namespace demo
    env py { base = "python:3.11-slim" }
    node A { env = py outputs { rows: list[str] } command = ["true"] }
    node B { env = py inputs { row: str } command = ["true"] }
    graph g { a = A() b = B(row = each(a.rows)) c = B(row = "x") after [a] }
    codespec hello { image = "ubuntu" }
    run greet { codespec = hello }
    """)


def rtc(*args, cwd=None):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(RTC + list(args), capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.rt"
    path.write_text(GOOD, encoding="utf-8")
    return path


def test_check_ok(good):
    result = rtc("check", str(good))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ok: {good} (1 graph, 1 run)\n"


def test_check_every_invalid_file_in_one_call_without_traceback():
    result = rtc("check", *[str(p) for p in INVALID])
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    for path in INVALID:
        code = path.read_text().split()[2]
        assert f"{path}:" in result.stderr and f"error[{code}]" in result.stderr
    assert "| " in result.stderr and "^" in result.stderr  # source line and caret


def test_check_json_format(good, tmp_path):
    bad = tmp_path / "bad.rt"
    bad.write_text('env py { base = "python:3.11-slim" }\nnode A { env = pyy command = ["true"] }\n')
    result = rtc("check", "--format", "json", str(good), str(bad))
    assert result.returncode == 1
    files = json.loads(result.stdout)["files"]
    assert files[0] == {"file": str(good), "ok": True, "graphs": 1, "runs": 1, "diagnostics": []}
    [d] = files[1]["diagnostics"]
    assert (d["code"], d["line"], d["col"], d["hint"]) == ("E300", 2, 16, "did you mean `py`?")


def test_check_missing_file_is_an_error_not_a_traceback(tmp_path):
    result = rtc("check", str(tmp_path / "nope.rt"))
    assert result.returncode == 1 and "Traceback" not in result.stderr and "nope.rt" in result.stderr


def test_compile_ir_is_deterministic_and_relative(good, tmp_path):
    first = rtc("compile", "good.rt", "--target", "ir", cwd=good.parent)
    second = rtc("compile", "good.rt", "--target", "ir", cwd=good.parent)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert str(tmp_path) not in first.stdout
    data = json.loads(first.stdout)
    assert data["source"] == "good.rt" and data["graphs"]["g"]["order"] == ["a", "b", "c"]


def test_graph_mermaid_and_dot(good):
    mermaid = rtc("graph", str(good))
    assert mermaid.returncode == 0, mermaid.stderr
    assert mermaid.stdout.startswith("flowchart TD\n") and '-->|"each(rows → row)"|' in mermaid.stdout
    assert "-.->|\"after\"|" in mermaid.stdout
    dot = rtc("graph", str(good), "g", "--format", "dot")
    assert dot.returncode == 0 and dot.stdout.startswith("digraph rtc {") and "style=dashed" in dot.stdout


def test_graph_unknown_name(good):
    result = rtc("graph", str(good), "gg")
    assert result.returncode == 1 and "has no graph 'gg'" in result.stderr and "did you mean `g`?" in result.stderr


def test_schema_is_deterministic_json_schema():
    first, second = rtc("schema"), rtc("schema")
    assert first.returncode == 0 and first.stdout == second.stdout
    schema = json.loads(first.stdout)
    assert schema["title"] == "Pipeline" and "Graph" in schema["$defs"]


HEAVY = ("airflow", "prefect", "docker", "pydantic", "lark", "yaml", "jinja2", "pygls", "lsprotocol", "watchfiles")


def test_help_does_not_import_heavy_libraries():
    """`rtc --help` lists every command (the editor's included) and imports none of the heavy libraries."""
    code = (
        "import sys, contextlib, io\n"
        "from rtc.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m.startswith(('rtc.lsp', 'rtc.dsl.format')))\n"
        "print(heavy)\n"
        "print('fmt' in out.getvalue() and 'lsp' in out.getvalue())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["[]", "True"]


@pytest.mark.parametrize("command", ["ls", "clear"])
def test_cache_dir_that_is_no_folder_is_one_message(tmp_path, command):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for path in (tmp_path / "missing", a_file):
        result = rtc("cache", command, "--dir", str(path))
        assert result.returncode == 1
        assert result.stderr.startswith(f"error: no cache folder at {path}\n") and "Traceback" not in result.stderr
    assert a_file.read_text() == "x"


def test_run_and_check_start_without_pydantic_and_without_generated_docstrings():
    """What `rtc check` and `rtc run` import builds no pydantic model, and every dataclass there has a docstring:
    without one, dataclass() computes one with inspect.signature, ~40 % of the classes' start-up."""
    code = (
        "import sys, dataclasses\n"
        "import rtc.cli.check_cmd, rtc.compiler.driver, rtc.dsl.fast_parser, rtc.compile_cache\n"
        "import rtc.integrations.local.runner, rtc.integrations.tyger.runs\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'))\n"
        "print(sorted(f'{name}.{v.__name__}' for name, mod in list(sys.modules.items()) if name.startswith('rtc')"
        " for v in list(vars(mod).values()) if isinstance(v, type) and dataclasses.is_dataclass(v)"
        " and v.__module__ == name and (v.__doc__ or '').startswith(v.__name__ + '(')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["[]", "[]"], result.stdout


@pytest.mark.parametrize(
    "command", ["check", "compile", "graph", "schema", "build", "run", "exec", "codespec", "buffer", "env", "deploy"]
)
def test_subcommand_help(command):
    result = rtc(command, "--help")
    assert result.returncode == 0 and "usage: rtc" in result.stdout


def test_the_readme_language_example_checks(tmp_path):
    """The pipeline README.md shows under "The language in one screen" is real and valid."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("## The language in one screen\n\n```\n", 1)[1].split("```", 1)[0]
    (tmp_path / "nodes").mkdir()  # what `copy "./nodes" -> "/app"` bakes in
    (tmp_path / "pipeline.rt").write_text(block, encoding="utf-8")
    result = rtc("check", str(tmp_path / "pipeline.rt"))
    assert result.returncode == 0, result.stderr
    assert "(1 graph, 1 run)" in result.stdout


def test_recompiling_removes_files_of_a_renamed_graph_and_check_reports_them(tmp_path):
    source = tmp_path / "p.rt"
    body = 'namespace M\nenv e {{ image = "busybox" }}\nnode A {{ env = e command = ["true"] }}\ngraph {} {{ a = A() }}\n'
    out = tmp_path / "dags"
    out.mkdir()
    (out / "someone_elses_dag.py").write_text("# not rtc's\n")
    source.write_text(body.format("old"))
    assert rtc("compile", str(source), "--target", "airflow", "-o", str(out)).returncode == 0
    assert (out / "M__old.py").is_file()

    source.write_text(body.format("new"))
    check = rtc("compile", str(source), "--target", "airflow", "-o", str(out), "--check")
    assert check.returncode == 1 and "no longer generated" in check.stderr and "M__old.py" in check.stderr
    assert (out / "M__old.py").is_file()  # --check writes and removes nothing

    done = rtc("compile", str(source), "--target", "airflow", "-o", str(out))
    assert done.returncode == 0 and "removed" in done.stderr
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("rtc_runtime_"))
    assert names == [".airflowignore", ".rtc-manifest.json", "M__new.py", "someone_elses_dag.py"]
    assert len(list(out.glob("rtc_runtime_*"))) == 1  # the runtime package, beside the DAGs
    again = rtc("compile", str(source), "--target", "airflow", "-o", str(out), "--check")
    assert again.returncode == 0, again.stderr
