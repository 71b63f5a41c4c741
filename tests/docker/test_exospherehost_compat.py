"""Exosphere node files, unchanged (`from exospherehost import Runtime, BaseNode`), as steps in rtc's images.

examples/exosphere/ carries the seed's node file byte for byte; the example
tests run it under Airflow and Prefect as well (tests/airflow, tests/prefect).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from docker_pipelines import PYTHON, Environment, lit, node, pipeline, step
from rtc.compiler import compile_file
from rtc.compiler.images import image_tag
from rtc.compiler.ir import BuildSpec, FileCopy
from rtc.integrations.images.build import ensure_image
from rtc.integrations.local.runner import format_failures, run_graph

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "exosphere"

# Exosphere's own spellings: signals named `...Singal`, nodes built without arguments, a script calling start().
EXOSPHERE_NODES = '''
from datetime import timedelta

from exospherehost import BaseNode, PruneSingal, ReQueueAfterSingal, Runtime  # noqa: F401
from pydantic import BaseModel


class Once(BaseNode):
    def __init__(self):
        super().__init__()
        self.greeting = "hi"

    class Inputs(BaseModel):
        name: str

    class Outputs(BaseModel):
        text: str

    async def execute(self) -> Outputs:
        if self.inputs.name == "prune":
            raise PruneSingal({"why": "asked"})
        return self.Outputs(text=f"{self.greeting} {self.inputs.name}")


if __name__ == "__main__":
    Runtime(namespace="N", name="R", nodes=[Once]).start()
'''


def test_the_seed_node_file_runs_unchanged(docker_client):
    text = (EXAMPLE / "nodes" / "main.py").read_text()
    assert text.startswith("from exospherehost import Runtime, BaseNode\n")
    assert "Runtime(\n    namespace=\"MyProject\",\n    name=\"MyRuntime\",\n    nodes=[MyNode]\n).start()" in text
    p = compile_file(str(EXAMPLE / "pipeline.rt"))
    result = run_graph(p, "basic", {"data": "seed"}, client=docker_client)
    assert result.status == "succeeded", format_failures(result)
    assert result.steps["my"].outputs == {"result": "Processed: seed"}


@pytest.fixture
def exo_env(tmp_path, docker_client, namespace):
    code = tmp_path / "code"
    code.mkdir()
    (code / "exonodes.py").write_text(textwrap.dedent(EXOSPHERE_NODES), encoding="utf-8")
    build = BuildSpec(base=PYTHON, python=True, copy_files=[FileCopy(host_path=str(code), container_path="/app", digest="t")])
    env = Environment(name="py", image=image_tag(namespace, "py", build), build=build, workdir="/app")
    ensure_image(docker_client, env, tmp_path, namespace=namespace, source=str(tmp_path / "p.rt"))
    yield env
    docker_client.images.remove(env.image, force=True)


def test_exosphere_spellings_and_a_script_runtime(tmp_path, docker_client, namespace, exo_env):
    p = pipeline(
        tmp_path,
        [node("Once", python="exonodes:Once", env="py", inputs=[("name", "str")], outputs=[("text", "str")]),
         # `python3 exonodes.py`: Runtime.start() sees the contract and runs its one node.
         node("Script", ["python3", "exonodes.py"], env="py", inputs=[("name", "str")], outputs=[("text", "str")]),
         node("Pruned", python="exonodes:Once", env="py", inputs=[("name", "str")], outputs=[("text", "str")])],
        [step("once", "Once", [("name", lit("there"), "str")]),
         step("script", "Script", [("name", lit("script"), "str")]),
         step("pruned", "Pruned", [("name", lit("prune"), "str")])],
        envs={"py": exo_env}, namespace=namespace,
    )
    result = run_graph(p, "g", {}, client=docker_client)
    assert result.status == "succeeded", format_failures(result)
    assert result.steps["once"].outputs == {"text": "hi there"}
    assert result.steps["script"].outputs == {"text": "hi script"}
    assert result.steps["pruned"].status == "pruned"


def test_runtime_start_outside_a_step_says_what_to_do(docker_client, exo_env):
    logs = docker_client.containers.run(exo_env.image, ["sh", "-c", "python3 exonodes.py; echo exit=$?"],
                                        working_dir="/app", remove=True, stderr=True, stdout=True).decode()
    assert "exit=2" in logs
    assert "rtc runs nodes itself" in logs and 'python = "exonodes:Once"' in logs
    assert "Traceback" not in logs
    logs = docker_client.containers.run(
        exo_env.image, ["sh", "-c", "python3 -c 'from exospherehost import StateManager; StateManager()'; echo exit=$?"],
        remove=True, stderr=True, stdout=True).decode()
    assert "exit=2" in logs and "rtc has no state manager" in logs and "Traceback" not in logs
