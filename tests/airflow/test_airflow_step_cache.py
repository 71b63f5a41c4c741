"""Steps with `cache` under Airflow (`airflow dags test`, real engine): the task computes rtc.runtime.cache's key
and keeps the outputs in RTC_CACHE_DIR on the worker, returning the recorded XCom without a container;
`rtc cache ls|clear --dir` lists and clears that folder.

What is checked: an unchanged re-run starts no container and gives the same XComs; a changed input re-runs
that step and the step below it, not the other branch; a recorded output that no longer matches its declared
type is not used (the step runs again and its entry is replaced); an expired entry runs the step again; the
entries are owner-only regular files in an owner-only folder.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
import uuid

from rtc.compiler import compile_file
from rtc.integrations.airflow import render
from step_cache_cases import cache_source, created_steps


def entries(folder) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")}


def rtc_cli(*args: str) -> str:
    """`rtc ARGS` as a user runs it; its standard output."""
    done = subprocess.run([sys.executable, "-m", "rtc", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cached_steps_start_no_container_and_rerun_what_changed(airflow, airflow_home, docker_client, tmp_path,
                                                               monkeypatch):
    namespace = f"cachea{uuid.uuid4().hex[:8]}"
    source = tmp_path / "p.rt"
    source.write_text(cache_source(namespace), encoding="utf-8")
    folder = airflow_home / "dags" / namespace
    folder.mkdir(parents=True)
    for name, text in render(compile_file(str(source))).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    cache = tmp_path / "shared" / "rtc-cache"
    monkeypatch.setenv("RTC_CACHE_DIR", str(cache))  # the probe's Airflow process inherits it
    dag = f"{namespace}.g"

    def run(conf=None):
        time.sleep(1.1)  # engine events have one-second resolution
        since = time.time()
        result = airflow.dags_test(folder, dag, conf)
        assert result["state"] == "success", result.get("log", "")[-4000:]
        return {k.split(":")[0]: v for k, v in result["xcom"].items()}, created_steps(docker_client, namespace, since)

    first, made = run()
    assert made == ["a", "b", "c"]
    assert first == {"a": {"n": 1}, "b": {"n": 10}, "c": {"n": 11}}
    recorded = entries(cache)
    assert sorted(e["step"] for e in recorded.values()) == ["a", "b", "c"]
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert all(stat.S_IMODE((cache / name).stat().st_mode) == 0o600 for name in recorded)
    assert all(e["expires_at"] is None and e["graph"] == dag for e in recorded.values())

    again, made = run()
    assert made == []  # every step reused its recorded outputs
    assert again == first

    # `rtc cache ls|clear --dir` reads the worker's folder as it reads rtc run's.
    listed = json.loads(rtc_cli("cache", "ls", "--dir", str(cache), "--format", "json"))
    assert listed["folder"] == str(cache)
    assert sorted((e["pipeline"], e["graph"], e["step"]) for e in listed["entries"]) == [
        (namespace, dag, "a"), (namespace, dag, "b"), (namespace, dag, "c")]
    assert "removed 0 recorded steps of pipeline 'other'" in rtc_cli("cache", "clear", "--dir", str(cache), "--pipeline", "other")
    assert "removed 3 recorded steps" in rtc_cli("cache", "clear", "--dir", str(cache), "--pipeline", namespace)
    assert entries(cache) == {}
    cleared, made = run()
    assert made == ["a", "b", "c"]  # nothing recorded any more: every step ran
    assert cleared == first

    # y changes b's input: b and c (below it) run; a keeps its recorded outputs.
    changed, made = run({"y": 20})
    assert made == ["b", "c"]
    assert changed == {"a": {"n": 1}, "b": {"n": 20}, "c": {"n": 21}}

    # c's entry for this work edited to a value its declared type refuses: not used, c runs again.
    [(name, record)] = [(n, e) for n, e in entries(cache).items() if e["step"] == "c" and e["outputs"] == {"n": 21}]
    record["outputs"] = {"n": "not a number"}
    (cache / name).write_text(json.dumps(record))
    tampered, made = run({"y": 20})
    assert made == ["c"]
    assert tampered["c"] == {"n": 21}
    assert entries(cache)[name]["outputs"] == {"n": 21}  # the fresh result replaced the bad one

    # `cache = 1s`: the entry records when it expires; the next run finds it expired and runs the step.
    result = airflow.dags_test(folder, f"{namespace}.short")
    assert result["state"] == "success"
    [short] = [e for e in entries(cache).values() if e["step"] == "s"]
    assert short["expires_at"] == short["created_at"] + 1
    time.sleep(1.1)
    since = time.time()
    result = airflow.dags_test(folder, f"{namespace}.short")
    assert result["state"] == "success"
    assert created_steps(docker_client, namespace, since) == ["s"]
    [renewed] = [e for e in entries(cache).values() if e["step"] == "s"]
    assert renewed["created_at"] > short["expires_at"]  # recorded afresh by the run that found it expired


def test_the_runtime_computes_rtc_run_s_key_and_keeps_entries_as_rtc_run_does(tmp_path):
    """DAG files carry rtc.runtime itself (its files, unchanged): same key, same entries as `rtc run`."""
    import importlib
    import sys
    from pathlib import Path

    from rtc.runtime import cache as step_cache

    source = tmp_path / "p.rt"
    source.write_text(cache_source("keyt"), encoding="utf-8")
    files = render(compile_file(str(source)))
    shipped = {name.split("/", 1)[1]: t for name, t in files.items() if name.startswith("rtc_runtime_")}
    package = Path(step_cache.__file__).parent
    assert shipped == {p.name: p.read_text(encoding="utf-8") for p in package.glob("*.py")}
    assert 'cache={"max_age": 1.0},' in files["keyt__short.py"]
    assert 'cache={"max_age": None},' in files["keyt__g.py"]
    # The shipped copy, imported under its own name as a worker imports it (its cache module needs no Airflow).
    out = tmp_path / "dags"
    for name, text in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text, encoding="utf-8")
    [folder_name] = {name.split("/", 1)[0] for name in files if name.startswith("rtc_runtime_")}
    # This process may have imported the same package from another test's folder: import this one afresh.
    cached = {name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] == folder_name}
    sys.path.insert(0, str(out))
    try:
        worker_cache = importlib.import_module(folder_name + ".cache")
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n.split(".")[0] == folder_name]:
            del sys.modules[name]
        sys.modules.update(cached)
    assert Path(worker_cache.__file__).parent == out / folder_name
    namespace = {name: getattr(worker_cache, name) for name in ("step_key", "write_entry", "read_entry")}
    args = dict(image_digest="sha256:1", argv=["sh", "-c", "x"], inputs={"n": 1, "s": "é"}, environ={"A": "1"},
                secrets={"K": "v"}, workdir="/w", mounts=[("/h", "/c", True)], outputs={"n": "int"},
                map_index=None, fanout=False)
    key = namespace["step_key"](**args)
    assert key == step_cache.step_key(**args)
    # An entry the runtime writes is one `rtc run`'s StepCache reads, and the other way round.
    folder = tmp_path / "entries"
    namespace["write_entry"](str(folder), key, {"key": key, "outputs": {"n": 1}, "created_at": 1.0, "expires_at": None})
    assert step_cache.StepCache(folder).entries()[0].outputs == {"n": 1}
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE((folder / f"{key}.json").stat().st_mode) == 0o600
    # Only a regular file is an entry: a symlink in its place is a miss, never followed.
    (folder / f"{key}.json").unlink()
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps({"key": key, "outputs": {"n": 2}, "created_at": 1.0, "expires_at": None}))
    (folder / f"{key}.json").symlink_to(target)
    assert namespace["read_entry"](str(folder), key) is None
    # A folder of the cache that is a symlink is refused for writing.
    link = tmp_path / "link"
    link.symlink_to(folder)
    try:
        namespace["write_entry"](str(link), key, {"key": key})
    except OSError as exc:
        assert "not a folder of this user" in str(exc)
    else:
        raise AssertionError("a symlinked cache folder was written")
