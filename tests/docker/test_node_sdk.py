"""The node SDK inside a real image: `python -m rtc.node module:Class` under the contract."""

from __future__ import annotations

import textwrap

import pytest

from docker_pipelines import PYTHON, Environment, lit, node, out, pipeline, step
from rtc.compiler.images import image_tag
from rtc.compiler.ir import BuildSpec, FileCopy
from rtc.integrations.docker.runner import format_failures, run_graph

NODES = '''
from pydantic import BaseModel
from rtc import BaseNode


class Split(BaseNode):
    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        word: str

    async def execute(self):
        return [self.Outputs(word=w) for w in self.inputs.text.split()]


class Shout(BaseNode):
    class Inputs(BaseModel):
        word: str

    class Outputs(BaseModel):
        loud: str
        length: int

    class Secrets(BaseModel):
        SUFFIX: str

    async def execute(self):
        return self.Outputs(loud=self.inputs.word.upper() + self.secrets.SUFFIX, length=len(self.inputs.word))


class Strict(BaseNode):
    class Inputs(BaseModel):
        n: int

    async def execute(self):
        return None
'''


@pytest.fixture
def python_env(tmp_path, docker_client, namespace):
    code = tmp_path / "code"
    code.mkdir()
    (code / "wordnodes.py").write_text(textwrap.dedent(NODES), encoding="utf-8")
    build = BuildSpec(base=PYTHON, python=True, copy_files=[FileCopy(host_path=str(code), container_path="/app", digest="test")])
    env = Environment(name="py", image=image_tag(namespace, "py", build), build=build)
    yield env
    try:
        docker_client.images.remove(env.image, force=True)
    except Exception:  # noqa: BLE001
        pass


def test_sdk_round_trip_with_fan_out_and_secrets(tmp_path, docker_client, namespace, python_env):
    p = pipeline(
        tmp_path,
        [
            node("Split", python="wordnodes:Split", env="py", inputs=[("text", "str")], outputs=[("word", "str")], fanout=True),
            node("Shout", python="wordnodes:Shout", env="py", inputs=[("word", "str")],
                 outputs=[("loud", "str"), ("length", "int")], secrets=["SUFFIX"]),
        ],
        [step("split", "Split", [("text", lit("hello big world"), "str")]),
         step("shout", "Shout", [("word", out("split", "word"), "str", True)])],
        envs={"py": python_env}, namespace=namespace,
    )
    result = run_graph(p, "g", {}, client=docker_client, environ={"SUFFIX": "!"})
    assert result.status == "succeeded", format_failures(result)
    assert result.steps["split"].outputs == {"word": ["hello", "big", "world"]}
    assert result.steps["shout"].outputs == {"loud": ["HELLO!", "BIG!", "WORLD!"], "length": [5, 3, 5]}


def test_sdk_rejects_inputs_that_do_not_match(tmp_path, docker_client, namespace, python_env):
    p = pipeline(
        tmp_path,
        [node("Strict", python="wordnodes:Strict", env="py", inputs=[("n", "json")])],
        [step("strict", "Strict", [("n", lit("not a number"), "json")])],
        envs={"py": python_env}, namespace=namespace,
    )
    result = run_graph(p, "g", {}, client=docker_client)
    assert result.status == "failed"
    failure = result.steps["strict"]
    assert failure.exit_code == 2
    text = format_failures(result)
    assert "inputs do not match Strict.Inputs" in text and "n: Input should be a valid integer" in text


# ---------------------------------------------------------------- the SDK in this process (same code, no container)

SDK_MODULE = '''
from pydantic import BaseModel
from rtc import BaseNode


class Pair(BaseNode):
    class Inputs(BaseModel):
        a: int
        b: int = 1

    class Outputs(BaseModel):
        total: int

    class Secrets(BaseModel):
        TOKEN: str

    async def execute(self):
        if self.inputs.a < 0:
            raise ValueError("negative")
        if self.inputs.a == 99:
            return {"total": "not a number"}
        return self.Outputs(total=self.inputs.a + self.inputs.b)
'''


@pytest.fixture
def sdk_module(tmp_path, monkeypatch):
    (tmp_path / "sdk_pair_nodes.py").write_text(SDK_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "sdk_pair_nodes:Pair"


@pytest.mark.parametrize(
    "inputs, secrets, code, expected",
    [
        ('{"a": 2, "b": 3}', {"TOKEN": "t0ps3cret"}, 0, '{"total": 5}'),
        ('{"a": "x"}', {"TOKEN": "t"}, 2, "a: Input should be a valid integer"),
        ('{"a": 1}', {}, 2, "TOKEN: Field required"),
        ('{"a": -1}', {"TOKEN": "t"}, 1, "execute() raised"),
        ('{"a": 99}', {"TOKEN": "t"}, 3, "does not match Pair.Outputs"),
        ("[1]", {"TOKEN": "t"}, 2, "must be a JSON object"),
    ],
)
def test_sdk_contract_in_process(tmp_path, sdk_module, capsys, inputs, secrets, code, expected):
    from rtc import node as sdk

    outputs = tmp_path / "outputs.json"
    environ = {"RTC_INPUTS": inputs, "RTC_OUTPUTS_FILE": str(outputs), **secrets}
    assert sdk.run(sdk_module, environ) == code
    shown = capsys.readouterr().err + (outputs.read_text() if outputs.exists() else "")
    assert expected in shown
    assert "t0ps3cret" not in shown
