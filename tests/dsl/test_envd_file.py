"""envd's build.envd as an environment source: the Starlark subset, what maps to what, and errors with positions."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from rtc.compiler import compile_file
from rtc.base.diagnostics import CompileError
from rtc.dsl.envd_file import parse_envd

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "envd"


def env_json(path: Path, name: str) -> dict:
    env = json.loads(compile_file(str(path)).to_json(spans=False))["environments"][name]
    env.pop("image")  # content-addressed: the build spec is compared instead
    return env


def test_build_envd_gives_the_env_its_rt_rewrite_gives():
    assert env_json(EXAMPLE / "pipeline.rt", "trainer") == env_json(EXAMPLE / "pipeline-rt.rt", "trainer")


def test_every_function_maps():
    env = compile_file(str(EXAMPLE / "pipeline.rt")).environments["trainer"]
    assert env.build.base == "python:3.11-slim" and env.build.pip == ["tabulate==0.9.0"]
    assert [(c.host_path, c.container_path) for c in env.build.copy_files] == [("trainer/code", "/app")]
    assert env.environ["GREETING"] == "hello from envd" and env.environ["PATH"].startswith("/app/bin:")
    assert [(m.host_path, m.container_path) for m in env.mounts] == [("trainer/site", "/site")]
    assert [(e.container_port, e.host_port, e.host_ip, e.service) for e in env.expose] == [(8000, 0, "127.0.0.1", "web")]
    assert env.init == ["echo init ran > /tmp/init-ran"]
    assert env.daemons[0][-2:] == [">>/tmp/serving.log", "2>&1"]
    assert env.commands == {"hello": "echo $GREETING; python3 /app/hello.py"}


def write(tmp_path, rel, text):
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_named_by_folder_or_by_the_import(tmp_path):
    write(tmp_path, "gpu/build.envd", 'def build():\n    base(image="busybox")\n')
    main = write(tmp_path, "p.rt", 'import "gpu/build.envd"\nimport "gpu/build.envd" as trainer\n')
    p = compile_file(str(main))
    assert sorted(p.environments) == ["gpu", "trainer"]
    yaml_main = write(tmp_path, "p.yaml", "imports: [gpu/build.envd, {path: gpu/build.envd, as: other}]\n")
    assert sorted(compile_file(str(yaml_main)).environments) == ["gpu", "other"]


def test_positional_arguments_strings_and_comments():
    module = parse_envd(textwrap.dedent('''\
        # syntax=v1
        def build():
            base("python:3.11-slim")  # positional, as Starlark allows
            install.apt_packages(name="curl")
            runtime.expose(8000, 8080, "api")
            runtime.command(commands={'a': 'say "hi"\\n', "b": "x" "y"})
            pass
    '''), "/x/env/build.envd")
    (block,) = module.blocks
    assert block.name == "env"
    kinds = [type(i).__name__ for i in block.items]
    assert kinds == ["Attr", "ExposeStmt", "CommandStmt", "CommandStmt", "Attr"]
    assert block.items[2].command.value == 'say "hi"\n' and block.items[3].command.value == "xy"
    assert block.items[1].host_port.value == 8080


@pytest.mark.parametrize("text,line,col,message", [
    ("def build():\n    x = 1\n", 2, 7, "unexpected '='"),
    ("def build():\n    for p in []:\n        pass\n", 2, 9, "unexpected"),
    ("PORT = 8000\ndef build():\n    pass\n", 1, 1, "a variable (PORT = ...) outside a function is not read"),
    ("def build():\n    base(image=IMAGE)\n", 2, 16, "unexpected"),
    ("def build():\n    install.conda_packages(name=[\"x\"])\n", 2, 5, "install.conda_packages() is not supported: rtc builds"),
    ("def build():\n    runtime.expose(envd_port=\"http\")\n", 2, 30, "must be a port number"),
    ("def build():\n    runtime.mount(host_path=\"/a\")\n", 2, 5, "`envd_path` must be a string"),
    ("def build():\n    base(oss=\"ubuntu20.04\")\n", 2, 10, "base() has no keyword 'oss'"),
    ("def other():\n    pass\n", 1, 1, "an envd file needs `def build():`"),
    ("def build():\n  base(image='a')\n    base(image='b')\n", 3, 5, "unexpected indentation"),
    ("def build():\n    base(image='a\\q')\n", 2, 18, "unknown escape"),
])
def test_beyond_the_subset_is_an_error_with_a_position(tmp_path, text, line, col, message):
    with pytest.raises(CompileError) as err:
        parse_envd(text, "build.envd")
    found = [(d.span.line, d.span.col, d.message) for d in err.value.diagnostics]
    assert any(line == at and col == c and message in m for at, c, m in found), found


def test_errors_in_an_imported_envd_are_reported_there(tmp_path):
    write(tmp_path, "e/build.envd", "def build():\n    run(commands=['make'])\n")
    with pytest.raises(CompileError) as err:
        compile_file(str(write(tmp_path, "p.rt", 'import "e/build.envd"\n')))
    (d,) = err.value.diagnostics
    assert (d.span.file.endswith("e/build.envd"), d.span.line, d.span.col) == (True, 2, 5)
    assert "run() is not supported by rtc" in d.message


def test_yaml_takes_envds_keyword_names_and_types(tmp_path):
    yaml_env = write(tmp_path, "a/p.yaml", """\
        namespace: k
        envs:
          web:
            image: busybox
            env: {MODE: dev}
            python_packages: [x]
            apt_packages: [y]
            mounts: [{host_path: ./data, envd_path: /data}]
            copy: [{host_path: ./code, envd_path: /app}]
            expose:
              - {envd_port: "8000", host_port: "0", service: api, listen_addr: 0.0.0.0}
              - {envd_port: 9000, host_port: 9001}
            daemon: [["python3", "s.py", ">>s.log", "2>&1"]]
            commands: {train: python3 train.py}
    """)
    rt_env = write(tmp_path, "b/p.rt", """\
        namespace k
        env web {
          image = "busybox"
          environ = { MODE = "dev" }
          pip = ["x"]
          apt = ["y"]
          mount "./data" -> "/data"
          copy "./code" -> "/app"
          expose 8000 -> 0 on "0.0.0.0" service "api"
          expose 9000 -> 9001
          daemon ["python3", "s.py", ">>s.log", "2>&1"]
          command train = "python3 train.py"
        }
    """)
    from rtc.dsl import parse_file
    from rtc.dsl.dump import to_data

    assert to_data(parse_file(yaml_env).blocks) == to_data(parse_file(rt_env).blocks)


# Issue 20, item 2: envd's core as its users write it (files written from envd's documentation).


def env_of(tmp_path, text: str, **files):
    folder = tmp_path / "proj"
    folder.mkdir(exist_ok=True)
    for name, body in files.items():
        (folder / name).write_text(body)
    (folder / "src").mkdir(exist_ok=True)
    (folder / "build.envd").write_text(textwrap.dedent(text))
    return compile_file(str(folder / "build.envd")).environments["proj"]


def test_base_defaults_python_and_helpers(tmp_path):
    env = env_of(tmp_path, '''
        """Module docstring."""
        def deps():
            """Helper docstring."""
            install.python_packages(name=["numpy"])
            more()
        def more():
            install.apt_packages(name=["curl"])
        def build():
            base(dev=True)
            install.python()
            deps()
            deps()
    ''')
    assert env.build.base == "ubuntu:22.04"
    assert env.build.apt == ["python3", "python3-pip", "python-is-python3", "curl", "curl"]
    assert env.build.pip == ["numpy", "numpy"]
    assert env_of(tmp_path, "def build():\n    runtime.command(commands={'a': 'b'})\n").build.base == "ubuntu:22.04"
    v0 = env_of(tmp_path, 'def build():\n    base(os="ubuntu20.04", language="python3")\n')
    assert v0.build.base == "ubuntu:20.04" and "python3-pip" in v0.build.apt


def test_requirements_jupyter_entrypoint_and_triple_quotes(tmp_path):
    env = env_of(tmp_path, """
        def build():
            base(image="python:3.11-slim")
            install.python_packages(name=["a"], requirements="requirements.txt")
            config.jupyter(token="tok")
            config.entrypoint(["python", "serve.py", "--name", "two words"])
            io.copy(source="./src", target="/app")
            runtime.command(commands={"long": '''echo "one"
        echo 'two' '''})
    """, **{"requirements.txt": "# comment\nb==1.0\n\nc>=2  # why\n"})
    assert env.build.pip == ["a", "b==1.0", "c>=2", "jupyterlab"]
    assert env.daemons[0][:3] == ["python3", "-m", "jupyterlab"] and "--ServerApp.token=tok" in env.daemons[0]
    assert env.daemons[1] == ["python", "serve.py", "--name", "'two words'"]  # one word in the daemon's shell line
    assert [(e.container_port, e.host_port, e.service) for e in env.expose] == [(8888, 0, "jupyter")]
    assert [(c.host_path, c.container_path) for c in env.build.copy_files] == [("src", "/app")]
    assert env.commands["long"] == "echo \"one\"\necho 'two' "


@pytest.mark.parametrize("text,line,col,message", [
    ("def build():\n    install.conda_packages(name=['x'])\n", 2, 5, "install.conda_packages() is not supported: rtc builds"),
    ("def build():\n    install.julia()\n", 2, 5, "install.julia() is not supported: rtc has no Julia"),
    ("def build():\n    install.r_packages(name=['x'])\n", 2, 5, "install.r_packages() is not supported"),
    ("def build():\n    install.cuda(version='11.6')\n", 2, 5, "install.cuda() is not supported: local runs have no GPU"),
    ("lib = include('https://github.com/a/b')\ndef build():\n    pass\n", 1, 7, "include() of remote files is not supported"),
    ("def build():\n    a()\ndef a():\n    build()\n", 4, 5, "build() calls itself (build -> a -> build)"),
    ("def build():\n    h(1)\ndef h(x):\n    pass\n", 2, 5, "h() takes arguments"),
    ("def build():\n    x = '''never closed\n", 2, 9, "a triple-quoted string is not closed"),
    ("def build():\n    '''never closed\n", 2, 5, "a triple-quoted string is not closed"),
    ("def build():\n    install.python_packages(requirements='nope.txt')\n", 2, 42, "requirements file 'nope.txt'"),
])
def test_what_rtc_refuses_says_which_function_and_why(tmp_path, text, line, col, message):
    path = tmp_path / "build.envd"
    path.write_text(text)
    with pytest.raises(CompileError) as err:
        parse_envd(text, str(path))
    found = [(d.span.line, d.span.col, d.message) for d in err.value.diagnostics]
    assert any(line == at and col == c and message in m for at, c, m in found), found


def test_doubling_helpers_are_bounded(tmp_path):
    lines = ["def f0():\n    base(image='a')\n"]
    lines += [f"def f{i}():\n    f{i - 1}()\n    f{i - 1}()\n" for i in range(1, 25)]
    text = "".join(lines) + "def build():\n    f24()\n"
    with pytest.raises(CompileError) as err:
        parse_envd(text, "build.envd")
    assert "more than 100,000 calls once its helpers are inlined" in err.value.diagnostics[0].message
