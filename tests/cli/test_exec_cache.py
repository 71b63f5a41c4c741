"""`rtc exec` keeps a file's codespecs and runs as plain data (rtc/compile_cache.py): any change is a miss.

What is tested here is what would make a stale entry run the wrong thing: an
edited file or import, a codespec registered (or re-registered) under the
name a run spec uses, another rtc; and that errors are never remembered.
Running the cached data is tests/docker/test_tyger_exec.py's.
"""

from __future__ import annotations

import argparse
import os

import pytest

import rtc
from rtc import compile_cache
from rtc.cli import exec_cmd

CODESPEC = 'name: hello\nimage: {image}\nbuffers:\n  inputs: ["input"]\n  outputs: ["output"]\ncommand: ["sh", "-c", "cat"]\n'
RUN_SPEC = "job:\n  codespec: hello\n  replicas: {replicas}\n"


def compiles(monkeypatch) -> list[str]:
    """Record every real compile that `rtc exec` does."""
    from rtc.compiler import driver

    calls: list[str] = []
    real = driver.compile_modules

    def counting(modules, path):
        calls.append(path)
        return real(modules, path)

    monkeypatch.setattr(driver, "compile_modules", counting)
    return calls


def image(plain: dict, name: str = "hello") -> str:
    return plain["codespecs"][name]["image"]


def register(home, image_name: str, version: int) -> None:
    """A codespec in the registry, as `rtc codespec create` leaves it."""
    folder = home / "codespecs" / "hello"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{version}.yml").write_text(CODESPEC.format(image=image_name).replace("name: hello\n", f"name: hello\nversion: {version}\n"))


def test_an_unchanged_file_is_not_compiled_again_and_an_edit_is_seen(tmp_path, monkeypatch):
    calls = compiles(monkeypatch)
    spec = tmp_path / "hello.yml"
    spec.write_text(CODESPEC.format(image="busybox"))
    assert image(exec_cmd._load(str(spec))) == "busybox" and len(calls) == 1
    assert image(exec_cmd._load(str(spec))) == "busybox" and len(calls) == 1  # a hit

    spec.write_text(CODESPEC.format(image="ubuntu"))
    assert image(exec_cmd._load(str(spec))) == "ubuntu" and len(calls) == 2
    assert image(exec_cmd._load(str(spec))) == "ubuntu" and len(calls) == 2


def test_an_edited_import_is_a_miss(tmp_path, monkeypatch):
    calls = compiles(monkeypatch)
    (tmp_path / "specs.rt").write_text('codespec hello {\n  image = "busybox"\n  command = ["true"]\n}\n')
    main = tmp_path / "p.rt"
    main.write_text('namespace ec\nimport "specs.rt"\n')
    assert image(exec_cmd._load(str(main))) == "busybox"
    assert image(exec_cmd._load(str(main))) == "busybox" and len(calls) == 1
    (tmp_path / "specs.rt").write_text('codespec hello {\n  image = "alpine"\n  command = ["true"]\n}\n')
    assert image(exec_cmd._load(str(main))) == "alpine" and len(calls) == 2


def test_a_codespec_registered_again_is_a_miss(tmp_path, monkeypatch):
    """`codespec: hello` in a run spec means the latest registered version: registering one invalidates."""
    calls = compiles(monkeypatch)
    home = tmp_path / "rtc-home"
    register(home, "busybox", 1)
    run = tmp_path / "run.yml"
    run.write_text(RUN_SPEC.format(replicas=1))
    assert image(exec_cmd._load(str(run))) == "busybox"
    assert image(exec_cmd._load(str(run))) == "busybox" and len(calls) == 1

    register(home, "alpine", 2)  # a new version: the run spec now means it
    assert image(exec_cmd._load(str(run))) == "alpine" and len(calls) == 2
    assert image(exec_cmd._load(str(run))) == "alpine" and len(calls) == 2

    # the registered file rewritten in place (same name): its digest and its mtime changed
    register(home, "debian", 2)
    assert image(exec_cmd._load(str(run))) == "debian" and len(calls) == 3


def test_another_rtc_is_a_miss(tmp_path, monkeypatch):
    calls = compiles(monkeypatch)
    spec = tmp_path / "hello.yml"
    spec.write_text(CODESPEC.format(image="busybox"))
    exec_cmd._load(str(spec))
    assert compile_cache.lookup_runnable(str(spec)) is not None

    monkeypatch.setattr(rtc, "__version__", rtc.__version__ + ".post1")  # an upgrade
    monkeypatch.setattr(compile_cache, "_STAMPS", {})
    assert compile_cache.lookup_runnable(str(spec)) is None
    exec_cmd._load(str(spec))
    assert len(calls) == 2

    # an edited source file of rtc's Docker integration (an editable install): its size or mtime changes
    monkeypatch.setattr(compile_cache, "_STAMPS", {compile_cache._EXEC_PACKAGES: "an edited rtc"})
    assert compile_cache.lookup_runnable(str(spec)) is None


def test_the_stamp_covers_the_docker_integration_that_builds_the_plain_data():
    """tyger_spec.runnable turns the IR into what is cached: an edit there must change the stamp."""
    from rtc.integrations.tyger import spec as tyger_spec

    source = tyger_spec.__file__
    before = compile_cache.rtc_stamp(compile_cache._EXEC_PACKAGES)
    st = os.stat(source)
    try:
        os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        compile_cache._STAMPS.clear()
        assert compile_cache.rtc_stamp(compile_cache._EXEC_PACKAGES) != before
    finally:
        os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))
        compile_cache._STAMPS.clear()
    assert compile_cache.rtc_stamp(compile_cache._EXEC_PACKAGES) == before


def test_errors_are_never_remembered_and_a_damaged_entry_is_a_miss(tmp_path, monkeypatch):
    from rtc.base.diagnostics import CompileError

    calls = compiles(monkeypatch)
    spec = tmp_path / "hello.yml"
    spec.write_text("name: hello\nimage: 5\n")
    for _ in range(2):
        with pytest.raises(CompileError):
            exec_cmd._load(str(spec))
    assert len(calls) == 2 and compile_cache.lookup_runnable(str(spec)) is None

    spec.write_text(CODESPEC.format(image="busybox"))
    exec_cmd._load(str(spec))
    (entry,) = compile_cache.exec_cache_dir().glob("*.json")
    entry.write_text('{"version": 1, "runnable": [')
    assert image(exec_cmd._load(str(spec))) == "busybox" and len(calls) == 4


def test_flags_apply_to_the_cached_data_every_time(tmp_path):
    """The entry holds the file's content only: -r, --timeout, -b are applied afresh (and checked) on each exec."""
    from rtc.base.diagnostics import RtcError
    from rtc.integrations.tyger.spec import Overrides, build_spec, choose_run

    spec = tmp_path / "hello.yml"
    spec.write_text(CODESPEC.format(image="busybox").replace("command:", "maxReplicas: 2\ncommand:"))
    exec_cmd._load(str(spec))
    plain = exec_cmd._load(str(spec))
    built = build_spec(plain, choose_run(plain, None, Overrides(replicas=2, timeout_seconds=30.0)))
    assert (built["job"]["replicas"], built["timeoutSeconds"]) == (2, 30.0)
    with pytest.raises(RtcError, match="at most 2"):
        build_spec(plain, choose_run(plain, None, Overrides(replicas=3)))


def test_a_registered_codespec_named_by_c_is_found_without_the_cache(tmp_path):
    """`rtc exec FILE -c NAME` where NAME is not in FILE: the registry's codespec (the uncached path)."""
    register(tmp_path / "rtc-home", "alpine", 1)
    other = tmp_path / "other.yml"
    other.write_text(CODESPEC.format(image="busybox").replace("name: hello", "name: other"))
    args = argparse.Namespace(target=[], file=str(other), codespec="hello", codespec_version=None,
                              worker_codespec=None, worker_version=None)
    plain, run_name = exec_cmd._runnable(args)
    assert image(plain) == "alpine" and image(plain, "other") == "busybox" and run_name is None
