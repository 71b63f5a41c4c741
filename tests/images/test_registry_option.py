"""`--registry` / RTC_REGISTRY: one IR-to-IR step names built images as pushed; ready images stay as written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import RTC, SOURCE
from rtc.compiler import compile_file
from rtc.base.diagnostics import RtcError
from rtc.compiler.registry import from_option, local_tag, parse, pushed_ref, registry_of, with_registry


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "p.rt"
    path.write_text(SOURCE.replace("namespace NS", "namespace Reg"))
    return path


def _rtc(*args, env=None):
    return subprocess.run([*RTC, *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("text, normal", [
    ("127.0.0.1:5000", "127.0.0.1:5000"),
    ("127.0.0.1:5000/team/", "127.0.0.1:5000/team"),
    ("localhost/a/b", "localhost/a/b"),
    ("registry.example.com/rtc-images", "registry.example.com/rtc-images"),
    ("docker.io/someone", "docker.io/someone"),
    ("[::1]:5000/x", "[::1]:5000/x"),
])
def test_registry_forms_accepted(text, normal):
    assert parse(text) == normal


@pytest.mark.parametrize("text, says", [
    ("http://127.0.0.1:5000", "without a scheme"),
    ("someone", "'someone' is not a registry host"),
    ("someone/images", "'someone' is not a registry host"),
    ("127.0.0.1:5000/Team", "'Team' is not a valid repository path part"),
    ("127.0.0.1:5000/a//b", "'' is not a valid repository path part"),
    ("bad_host.example:5000", "is not a registry host"),
])
def test_registry_forms_refused_with_the_reason(text, says):
    with pytest.raises(RtcError) as caught:
        parse(text)
    assert says in str(caught.value)


def test_the_step_renames_built_images_only_and_keeps_the_content_hash(source):
    pipeline = compile_file(str(source))
    local = pipeline.environments["tools"].image
    assert local.startswith("rtc/reg-tools:")
    moved = with_registry(pipeline, "127.0.0.1:5000/team")
    assert moved.environments["tools"].image == "127.0.0.1:5000/team/" + local.split("/", 1)[1]
    assert moved.environments["ready"].image == "busybox:latest"
    assert moved.environments["tools"].build == pipeline.environments["tools"].build
    # Everything else is the same IR.
    assert moved.with_changes({"environments": pipeline.environments}) == pipeline
    assert with_registry(pipeline, None) is pipeline
    # Applied again (IR JSON compiled with a registry), the name moves instead of growing.
    again = with_registry(moved, "reg.example.com/x").environments["tools"].image
    assert again == "reg.example.com/x/" + local.split("/", 1)[1]
    assert local_tag(again) == local


def test_names_and_registries_of_references():
    assert pushed_ref("rtc/ns-env:0123", "h:1/p") == "h:1/p/ns-env:0123"
    assert registry_of("h:1/p/ns-env:0123") == "h:1/p"
    assert registry_of("reg.example.com/ns-env@sha256:ab") == "reg.example.com"
    assert registry_of("rtc/ns-env:0123") is None
    assert registry_of("busybox:latest") is None


def test_option_wins_over_the_environment(monkeypatch):
    monkeypatch.delenv("RTC_REGISTRY", raising=False)
    assert from_option(None) is None
    monkeypatch.setenv("RTC_REGISTRY", "127.0.0.1:5000/env")
    assert from_option(None) == "127.0.0.1:5000/env"
    assert from_option("127.0.0.1:6000") == "127.0.0.1:6000"
    monkeypatch.setenv("RTC_REGISTRY", "nohost")
    with pytest.raises(RtcError, match="RTC_REGISTRY 'nohost'"):
        from_option(None)


@pytest.mark.parametrize("target, name", [("airflow", "Reg__hello.py"), ("prefect", "Reg__hello.py")])
def test_compiled_files_name_the_pushed_image(source, tmp_path, target, name):
    local = compile_file(str(source)).environments["tools"].image
    pushed = "127.0.0.1:5000/team/" + local.split("/", 1)[1]
    out = tmp_path / target
    done = _rtc("compile", str(source), "-t", target, "-o", str(out), "--registry", "127.0.0.1:5000/team")
    assert done.returncode == 0, done.stderr
    text = (out / name).read_text()
    assert repr(pushed) in text or json.dumps(pushed) in text
    assert local not in text
    plain = (out / name.replace("hello", "plain")).read_text()
    assert "busybox:latest" in plain  # a ready image is left as written


def test_environment_variable_and_ir_target(source, tmp_path):
    import os

    env = {**os.environ, "RTC_REGISTRY": "reg.example.com/rtc"}
    done = _rtc("compile", str(source), env=env)
    assert done.returncode == 0, done.stderr
    images = {name: e["image"] for name, e in json.loads(done.stdout)["environments"].items()}
    assert images["tools"].startswith("reg.example.com/rtc/reg-tools:")
    assert images["ready"] == "busybox:latest"


def test_bad_registry_is_one_clear_error_and_writes_nothing(source, tmp_path):
    out = tmp_path / "dags"
    done = _rtc("compile", str(source), "-t", "airflow", "-o", str(out), "--registry", "https://reg.example.com")
    assert done.returncode == 1
    assert done.stderr.startswith("error: --registry 'https://reg.example.com': write the registry without a scheme")
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_push_needs_a_registry(source, monkeypatch):
    import os

    env = {k: v for k, v in os.environ.items() if k != "RTC_REGISTRY"}
    done = _rtc("build", str(source), "--push", env=env)
    assert done.returncode == 1
    assert "error: --push needs a registry" in done.stderr and "Traceback" not in done.stderr


def test_every_command_that_names_images_takes_the_option():
    for command in ("build", "compile", "deploy", "run"):
        done = subprocess.run([*RTC, command, "--help"], capture_output=True, text=True, timeout=60)
        assert "--registry HOST[:PORT][/PREFIX]" in done.stdout, command


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
