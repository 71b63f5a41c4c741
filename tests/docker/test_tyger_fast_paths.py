"""The short paths of `rtc exec` and of every container (issue 12, item 1), against the real engine.

- a repeated exec of an unchanged file runs from the exec cache: no pydantic, compiler or YAML imported;
- `run_container` attaches before it starts and lets the engine remove the container (AutoRemove):
  a container that prints and exits at once loses no line, and none is left behind;
- a job that never opens its input pipe does not keep the run waiting.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

from tyger_support import HELLO_YML, leftovers, rtc

from rtc.integrations.engine import containers as engine

HEAVY = ("pydantic", "yaml", "lark", "rtc.compiler.ir", "rtc.compiler.driver", "rtc.dsl.tyger_yaml")
PROBE = (
    "import sys; from rtc.cli import main; rc = main(sys.argv[1:]); "
    f"print('MODULES', sorted(m for m in sys.modules if m.startswith({HEAVY!r})), file=sys.stderr); sys.exit(rc)"
)


def probe_exec(path) -> tuple[subprocess.CompletedProcess, str]:
    done = subprocess.run([sys.executable, "-c", PROBE, "exec", "-f", str(path)], input=b"Paul\n",
                          capture_output=True, timeout=120, env=dict(os.environ))
    modules = [line for line in done.stderr.decode().splitlines() if line.startswith("MODULES")]
    return done, modules[-1] if modules else ""


def test_a_repeated_exec_runs_from_the_cache_without_the_compiler(tmp_path, docker_client):
    spec = tmp_path / "hello.yml"
    spec.write_text(HELLO_YML)
    first, imported = probe_exec(spec)
    assert (first.returncode, first.stdout) == (0, b"Hello Paul\n"), first.stderr.decode()
    assert "rtc.compiler.driver" in imported  # a first exec compiles the file

    again, imported = probe_exec(spec)
    assert (again.returncode, again.stdout) == (0, b"Hello Paul\n"), again.stderr.decode()
    assert imported == "MODULES []", imported
    assert "run 2 Succeeded" in again.stderr.decode()

    spec.write_text(HELLO_YML.replace("Hello ${inp}", "Bonjour ${inp}"))  # an edit is seen at once
    edited, imported = probe_exec(spec)
    assert (edited.returncode, edited.stdout) == (0, b"Bonjour Paul\n"), edited.stderr.decode()
    assert "rtc.compiler.driver" in imported
    assert leftovers(docker_client) == []


def test_a_container_that_prints_and_exits_at_once_loses_nothing_and_is_removed(docker_client):
    label = f"rtctest-fast-{uuid.uuid4().hex[:8]}"
    spec = engine.ContainerSpec(image="rtc-test/busybox:1", argv=["sh", "-c", "seq 1 3000; echo last >&2; exit 3"],
                                labels={"rtc.test": label})
    lines: list[str] = []
    for _ in range(3):
        lines.clear()
        result = engine.run_container(engine.connect(), spec, on_line=lines.append)
        assert result.exit_code == 3 and not result.timed_out
        # stdout in order, whole lines; stderr's line anywhere between them, never spliced into one
        # (seq writes its stdout in 4 KiB blocks that end mid-line)
        assert [line for line in lines if line != "last"] == [str(i) for i in range(1, 3001)]
        assert lines.count("last") == 1
        assert docker_client.containers.list(all=True, filters={"label": f"rtc.test={label}"}) == []


def test_a_timeout_still_kills_and_removes_an_auto_removed_container(docker_client):
    label = f"rtctest-fast-{uuid.uuid4().hex[:8]}"
    spec = engine.ContainerSpec(image="rtc-test/busybox:1", argv=["sh", "-c", "echo up; sleep 60"], labels={"rtc.test": label})
    began = time.monotonic()
    result = engine.run_container(engine.connect(), spec, timeout=1.0)
    assert result.timed_out and result.log_tail == ["up"]
    assert time.monotonic() - began < 30
    assert docker_client.containers.list(all=True, filters={"label": f"rtc.test={label}"}) == []


def test_a_job_that_never_opens_its_input_does_not_keep_the_run_waiting(tmp_path, docker_client):
    (tmp_path / "ignore.yml").write_text(
        'name: ignore\nimage: rtc-test/busybox:1\nbuffers:\n  inputs: ["input"]\n  outputs: ["output"]\n'
        'command: ["sh", "-c", "echo ignored the input > \\"$OUTPUT_PIPE\\""]\n'
    )
    began = time.monotonic()
    done = rtc("exec", "-f", str(tmp_path / "ignore.yml"), input=b"x" * 300_000, timeout=120)
    assert (done.returncode, done.stdout) == (0, b"ignored the input\n"), done.stderr.decode()
    assert time.monotonic() - began < 60
    assert leftovers(docker_client) == []
