"""Steps that need not run again (`cache = true` / `cache = 1d`) under `rtc run`, against the real engine.

What is checked: an unchanged re-run starts no container and gives the same
outputs; a changed input re-runs that step and the steps that depend on it,
nothing else; `--no-cache` runs everything; a recorded output that no longer
matches its declared type is not used; an expired entry is not used;
`rtc cache ls|clear` show and forget entries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rtc.compiler import compile_file
from rtc.integrations.local.runner import format_failures, run_graph
from rtc.base.home import steps_cache_dir
from rtc.runtime.cache import StepCache
from step_cache_cases import created_steps

RTC = [sys.executable, "-c", "import sys; from rtc.cli import main; sys.exit(main())"]


def chain_source(namespace: str, steps: int = 4, cache: str = "true") -> str:
    """A chain where step i adds i to what it got; step 0 starts from params.start."""
    lines = [f"namespace {namespace}", 'env bb { image = "rtc-test/busybox:1" }']
    for i in range(steps):
        lines.append(
            f"node Add{i} {{ env = bb  cache = {cache}  inputs {{ n: int }}  outputs {{ n: int }}\n"
            f"  command = [\"sh\", \"-c\", \"v=$(echo $RTC_INPUTS | tr -dc 0-9); printf '{{\\\"n\\\": %d}}' $((v + {i})) > $RTC_OUTPUTS_FILE\"] }}"
        )
    lines.append("graph g {\n  params { start: int = 1 }")
    lines.append("  s0 = Add0(n = params.start)")
    for i in range(1, steps):
        lines.append(f"  s{i} = Add{i}(n = s{i - 1}.n)")
    lines.append("}")
    return "\n".join(lines) + "\n"



def test_unchanged_rerun_starts_nothing_and_a_changed_input_reruns_only_its_dependents(tmp_path, namespace, docker_client):
    source = tmp_path / "p.rt"
    source.write_text(chain_source(namespace), encoding="utf-8")
    pipeline = compile_file(str(source))
    assert pipeline.nodes["Add0"].cache is not None and pipeline.nodes["Add0"].cache.max_age_seconds is None

    since = time.time()
    first = run_graph(pipeline, "g", {"start": "1"}, client=docker_client)
    assert first.status == "succeeded", format_failures(first)
    assert first.steps["s3"].outputs == {"n": 1 + 0 + 1 + 2 + 3}
    assert created_steps(docker_client, namespace, since) == ["s0", "s1", "s2", "s3"]

    time.sleep(1.1)  # engine events have one-second resolution
    since = time.time()
    again = run_graph(pipeline, "g", {"start": "1"}, client=docker_client)
    assert again.status == "succeeded"
    assert {k: r.outputs for k, r in again.steps.items()} == {k: r.outputs for k, r in first.steps.items()}
    assert created_steps(docker_client, namespace, since) == []

    # A different param changes s0's input: s0 runs, and so does every step below it (their inputs change).
    time.sleep(1.1)
    since = time.time()
    changed = run_graph(pipeline, "g", {"start": "5"}, client=docker_client)
    assert changed.steps["s3"].outputs == {"n": 5 + 6}
    assert created_steps(docker_client, namespace, since) == ["s0", "s1", "s2", "s3"]

    # Changing one step's program re-runs that step; the steps above keep their recorded outputs.
    source.write_text(chain_source(namespace).replace("$((v + 2))", "$((v + 2 + 0))"), encoding="utf-8")
    edited = compile_file(str(source))
    time.sleep(1.1)
    since = time.time()
    result = run_graph(edited, "g", {"start": "1"}, client=docker_client)
    assert result.status == "succeeded"
    # s2's output is unchanged (v + 2 + 0 == v + 2), so s3's input is the same and s3 is reused too.
    assert created_steps(docker_client, namespace, since) == ["s2"]

    # --no-cache (use_cache=False) runs every step.
    time.sleep(1.1)
    since = time.time()
    run_graph(edited, "g", {"start": "1"}, client=docker_client, use_cache=False)
    assert created_steps(docker_client, namespace, since) == ["s0", "s1", "s2", "s3"]


def test_a_recorded_output_of_the_wrong_type_is_not_used(tmp_path, namespace, docker_client):
    source = tmp_path / "p.rt"
    source.write_text(chain_source(namespace, steps=1), encoding="utf-8")
    pipeline = compile_file(str(source))
    assert run_graph(pipeline, "g", {"start": "1"}, client=docker_client).status == "succeeded"
    cache = StepCache(steps_cache_dir())
    (entry,) = cache.entries()
    path = cache.folder / f"{entry.key}.json"
    record = json.loads(path.read_text())
    record["outputs"] = {"n": "not a number"}
    path.write_text(json.dumps(record))

    time.sleep(1.1)
    since = time.time()
    result = run_graph(pipeline, "g", {"start": "1"}, client=docker_client)
    assert result.steps["s0"].outputs == {"n": 1}
    assert created_steps(docker_client, namespace, since) == ["s0"]
    assert cache.get(entry.key).outputs == {"n": 1}  # the fresh result replaced the bad one


def test_an_expired_entry_runs_the_step_again(tmp_path, namespace, docker_client):
    source = tmp_path / "p.rt"
    source.write_text(chain_source(namespace, steps=1, cache="1s"), encoding="utf-8")
    pipeline = compile_file(str(source))
    assert pipeline.nodes["Add0"].cache.max_age_seconds == 1.0
    assert run_graph(pipeline, "g", {"start": "1"}, client=docker_client).status == "succeeded"
    time.sleep(1.2)
    since = time.time()
    assert run_graph(pipeline, "g", {"start": "1"}, client=docker_client).status == "succeeded"
    assert created_steps(docker_client, namespace, since) == ["s0"]


def test_cli_no_cache_and_cache_ls_clear(tmp_path, namespace, docker_client):
    source = tmp_path / "p.rt"
    source.write_text(chain_source(namespace, steps=2), encoding="utf-8")
    env = dict(os.environ)

    def rtc(*args):
        return subprocess.run([*RTC, *args], capture_output=True, text=True, env=env, timeout=300)

    first = rtc("run", str(source))
    assert first.returncode == 0, first.stderr
    second = rtc("run", str(source))
    assert second.returncode == 0, second.stderr
    assert "s0 cached" in second.stderr and "s1 cached" in second.stderr

    listed = rtc("cache", "ls", "--format", "json")
    entries = json.loads(listed.stdout)["entries"]
    assert sorted(e["step"] for e in entries) == ["s0", "s1"]
    assert {e["pipeline"] for e in entries} == {namespace}
    assert "s0" in rtc("cache", "ls").stdout

    since = time.time()
    forced = rtc("run", str(source), "--no-cache")
    assert forced.returncode == 0 and "cached" not in forced.stderr
    assert created_steps(docker_client, namespace, since) == ["s0", "s1"]

    other = rtc("cache", "clear", "--pipeline", "someone-else")
    assert "removed 0" in other.stdout
    cleared = rtc("cache", "clear")
    assert "removed 2" in cleared.stdout
    assert json.loads(rtc("cache", "ls", "--format", "json").stdout)["entries"] == []


def test_cache_attribute_is_checked(tmp_path):
    from rtc.base.diagnostics import CompileError

    bad = tmp_path / "bad.rt"
    bad.write_text('env e { image = "x" }\nnode N { env = e  command = ["true"]  cache = "soon" }\n', encoding="utf-8")
    try:
        compile_file(str(bad))
    except CompileError as exc:
        assert any("soon" in d.message for d in exc.diagnostics), exc.diagnostics
    else:
        raise AssertionError("`cache = \"soon\"` should not compile")
    off = tmp_path / "off.rt"
    off.write_text('env e { image = "x" }\nnode N { env = e  command = ["true"]  cache = false }\n', encoding="utf-8")
    assert compile_file(str(off)).nodes["N"].cache is None
    assert Path(off).exists()
