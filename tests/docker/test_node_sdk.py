"""The node SDK inside a real image: `python -m rtc.node module:Class` under the contract."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel

from docker_pipelines import PYTHON, Environment, lit, node, out, pipeline, step
from rtc.compiler.images import image_tag
from rtc.compiler.ir import BuildSpec, FileCopy
from rtc.integrations.local.runner import format_failures, run_graph
from rtc.node import BaseNode, run_class

NODES = '''
from pydantic import BaseModel
from rtc import BaseNode, PruneSignal


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


class Gate(BaseNode):
    class Inputs(BaseModel):
        word: str

    class Outputs(BaseModel):
        word: str

    async def execute(self):
        if self.inputs.word == "stop":
            raise PruneSignal()
        return self.Outputs(word=self.inputs.word)
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


def test_sdk_prune_signal_skips_the_steps_below(tmp_path, docker_client, namespace, python_env, capsys):
    p = pipeline(
        tmp_path,
        [
            node("Gate", python="wordnodes:Gate", env="py", inputs=[("word", "str")], outputs=[("word", "str")]),
            node("Shout", python="wordnodes:Shout", env="py", inputs=[("word", "str")],
                 outputs=[("loud", "str"), ("length", "int")], secrets=["SUFFIX"]),
        ],
        [step("gate", "Gate", [("word", lit("stop"), "str")]),
         step("shout", "Shout", [("word", out("gate", "word"), "str")])],
        envs={"py": python_env}, namespace=namespace,
    )
    result = run_graph(p, "g", {}, client=docker_client, environ={"SUFFIX": "!"})
    assert result.status == "succeeded", format_failures(result)
    assert result.steps["gate"].status == "pruned"
    assert result.steps["shout"].status == "skipped"
    assert "rtc: gate pruned" in capsys.readouterr().err


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


SIGNAL_MODULE = '''
import datetime

from pydantic import BaseModel
from rtc import BaseNode, PruneSignal, ReQueueAfterSignal


class Signals(BaseNode):
    class Inputs(BaseModel):
        what: str

    class Outputs(BaseModel):
        done: bool

    def execute(self):
        if self.inputs.what == "prune":
            raise PruneSignal()
        if self.inputs.what == "later":
            raise ReQueueAfterSignal(datetime.timedelta(seconds=1.5))
        if self.inputs.what == "now":
            raise ReQueueAfterSignal(0)
        if self.inputs.what == "past":
            raise ReQueueAfterSignal(-1)
        return self.Outputs(done=True)
'''


@pytest.mark.parametrize(
    "what, code, signal",
    [
        ("prune", 0, '{"signal": "prune"}'),
        ("later", 0, '{"signal": "requeue", "delay_seconds": 1.5}'),
        ("now", 0, '{"signal": "requeue", "delay_seconds": 0.0}'),
        ("past", 1, None),  # a negative delay is a bug in execute(): it raised ValueError
        ("done", 0, None),
    ],
)
def test_sdk_signals_in_process(tmp_path, monkeypatch, what, code, signal):
    from rtc import node as sdk
    from rtc.runtime import step

    (tmp_path / "sdk_signal_nodes.py").write_text(SIGNAL_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    outputs, signal_file = tmp_path / "outputs.json", tmp_path / "signal.json"
    environ = {"RTC_INPUTS": f'{{"what": "{what}"}}', "RTC_OUTPUTS_FILE": str(outputs), "RTC_SIGNAL_FILE": str(signal_file)}
    assert sdk.run("sdk_signal_nodes:Signals", environ) == code
    if signal is None:
        assert not signal_file.exists()
    else:
        assert signal_file.read_text() == signal
        step.decode_signal(signal_file.read_text(), "step")  # what the runners accept
        assert not outputs.exists()  # a signal writes no outputs


def test_sdk_signal_without_a_signal_file_fails_the_step(tmp_path, monkeypatch, capsys):
    from rtc import node as sdk

    (tmp_path / "sdk_signal_nodes.py").write_text(SIGNAL_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert sdk.run("sdk_signal_nodes:Signals", {"RTC_INPUTS": '{"what": "prune"}'}) == 1
    assert "RTC_SIGNAL_FILE is not set" in capsys.readouterr().err


def test_signals_are_exported_lazily():
    import rtc
    from rtc import node as sdk

    assert rtc.PruneSignal is sdk.PruneSignal and rtc.ReQueueAfterSignal is sdk.ReQueueAfterSignal
    assert sdk.ReQueueAfterSignal(2).delay_seconds == 2.0
    with pytest.raises(TypeError):
        sdk.ReQueueAfterSignal("2")


class CopyTwice(BaseNode):
    """Reads its `data` file, leaves twice its bytes in a file of its own choosing as `doubled`."""

    class Inputs(BaseModel):
        data: Path

    class Outputs(BaseModel):
        doubled: Path
        size: int

    async def execute(self):
        left = self.inputs.data.with_name("elsewhere.bin")
        left.write_bytes(self.inputs.data.read_bytes() * 2)
        return self.Outputs(doubled=left, size=self.inputs.data.stat().st_size)


def test_sdk_path_fields_are_file_ports(tmp_path):
    """`pathlib.Path` fields are file/dir ports: an input is the path the runner gives, an output is moved to its
    <NAME>_PATH when the node left it elsewhere, and neither travels in the outputs JSON."""
    (tmp_path / "in.bin").write_bytes(b"abc")
    environ = {"RTC_INPUTS": json.dumps({"data": str(tmp_path / "in.bin")}), "DOUBLED_PATH": str(tmp_path / "out.bin"),
               "RTC_OUTPUTS_FILE": str(tmp_path / "outputs.json")}
    assert run_class(CopyTwice, "t:CopyTwice", environ) == 0
    assert json.loads((tmp_path / "outputs.json").read_text()) == {"size": 3}
    assert (tmp_path / "out.bin").read_bytes() == b"abcabc" and not (tmp_path / "elsewhere.bin").exists()
