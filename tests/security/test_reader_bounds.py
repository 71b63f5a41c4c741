"""Readers without bounds (issue 21, class 5): the build.envd reader.

Numbers of thousands of digits, lists and dicts nested thousands deep, ports
written in other digits: a diagnostic at the position, never a traceback.
Large files are read in linear time and memory (figures: benchmarks/envd_bench.py;
here only a coarse safety bound, measured in a child process with wait4).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from rtc.base.diagnostics import CompileError
from rtc.dsl.envd_file import parse_envd


def diagnostics(text: str):
    with pytest.raises(CompileError) as err:
        parse_envd(text, "/x/e/build.envd")
    return [(d.code, d.span.line, d.span.col, d.message) for d in err.value.diagnostics]


@pytest.mark.parametrize("text,code,col", [
    ("runtime.expose(envd_port=" + "9" * 5000 + ")", "E003", 30),
    ("runtime.expose(envd_port=-" + "9" * 5000 + ")", "E003", 30),
    ("runtime.expose(envd_port=1" + "0" * 5000 + ".5)", "E003", 30),
    ("runtime.expose(envd_port=1e999)", "E003", 30),
    ("runtime.expose(envd_port=1e99999999999)", "E003", 30),
    ("install.apt_packages(name=" + "[" * 3000 + "]" * 3000 + ")", "E010", None),
    ("runtime.environ(env=" + '{"a": ' * 3000 + "1" + "}" * 3000 + ")", "E010", None),
    ("runtime.daemon(commands=" + "[{'k': " * 1500 + "1" + "}]" * 1500 + ")", "E010", None),
    ("install.apt_packages(name=" + "[" * 100000 + ")", "E010", None),
    ('runtime.expose(envd_port="²")', "E004", 30),
    ('runtime.expose(envd_port="١")', "E004", 30),
    ('runtime.expose(envd_port="99999999999999999999")', "E004", 30),
    ("runtime.expose(envd_port=١)", "E002", 30),
    ("base(image='" + "x" * 10 + ")", "E001", 16),
])
def test_hostile_values_are_diagnostics_at_their_position(text, code, col):
    found = diagnostics(f"def build():\n    {text}\n")
    assert [c for c, *_ in found] == [code], found
    assert found[0][1] == 2 and (col is None or found[0][2] == col), found


def test_nesting_up_to_the_bound_is_read():
    deep = "[" * 64 + "]" * 64
    with pytest.raises(CompileError) as err:  # read fine; only the meaning is wrong (not a list of strings)
        parse_envd(f"def build():\n    install.apt_packages(name={deep})\n", "b.envd")
    assert all(d.code != "E010" for d in err.value.diagnostics)


def test_many_calls_add_up_in_order():
    calls = "".join(f'    install.python_packages(name=["p{i}"])\n' for i in range(2000))
    module = parse_envd("def build():\n" + calls, "/x/e/build.envd")
    (pip,) = [i for i in module.blocks[0].items if getattr(i, "name", None) == "pip"]
    assert [v.value for v in pip.value.items] == [f"p{i}" for i in range(2000)]


def test_crlf_and_tabs_and_continuations_read_as_envd_does():
    text = 'def build():\r\n\tbase(image="a")  # c\r\n\tinstall.apt_packages(name=[\r\n  "curl",\r\n])\r\n\truntime.init(\\\r\n  commands=["x"])\r\n'
    items = parse_envd(text, "/x/e/build.envd").blocks[0].items
    assert [type(i).__name__ for i in items] == ["Attr", "InitStmt", "Attr"]


def test_an_eight_mb_file_is_read_within_coarse_bounds(tmp_path):
    """Not a timing assertion: a safety bound (60 s CPU, 700 MiB peak, as docs/security.md states)."""
    path = tmp_path / "e" / "build.envd"
    path.parent.mkdir()
    lines = ["def build():", '    base(image="python:3.11-slim")']
    size, i = 0, 0
    while size < 8_000_000:
        line = f'    install.python_packages(name=["pkg{i}", "other{i}"])'
        lines.append(line)
        size += len(line) + 1
        i += 1
    path.write_text("\n".join(lines) + "\n")
    script = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
        from rtc.dsl.envd_file import parse_envd
        parse_envd(open({str(path)!r}).read(), {str(path)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read()
    assert usage.ru_maxrss < 700 * 1024, f"peak {usage.ru_maxrss / 1024:.0f} MiB"
