"""IR JSON given to run/exec/build/env is checked as strictly as source (issue 11, item 12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from rtc.compiler import compile_file
from rtc.base.diagnostics import RtcError
from rtc.compiler.ir_check import ir_problems, load_ir_file

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (REPO / "examples").rglob("*") if p.suffix in (".rt", ".yaml", ".yml") and p.stem != "envs")

BASE = {
    "ir_version": "1", "namespace": "irtest", "source": "pipeline.rt",
    "environments": {"e": {"name": "e", "image": "busybox"}},
    "nodes": {"N": {"name": "N", "env": "e", "command": ["true"], "inputs": [{"name": "x", "type": "json"}],
                    "outputs": [{"name": "y", "type": "str"}]}},
    "graphs": {"g": {"name": "g", "params": [{"name": "p", "type": "float", "default": 1.0, "required": False}],
                     "steps": [{"id": "a", "node": "N", "inputs": [{"name": "x", "type": "json", "binding": {"kind": "literal", "value": 1}}]},
                               {"id": "b", "node": "N", "upstream": ["a"],
                                "inputs": [{"name": "x", "type": "json", "binding": {"kind": "output", "step": "a", "output": "y"}}]}],
                     "order": ["a", "b"]}},
    "codespecs": {"c": {"name": "c", "image": "busybox", "command": ["true"]}},
    "runs": {"r": {"name": "r", "codespec": "c"}},
}


def variant(edit) -> dict:
    data = json.loads(json.dumps(BASE))
    edit(data)
    return data


def step0(data):
    return data["graphs"]["g"]["steps"][0]


BAD = {
    "step id with ../": (lambda d: step0(d).update(id="../../outside"), "step name"),
    "step id with a slash": (lambda d: step0(d).update(id="a/b"), "step name"),
    "bad image tag": (lambda d: d["environments"]["e"].update(image="Bad Image!"), "image reference"),
    "bad codespec image": (lambda d: d["codespecs"]["c"].update(image="x::y"), "image reference"),
    "bad base image": (lambda d: d["environments"]["e"].update(image="rtc/x:1", build={"base": "NO WAY", "copy_files": []}), "image reference"),
    "namespace with a slash": (lambda d: d.update(namespace="../x"), "namespace"),
    "unknown node": (lambda d: step0(d).update(node="Nope"), "no node"),
    "unknown env": (lambda d: d["nodes"]["N"].update(env="nope"), "no environment"),
    "unknown codespec": (lambda d: d["runs"]["r"].update(codespec="nope"), "no codespec"),
    "binding to a step not upstream": (lambda d: d["graphs"]["g"]["steps"][1].update(upstream=[]), "not upstream"),
    "binding to an unknown output": (lambda d: d["graphs"]["g"]["steps"][1]["inputs"][0]["binding"].update(output="zz"), "no output"),
    "binding to an unknown param": (lambda d: step0(d)["inputs"][0].update(binding={"kind": "param", "param": "q"}), "no param"),
    "input the node lacks": (lambda d: step0(d)["inputs"][0].update(name="zz"), "has no input"),
    "cycle": (lambda d: step0(d).update(upstream=["b"]), "cycle between steps"),
    "order of other steps": (lambda d: d["graphs"]["g"].update(order=["a"]), "order"),
    "bad type": (lambda d: d["nodes"]["N"]["inputs"][0].update(type="list[nope]"), "unknown type"),
    "deep type": (lambda d: d["nodes"]["N"]["inputs"][0].update(type="list[" * 100 + "str" + "]" * 100), "nested"),
    "environ name": (lambda d: d["environments"]["e"].update(environ={"1BAD": "x"}), "environment variable"),
    "environ NUL": (lambda d: d["environments"]["e"].update(environ={"A": "x\u0000y"}), "NUL"),
    "secret name": (lambda d: d["nodes"]["N"].update(secrets=["$(rm -rf)"]), "environment variable"),
    "copy absolute": (lambda d: d["environments"]["e"].update(image="rtc/x:1", build={"base": "busybox", "copy_files": [
        {"host_path": "/etc/shadow", "container_path": "/x", "digest": "0"}]}), "absolute"),
    "copy dotdot": (lambda d: d["environments"]["e"].update(image="rtc/x:1", build={"base": "busybox", "copy_files": [
        {"host_path": "../../../etc", "container_path": "/x", "digest": "0"}]}), "leaves"),
    "timeout too long": (lambda d: d["nodes"]["N"].update(timeout_seconds=1e300), "longer than a year"),
    "negative timeout": (lambda d: d["nodes"]["N"].update(timeout_seconds=-1), "longer than zero"),
    "retries": (lambda d: d["nodes"]["N"].update(retry={"max_retries": 10**9}), "max_retries"),
    "retry delay": (lambda d: d["nodes"]["N"].update(retry={"delay_seconds": 1e200}), "longer than a year"),
    "retry exponent": (lambda d: d["nodes"]["N"].update(retry={"exponent": -2}), "exponent"),
    "graph default retries": (lambda d: step0(d).update(retry={"max_retries": 10**9}), "steps[0].retry"),
    "replicas": (lambda d: d["runs"]["r"].update(replicas=10**6), "replicas"),
    "workers": (lambda d: d["graphs"]["g"].update(workers=0), "workers"),
    "bad cron": (lambda d: d["graphs"]["g"].update(schedule="61 * * * *"), "schedule"),
    "long tag": (lambda d: d["graphs"]["g"].update(tags=["t" * 101]), "100"),
    "long run tag": (lambda d: d["runs"]["r"].update(tags={"k": "v" * 100}), "100"),
    "codespec name": (lambda d: d["codespecs"].update({"../c": {**d["codespecs"]["c"], "name": "../c"}}), "Tyger name"),
    "buffer id": (lambda d: d["runs"]["r"].update(buffers={"input": "../../etc"}), "Tyger name"),
    "entry renamed": (lambda d: d["nodes"]["N"].update(name="M"), "named"),
    "port": (lambda d: d["environments"]["e"].update(expose=[{"container_port": 70000}]), "out of range"),
    "param name": (lambda d: d["graphs"]["g"]["params"][0].update(name="not-python"), "identifier"),
    # What pydantic checks when it reads IR JSON (the IR classes are dataclasses, validated at this boundary only).
    "unknown field": (lambda d: d["nodes"]["N"].update(colour="red"), "at nodes.N.colour: Unexpected keyword argument"),
    "unknown binding kind": (lambda d: step0(d)["inputs"][0].update(binding={"kind": "magic", "value": 1}),
                             "does not match any of the expected tags"),
    "binding missing its field": (lambda d: step0(d)["inputs"][0].update(binding={"kind": "output", "step": "a"}), "binding.output.output"),
    "string for a number": (lambda d: d["runs"]["r"].update(replicas="many"), "at runs.r.replicas: Input should be a valid integer"),
    "unknown jitter": (lambda d: d["nodes"]["N"].update(retry={"jitter": "some"}), "at nodes.N.retry.jitter"),
    "wrong IR version": (lambda d: d.update(ir_version="2"), "at ir_version"),
    "lone surrogate": (lambda d: step0(d)["inputs"][0]["binding"].update(value="\ud800"), "not rtc IR JSON"),  # pydantic refuses it
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_ir_is_refused_naming_the_place(tmp_path, case):
    edit, expected = BAD[case]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(variant(edit), ensure_ascii=True), encoding="utf-8")
    with pytest.raises(RtcError) as info:
        load_ir_file(str(path))
    assert expected in str(info.value), str(info.value)


def test_the_base_ir_is_fine(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(BASE))
    assert load_ir_file(str(path)).graphs["g"].order == ["a", "b"]


@pytest.mark.parametrize("text, expected", [
    ('{"ir_version": "1", "namespace": "x", "source": "s", "nodes": {}, "graphs": NaN}', "NaN"),
    ("[" * 10_000 + "]" * 10_000, "nested"),
    ('{"ir_version": "1"', "not rtc IR JSON"),
    ("", "not rtc IR JSON"),
])
def test_bad_json_is_refused(tmp_path, text, expected):
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(RtcError, match=expected):
        load_ir_file(str(path))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_compiled_example_passes_the_ir_check(example):
    pipeline = compile_file(str(example))
    assert ir_problems(pipeline, example.parent) == []


def test_rtc_run_of_ir_with_a_traversing_step_id_creates_nothing_outside(tmp_path):
    """The reported attack: a step id `../x` made rtc create and mount a folder outside its temp folder."""
    data = variant(lambda d: step0(d).update(id="../../rtc-escaped-" + tmp_path.name))
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    before = set(os.listdir(tempfile.gettempdir())) | set(os.listdir(Path(tempfile.gettempdir()).parent))
    for args in (["run", str(path)], ["build", str(path)], ["exec", "-f", str(path)], ["env", "up", str(path), "e"]):
        done = subprocess.run([sys.executable, "-m", "rtc", *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done
        assert "step name" in done.stderr and "Traceback" not in done.stderr, done.stderr
    after = set(os.listdir(tempfile.gettempdir())) | set(os.listdir(Path(tempfile.gettempdir()).parent))
    assert not [n for n in after - before if "rtc-escaped" in n]
