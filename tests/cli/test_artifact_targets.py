"""Until Airflow and Prefect carry files between steps, compiling `file`/`dir` ports for them is one clear error."""

from __future__ import annotations

import subprocess
import sys

import pytest

SOURCE = ('namespace t\nenv bb { image = "busybox" }\n'
          'node A { env = bb  outputs { model: file }  command = ["true"] }\ngraph g {\n  a = A()\n}\n')


@pytest.mark.parametrize("target", ["airflow", "prefect"])
def test_compile_refuses_and_writes_nothing(tmp_path, target):
    (tmp_path / "p.rt").write_text(SOURCE, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "rtc", "compile", str(tmp_path / "p.rt"), "--target", target,
                           "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 1
    assert "port 'model' is a file; the " + target + " target does not carry files between steps yet" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()


def test_the_ir_target_carries_the_types(tmp_path):
    (tmp_path / "p.rt").write_text(SOURCE, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "rtc", "compile", str(tmp_path / "p.rt"), "--target", "ir"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and '"type": "file"' in done.stdout
