"""`rtc compile/deploy --target prefect` as a user runs them: clear errors, deterministic files, help text."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.prefect]

RTC = [sys.executable, "-m", "rtc"]

MOUNTED = textwrap.dedent('''
    namespace M
    env bb {
      image = "busybox:latest"
      mount "./data" -> "/data" readonly
    }
    node Ls {
      env = bb
      command = ["ls", "/data"]
    }
    graph g {
      ls = Ls()
    }
''')

SCHEDULED_REQUIRED = textwrap.dedent('''
    namespace S
    env bb { image = "busybox:latest" }
    node Echo {
      env = bb
      inputs { day: str }
      command = ["echo"]
    }
    graph nightly {
      schedule = "@daily"
      params { day: str }
      echo = Echo(day = params.day)
    }
''')

BUFFER_IDS = textwrap.dedent('''
    namespace T
    codespec hello {
      image   = "busybox:latest"
      inputs  = [input]
      outputs = [output]
      command = ["sh", "-c", "cat $INPUT_PIPE > $OUTPUT_PIPE"]
    }
    run again {
      codespec = hello
      buffers  = { input = "abc123" }
    }
''')


def _rtc(*args, cwd=None, env=None):
    return subprocess.run([*RTC, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_compiled_twice_from_one_place_gives_the_same_bytes(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "p.rt").write_text(MOUNTED)
    for out in ("a", "b"):
        done = _rtc("compile", "p.rt", "--target", "prefect", "-o", out, cwd=project)
        assert done.returncode == 0, done.stderr
    a, b = project / "a" / "M__g.py", project / "b" / "M__g.py"
    assert a.read_bytes() == b.read_bytes()
    assert (project / "a" / "prefect.yaml").read_bytes() == (project / "b" / "prefect.yaml").read_bytes()
    # the mount's host path is absolute, resolved against the source file's folder at compile time
    assert f"\"{project / 'data'}\"" in a.read_text()

    # compiled from elsewhere: the same mount path; only the source path as given (header, description) differs
    other = _rtc("compile", str(project / "p.rt"), "--target", "prefect", "-o", str(tmp_path / "c"), cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    elsewhere = (tmp_path / "c" / "M__g.py").read_text()
    assert elsewhere != a.read_text()
    assert elsewhere.replace(str(project / "p.rt"), "p.rt") == a.read_text()


def test_scheduled_graph_with_a_required_param_is_an_error(tmp_path):
    (tmp_path / "p.rt").write_text(SCHEDULED_REQUIRED)
    done = _rtc("compile", "p.rt", "--target", "prefect", "-o", "out", cwd=tmp_path)
    assert done.returncode == 1
    assert "error: graph 'nightly' is scheduled (@daily) but param(s) 'day' (p.rt:" in done.stderr
    assert "hint: give each a default" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
    # rtc deploy says the same before it talks to any Prefect API
    env = {"PATH": "/usr/bin:/bin", "PREFECT_API_URL": "http://127.0.0.1:9/api", "RTC_HOME": str(tmp_path / "home")}
    deployed = _rtc("deploy", "p.rt", cwd=tmp_path, env=env)
    assert deployed.returncode == 1
    assert "error: graph 'nightly' is scheduled (@daily) but param(s) 'day'" in deployed.stderr
    assert "cannot reach" not in deployed.stderr


def test_run_with_buffer_ids_is_an_error_naming_the_run(tmp_path):
    (tmp_path / "t.rt").write_text(BUFFER_IDS)
    done = _rtc("compile", "t.rt", "--target", "prefect", "-o", "out", cwd=tmp_path)
    assert done.returncode == 1
    assert "error: run 'again' (t.rt:9:" in done.stderr
    assert "cannot use buffer ids (input = 'abc123')" in done.stderr
    assert "Traceback" not in done.stderr


def test_deploy_help_says_how_runs_get_executed():
    done = _rtc("deploy", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "prefect work-pool create" in text
    assert "prefect worker start --pool" in text
    assert "must see" in text
    assert "PREFECT_API_URL" in text
