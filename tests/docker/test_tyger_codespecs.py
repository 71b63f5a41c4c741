"""The codespec registry (`rtc codespec create|show|list`) and runs naming registered codespecs, on the real engine."""

from __future__ import annotations

import json

from tyger_support import HELLO_YML, leftovers, rtc


def create(path, *extra) -> str:
    done = rtc("codespec", "create", "-f", str(path), *extra)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().strip()


def test_create_then_exec_by_name_and_by_version(tmp_path, docker_client):
    hello = tmp_path / "hello.yml"
    hello.write_text(HELLO_YML)
    assert create(hello) == "1"
    assert create(hello) == "1"  # unchanged: keeps its version
    done = rtc("exec", "--codespec", "hello", input=b"Paul\n")
    assert (done.returncode, done.stdout) == (0, b"Hello Paul\n"), done.stderr.decode()

    hello.write_text(HELLO_YML.replace("Hello ${inp}", "Hi ${inp}"))
    assert create(hello) == "2"
    for ref in (["--codespec", "hello"], ["-c", "hello/versions/2"]):
        done = rtc("exec", *ref, input=b"Paul\n")
        assert (done.returncode, done.stdout) == (0, b"Hi Paul\n"), done.stderr.decode()
    for ref in (["--codespec", "hello/versions/1"], ["-c", "hello", "--version", "1"]):
        done = rtc("exec", *ref, input=b"Paul\n")
        assert (done.returncode, done.stdout) == (0, b"Hello Paul\n"), done.stderr.decode()
    assert leftovers(docker_client) == []


def test_run_specs_name_registered_codespecs(tmp_path, docker_client):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "greeter.yml").write_text(HELLO_YML.replace("name: hello", "name: greeter"))
    create(tmp_path / "src" / "greeter.yml")
    (tmp_path / "src" / "greeter.yml").write_text(HELLO_YML.replace("name: hello", "name: greeter").replace("Hello", "Yo"))
    create(tmp_path / "src" / "greeter.yml")
    # Run specs elsewhere, one of them named like the codespec it runs: no collision with it.
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "greeter.yml").write_text("job:\n  codespec: greeter\n")
    (runs / "old.yml").write_text("job:\n  codespec: greeter/versions/1\n")
    done = rtc("exec", "-f", str(runs / "greeter.yml"), input=b"Ada\n")
    assert (done.returncode, done.stdout) == (0, b"Yo Ada\n"), done.stderr.decode()
    done = rtc("exec", "-f", str(runs / "old.yml"), input=b"Ada\n")
    assert (done.returncode, done.stdout) == (0, b"Hello Ada\n"), done.stderr.decode()
    # run create with no file, then the buffers
    done = rtc("run", "create", "--codespec", "greeter/versions/1")
    assert done.returncode == 0, done.stderr.decode()
    run_id = done.stdout.decode().strip()
    shown = json.loads(rtc("run", "show", run_id).stdout)
    assert shown["job"]["codespec"] == "greeter/versions/1"  # registered: by reference, as Tyger shows it
    assert rtc("buffer", "write", shown["job"]["buffers"]["input"], input=b"Bo\n").returncode == 0
    done = rtc("buffer", "read", shown["job"]["buffers"]["output"], "--timeout", "60s", timeout=90)
    assert done.stdout == b"Hello Bo\n", done.stderr.decode()


def test_show_list_and_mistakes(tmp_path):
    (tmp_path / "hello.yml").write_text(HELLO_YML)
    assert create(tmp_path / "hello.yml", "--name", "other") == "1"
    assert create(tmp_path / "hello.yml") == "1"
    shown = json.loads(rtc("codespec", "show", "other").stdout)
    assert (shown["name"], shown["version"], shown["image"]) == ("other", 1, "ubuntu")
    assert shown["buffers"] == {"inputs": ["input"], "outputs": ["output"]}
    listed = json.loads(rtc("codespec", "list").stdout)
    assert [c["name"] for c in listed] == ["hello", "other"]
    assert [c["name"] for c in json.loads(rtc("codespec", "list", "--prefix", "ot").stdout)] == ["other"]
    for args, message in (
        (["exec", "--codespec", "nope"], "codespec 'nope' is not registered"),
        (["exec", "--codespec", "hello/versions/9"], "codespec 'hello' has no version 9"),
        (["codespec", "show", "hello", "--version", "3"], "has no version 3"),
        (["codespec", "create", "-f", str(tmp_path / "hello.yml"), "--name", "Bad Name"], "not a valid Tyger name"),
        (["exec"], "no run specification file and no codespec given"),
    ):
        done = rtc(*args)
        assert done.returncode == 1, args
        assert message in done.stderr.decode(), done.stderr.decode()
        assert b"Traceback" not in done.stderr
