"""`file`/`dir` ports compile for every target: the IR carries their types, the DAG and the flow their ports."""

from __future__ import annotations

import subprocess
import sys

import pytest

SOURCE = ('namespace t\nenv bb { image = "busybox" }\n'
          'node A { env = bb  outputs { model: file }  command = ["true"] }\n'
          'node B { env = bb  inputs { model: file }  command = ["true"] }\n'
          'graph g {\n  a = A()\n  b = B(model = a.model)\n}\n')


def compile_to(tmp_path, target):
    (tmp_path / "p.rt").write_text(SOURCE, encoding="utf-8")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "rtc", "compile", str(tmp_path / "p.rt"), "--target", target,
                           "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return (out / "t__g.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("target, words", [
    ("airflow", ['artifact_inputs={"model": "file"}', 'outputs={"model": "file"}']),
    ("prefect", ['inputs={"model": "file"}', 'outputs={"model": "file"}']),
])
def test_artifact_ports_reach_the_generated_code(tmp_path, target, words):
    text = compile_to(tmp_path, target)
    for word in words:
        assert word in text


def test_the_ir_target_carries_the_types(tmp_path):
    (tmp_path / "p.rt").write_text(SOURCE, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "rtc", "compile", str(tmp_path / "p.rt"), "--target", "ir"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and '"type": "file"' in done.stdout
