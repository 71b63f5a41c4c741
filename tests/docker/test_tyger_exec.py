"""`rtc exec`: Tyger's `run exec` against the real engine, from the files users write."""

from __future__ import annotations

import shutil

import pytest

from tyger_support import EXAMPLES, HELLO_YML, leftovers, rtc


def test_seed_hello_yml_prints_hello_paul(tmp_path, docker_client):
    (tmp_path / "hello.yml").write_text(HELLO_YML)
    done = rtc("exec", "-f", str(tmp_path / "hello.yml"), input=b"Paul\n")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"Hello Paul\n"
    err = done.stderr.decode()
    assert "run 1 created" in err and "run 1 Succeeded" in err
    assert leftovers(docker_client) == []


@pytest.mark.parametrize("name", ["hello.yml", "run-hello.yml", "run-inline.yml"])
def test_examples_codespec_and_run_spec_files(name, tmp_path, docker_client):
    shutil.copytree(EXAMPLES, tmp_path / "tyger")
    done = rtc("exec", "-f", str(tmp_path / "tyger" / name), input=b"Paul\n")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"Hello Paul\n"


def test_rt_pipeline_picks_a_run_or_a_codespec(docker_client):
    done = rtc("exec", str(EXAMPLES / "pipeline.rt"), "greet", input=b"Ada\n")
    assert (done.returncode, done.stdout) == (0, b"Hello Ada\n"), done.stderr.decode()
    # -c picks a codespec; --logs puts what the container printed on standard error
    done = rtc("exec", str(EXAMPLES / "pipeline.rt"), "-c", "shout", "--logs", "--timeout", "60s", input=b"ada\n")
    assert (done.returncode, done.stdout) == (0, b"ADA\n"), done.stderr.decode()
    assert "shouting" in done.stderr.decode()


def test_failing_run_exits_non_zero_with_the_reason(tmp_path, docker_client):
    (tmp_path / "boom.yml").write_text(
        'name: boom\nimage: busybox\ncommand: ["sh", "-c", "echo going down >&2; exit 3"]\n'
    )
    done = rtc("exec", "-f", str(tmp_path / "boom.yml"), "--logs")
    assert done.returncode == 1
    err = done.stderr.decode()
    assert "going down" in err
    assert "error: run 1 Failed: the job exited with code 3" in err
    assert "Traceback" not in err
    assert leftovers(docker_client) == []


def test_user_errors_are_messages(tmp_path, docker_client):
    (tmp_path / "hello.yml").write_text(HELLO_YML)
    done = rtc("exec", "-f", str(tmp_path / "hello.yml"), "--buffer", "nope=abc")
    assert done.returncode == 1 and "not a buffer parameter" in done.stderr.decode()
    done = rtc("exec", "-f", str(tmp_path / "hello.yml"), "--timeout", "5x")
    assert done.returncode == 1 and "bad duration" in done.stderr.decode()
    done = rtc("exec")
    assert done.returncode == 1 and "no run specification file" in done.stderr.decode()
    assert b"Traceback" not in done.stderr
