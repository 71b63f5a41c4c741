"""A Python node's ports read from its class's source (never imported), and checked against written ones."""

from __future__ import annotations

import textwrap

import pytest

from rtc.compiler import compile_file
from rtc.base.diagnostics import CompileError

NODES = '''
import pathlib
pathlib.Path(__file__).with_name("IMPORTED").write_text("the compiler imported me")

from typing import Any, Dict, List, Optional
from exospherehost import BaseNode
from pydantic import BaseModel, Field


class Base(BaseNode):
    class Secrets(BaseModel):
        API_KEY: str
        OTHER_KEY: str


class Split(Base):
    class Inputs(BaseModel):
        text: str
        limit: int = 10
        ratio: float = Field(0.5)
        flags: List[str] = Field(default=["a"])
        table: Dict[str, List[int]] = {}
        maybe: Optional[str] = None
        anything: Any
        required: str = Field(...)

    class Outputs(BaseModel):
        word: str
        ok: bool

    async def execute(self) -> list[Outputs]:
        return []


class Plain(BaseNode):
    class Inputs(BaseModel):  # empty: no ports (Exosphere's Runtime needs the models, E314)
        pass

    class Outputs(BaseModel):
        pass

    async def execute(self) -> "Outputs":
        return None
'''


def compile_text(tmp_path, rt):
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "nodes.py").write_text(textwrap.dedent(NODES), encoding="utf-8")
    path = tmp_path / "p.rt"
    path.write_text('env py { base = "python:3.11-slim"  copy "./code" -> "/app" }\n' + textwrap.dedent(rt), encoding="utf-8")
    return compile_file(str(path))


def test_ports_secrets_defaults_and_fanout_come_from_the_class(tmp_path):
    p = compile_text(tmp_path, 'node Split { env = py  python = "nodes:Split" }\n'
                               'node Plain { env = py  python = "nodes:Plain" }\n')
    split = p.nodes["Split"]
    assert [(i.name, i.type) for i in split.inputs] == [
        ("text", "str"), ("limit", "int"), ("ratio", "float"), ("flags", "list[str]"),
        ("table", "dict[str, list[int]]"), ("maybe", "json"), ("anything", "json"), ("required", "str")]
    assert [(o.name, o.type) for o in split.outputs] == [("word", "str"), ("ok", "bool")]
    assert split.secrets == ["API_KEY", "OTHER_KEY"]  # inherited from Base
    assert split.fanout is True
    assert (split.inputs[0].span.file, split.inputs[0].span.line) == ("code/nodes.py", 18)
    plain = p.nodes["Plain"]
    assert (plain.inputs, plain.outputs, plain.secrets, plain.fanout) == ([], [], [], False)
    assert not (tmp_path / "code" / "IMPORTED").exists()  # read, never imported


def test_defaults_bind_when_a_step_leaves_the_input_out(tmp_path):
    p = compile_text(tmp_path, 'node Split { env = py  python = "nodes:Split" }\n'
                               'graph g { s = Split(text = "a b", anything = 1, required = "x") }\n')
    bound = {i.name: i.binding.value for i in p.graphs["g"].steps[0].inputs}
    assert bound["limit"] == 10 and bound["flags"] == ["a"] and bound["maybe"] is None


def test_written_ports_that_agree_are_fine_and_narrow_json(tmp_path):
    p = compile_text(tmp_path, '''
        node Split {
          env = py  python = "nodes:Split"  fanout = false
          inputs { text: str, limit: int, ratio: float, flags: list[str], table: dict[str, list[int]],
                   maybe: str, anything: list[int], required: str }
          outputs { word: str, ok: bool }
          secrets { API_KEY, OTHER_KEY }
        }
    ''')
    assert p.nodes["Split"].fanout is False  # written wins
    assert [i.type for i in p.nodes["Split"].inputs][-3:] == ["str", "list[int]", "str"]


def test_disagreements_name_both_positions(tmp_path):
    with pytest.raises(CompileError) as err:
        compile_text(tmp_path, '''
            node Split {
              env = py  python = "nodes:Split"
              inputs { text: int, extra: str }
              outputs { word: str, ok: bool }
              secrets { API_KEY }
            }
        ''')
    found = sorted((d.code, d.span.file.rsplit("/", 1)[-1], d.span.line, d.message) for d in err.value.diagnostics)
    messages = [f[3] for f in found]
    assert {f[0] for f in found} == {"E409"} and {f[1] for f in found} == {"p.rt"}
    assert "input `text` of node `Split` is int here but str in Split.Inputs (code/nodes.py:18:9)" in messages
    assert any(m.startswith("input `extra` of node `Split` is not in Split.Inputs (code/nodes.py:17:5)") for m in messages)
    assert "Split.Inputs declares input `limit` (code/nodes.py:19:9), which node `Split` does not list" in messages
    assert "Split.Secrets declares secret `OTHER_KEY` (code/nodes.py:13:9), which node `Split` does not list" in messages


def test_a_module_from_a_pip_package_is_not_checked(tmp_path):
    p = compile_text(tmp_path, '''
        env pkg { base = "python:3.11-slim"  pip = ["somelib"]  copy "./code" -> "/app" }
        node N { env = pkg  python = "somelib.nodes:N"  inputs { x: str } }
    ''')
    assert [i.name for i in p.nodes["N"].inputs] == ["x"]


def test_missing_class_lists_the_classes_there(tmp_path):
    with pytest.raises(CompileError) as err:
        compile_text(tmp_path, 'node N { env = py  python = "nodes:Nope" }\n')
    (d,) = err.value.diagnostics
    assert (d.code, d.span.line) == ("E312", 2)
    assert d.message == "module 'nodes' (code/nodes.py) has no class 'Nope'" and "Base, Plain, Split" in d.hint


@pytest.mark.parametrize("body,line,message", [
    ("class N(BaseNode):\n    class Inputs(BaseModel):\n        pass\n    class Outputs(BaseModel):\n        pass\n",
     1, "class `N` has no `execute` method"),
    ("class N(BaseNode):\n    class Outputs(BaseModel):\n        x: str\n    async def execute(self):\n        pass\n",
     1, "class `N` has no Inputs model"),
    ("class N(BaseNode):\n    class Inputs(BaseModel):\n        pass\n    class Outputs(BaseModel):\n        pass\n"
     "    @abstractmethod\n    async def execute(self):\n        pass\n", 7, "`N.execute` is abstract"),
])
def test_what_exospheres_runtime_refuses_is_refused_at_check_time(tmp_path, body, line, message):
    """Issue 20, item 6: refused when checking, not a TypeError traceback when the step runs."""
    (tmp_path / "code").mkdir()
    header = "from abc import abstractmethod\nfrom exospherehost import BaseNode\nfrom pydantic import BaseModel\n"
    (tmp_path / "code" / "n.py").write_text(header + body, encoding="utf-8")
    (tmp_path / "p.rt").write_text('env py { base = "python:3.11-slim"  copy "./code" -> "/app" }\n'
                                   'node N { env = py  python = "n:N" }\n')
    with pytest.raises(CompileError) as err:
        compile_file(str(tmp_path / "p.rt"))
    (d,) = err.value.diagnostics
    assert d.code == "E314" and d.message.startswith(f"code/n.py:{line + 3}:") and message in d.message, d.message
