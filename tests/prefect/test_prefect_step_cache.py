"""Steps with `cache` under Prefect (a real server, real flow runs, the real engine): the tasks use Prefect's
own cache (`cache_key_fn` = rtc.runtime.cache's key, `cache_expiration` from the duration), so the outputs live in
Prefect's result storage, and a hit runs no task function and starts no container.

What is checked: an unchanged re-run starts no container and returns the same outputs; a changed input re-runs
that step and the step below it, not the other branch; a recorded value that no longer matches the declared
type is not used (the step runs again, and the next run reuses the fresh outputs); an expired entry runs again.
"""

from __future__ import annotations

import time
import uuid

import pytest
from rtc_prefect_cases import flow_file, load_module
from step_cache_cases import cache_source, created_steps

from rtc.compiler import compile_file

pytestmark = [pytest.mark.prefect, pytest.mark.docker]


def test_cached_steps_start_no_container_and_rerun_what_changed(compile_to, prefect_server, docker_client, tmp_path):
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    # Prefect's result storage of this test only: the key holds no run or namespace (the same work is the
    # same work), so records of another session's run of this test would be hits.
    results = tmp_path / "results"
    with temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: str(results)}):
        check_the_cache(compile_to, docker_client, tmp_path, results)


def check_the_cache(compile_to, docker_client, tmp_path, results):
    from prefect.results import get_result_store

    namespace = f"cachep{uuid.uuid4().hex[:8]}"
    source = tmp_path / "p.rt"
    source.write_text(cache_source(namespace), encoding="utf-8")
    folder = compile_to(compile_file(str(source)))
    module = load_module(flow_file(folder, "g"))

    def run(**params):
        time.sleep(1.1)  # engine events have one-second resolution
        since = time.time()
        state = module.g(return_state=True, **params)
        assert state.is_completed(), state.message
        return state.result(), created_steps(docker_client, namespace, since)

    first, made = run()
    assert made == ["a", "b", "c"]
    assert first == {"a": {"n": 1}, "b": {"n": 10}, "c": {"n": 11}}

    again, made = run()
    assert made == []  # every task was a hit in Prefect's cache: no task function ran
    assert again == first

    changed, made = run(y=20)
    assert made == ["b", "c"]
    assert changed == {"a": {"n": 1}, "b": {"n": 20}, "c": {"n": 21}}

    # Overwrite c's record (for y=20) in Prefect's result storage with a value its type refuses.
    store = get_result_store()
    keys = [p.name for p in results.iterdir() if p.is_file()]
    [key] = [k for k in keys if _result(store, k) == {"n": 21}]
    store.write(obj={"n": "not a number"}, key=key)
    assert _result(store, key) == {"n": "not a number"}
    tampered, made = run(y=20)
    assert made == ["c"]  # not used: c ran again
    assert tampered["c"] == {"n": 21}
    again, made = run(y=20)
    assert made == []  # the fresh outputs were recorded (under a key derived from the bad record)

    # `cache = 1s` is Prefect's cache_expiration: the next run after a second runs the step.
    short = load_module(flow_file(folder, "short"))
    assert short.short(return_state=True).is_completed()
    time.sleep(1.2)
    since = time.time()
    assert short.short(return_state=True).is_completed()
    assert created_steps(docker_client, namespace, since) == ["s"]


def _result(store, key):
    try:
        return store.read(key).result
    except Exception:  # noqa: BLE001 - not a result record (a lock file, a metadata file)
        return None


def test_the_runtime_computes_rtc_run_s_key(compile_to, tmp_path):
    """The runtime module carries rtc.runtime.cache.step_key's source: the same arguments give the same key."""
    import importlib
    import sys
    from pathlib import Path

    from rtc.runtime import cache as step_cache

    source = tmp_path / "p.rt"
    source.write_text(cache_source("keyt"), encoding="utf-8")
    folder = compile_to(compile_file(str(source)))
    [package] = folder.glob("rtc_runtime_*")
    assert (package / "cache.py").read_text() == Path(step_cache.__file__).read_text()  # the same module, shipped
    assert "cache_expiration=timedelta(seconds=1.0)" in flow_file(folder, "short").read_text()  # in the decorator
    sys.path.insert(0, str(folder))
    try:
        shipped = importlib.import_module(package.name + ".cache")  # as the flow imports it, under its own name
    finally:
        sys.path.remove(str(folder))
    namespace = {"step_key": shipped.step_key}
    args = dict(image_digest="sha256:1", argv=["sh", "-c", "x"], inputs={"n": 1, "s": "é"}, environ={"A": "1"},
                secrets={"K": "v"}, workdir="/w", mounts=[("/h", "/c", True)], outputs={"n": "int"},
                map_index=2, fanout=True)
    assert namespace["step_key"](**args) == step_cache.step_key(**args)
    assert namespace["step_key"](**{**args, "inputs": {"n": 2, "s": "é"}}) != step_cache.step_key(**args)


def test_each_element_of_a_mapped_step_is_cached_on_its_own(compile_to, prefect_server, docker_client, tmp_path):
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    namespace = f"cachem{uuid.uuid4().hex[:8]}"
    source = tmp_path / "p.rt"
    source.write_text(cache_source(namespace), encoding="utf-8")
    module = load_module(flow_file(compile_to(compile_file(str(source))), "m"))

    def run(**params):
        time.sleep(1.1)  # engine events have one-second resolution
        since = time.time()
        state = module.m(return_state=True, **params)
        assert state.is_completed(), state.message
        return state.result()["e"], created_steps(docker_client, namespace, since)

    with temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: str(tmp_path / "results")}):
        assert run() == ([{"n": 1}, {"n": 2}], ["e#0", "e#1"])
        assert run() == ([{"n": 1}, {"n": 2}], [])
        # Element 1's input changed; element 0 (same input, same index) keeps its record.
        assert run(xs=[1, 3]) == ([{"n": 1}, {"n": 3}], ["e#1"])
