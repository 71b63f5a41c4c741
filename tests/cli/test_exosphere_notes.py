"""Issue 20, item 6: the Runtime's arguments and EXOSPHERE_* variables rtc ignores are named once, at check time."""

from __future__ import annotations

import json
import os
import subprocess
import sys

NODE = '''\
import os

from exospherehost import BaseNode, Runtime
from pydantic import BaseModel


class Hello(BaseNode):
    class Inputs(BaseModel):
        name: str

    class Outputs(BaseModel):
        greeting: str

    async def execute(self) -> Outputs:
        return self.Outputs(greeting="hi " + self.inputs.name)


Runtime(namespace="Demo", name="demo-runtime", nodes=[Hello],
        state_manager_uri=os.getenv("EXOSPHERE_STATE_MANAGER_URI"), key=os.getenv("EXOSPHERE_API_KEY"),
        batch_size=4, workers=2).start()
'''


def rtc(*args, cwd):
    return subprocess.run([sys.executable, "-m", "rtc", *args], capture_output=True, text=True, cwd=cwd, env=dict(os.environ))


def test_ignored_runtime_arguments_are_named_once(tmp_path):
    (tmp_path / "nodes").mkdir()
    (tmp_path / "nodes" / "main.py").write_text(NODE)
    (tmp_path / "p.rt").write_text('namespace Demo\nenv py { base = "python:3.11-slim"  copy "./nodes" -> "/app" }\n'
                                   'node Hello { env = py  python = "main:Hello" }\n')
    first = rtc("check", "p.rt", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "warning: nodes/main.py:18: Runtime(name=..., state_manager_uri=..., key=..., batch_size=..., workers=...) is ignored" in first.stderr
    assert "workers: the graph's `workers` (or `rtc run --workers N`)" in first.stderr
    assert "warning: nodes/main.py:19: EXOSPHERE_STATE_MANAGER_URI is not set by rtc" in first.stderr
    assert "EXOSPHERE_API_KEY is not set by rtc" in first.stderr
    again = rtc("check", "p.rt", cwd=tmp_path)  # unchanged: not compiled again, not said again
    assert again.returncode == 0 and "warning" not in again.stderr
    (tmp_path / "p.rt").write_text((tmp_path / "p.rt").read_text() + "\n")
    as_json = json.loads(rtc("check", "p.rt", "--format", "json", cwd=tmp_path).stdout)
    assert len(as_json["files"][0]["warnings"]) == 3
