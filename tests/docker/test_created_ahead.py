"""A fan-out's next containers are created while the running ones finish (integrations/local/ahead.py).

What must hold whatever the timing: one container per element (never two, never
none), outputs in element order, at most `workers` running at once, retries and
failures as without it, and nothing left when the run fails or is canceled
with containers created ahead and not yet started.
"""

from __future__ import annotations

import threading
import time

from rtc.integrations.local.runner import format_failures, run_graph
from docker_pipelines import RetryPolicy, containers_created, lit, node, pipeline, sh, step

ECHO = sh('printf \'{"i": %s}\' "$RTC_MAP_INDEX" > "$RTC_OUTPUTS_FILE"')


def fan(tmp_path, namespace, n: int, workers: int, command=ECHO, **node_fields):
    return pipeline(
        tmp_path,
        [node("Each", command, inputs=[("x", "int")], outputs=[("i", "int")], **node_fields)],
        [step("each", "Each", [("x", lit(list(range(n))), "list[int]", True)])],
        namespace=namespace, workers=workers,
    )


def leftovers(docker_client, namespace: str) -> list:
    return docker_client.containers.list(all=True, filters={"label": f"rtc.pipeline={namespace}"})


def test_one_container_per_element_in_order_at_most_workers_running(tmp_path, namespace, docker_client):
    since = time.time()
    result = run_graph(fan(tmp_path, namespace, 12, 3), "g", {}, client=docker_client)
    assert result.status == "succeeded", format_failures(result)
    assert result.steps["each"].outputs == {"i": list(range(12))}
    created = sorted(e["Actor"]["Attributes"]["rtc.step"] for e in containers_created(docker_client, namespace, since))
    assert created == sorted(f"each#{i}" for i in range(12))  # each element created exactly once
    assert leftovers(docker_client, namespace) == []


def test_running_containers_never_exceed_workers(tmp_path, namespace, docker_client):
    seen: list[int] = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            # the engine's list, not the SDK's (which inspects each one: a container removed meanwhile is a 404)
            seen.append(len(docker_client.api.containers(filters={"label": f"rtc.pipeline={namespace}", "status": "running"})))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = run_graph(fan(tmp_path, namespace, 8, 2, sh("sleep 0.5; " + ECHO[2])), "g", {}, client=docker_client)
    finally:
        stop.set()
        watcher.join()
    assert result.status == "succeeded", format_failures(result)
    assert max(seen) <= 2 and max(seen) >= 1, seen
    assert leftovers(docker_client, namespace) == []


def test_retries_and_failures_as_without_creating_ahead(tmp_path, namespace, docker_client):
    # element 1 fails once then succeeds (its io folder is fresh on the retry); element 4 always fails
    marker = tmp_path / "tried"
    marker.mkdir()
    command = sh(
        'if [ "$RTC_MAP_INDEX" = 4 ]; then exit 7; fi; '
        'if [ "$RTC_MAP_INDEX" = 1 ] && [ ! -e /marks/once ]; then touch /marks/once; exit 3; fi; '
        'printf \'{"i": %s}\' "$RTC_MAP_INDEX" > "$RTC_OUTPUTS_FILE"'
    )
    from docker_pipelines import BUSYBOX, Environment, Mount

    p = fan(tmp_path, namespace, 6, 2, command, retry=RetryPolicy(max_retries=1, delay_seconds=0))
    p.environments["bb"] = Environment(name="bb", image=BUSYBOX, mounts=[Mount(host_path=str(marker), container_path="/marks")])
    result = run_graph(p, "g", {}, client=docker_client)
    assert result.status == "failed"
    assert (marker / "once").exists()
    assert "exited with code 7" in format_failures(result)
    assert leftovers(docker_client, namespace) == []


def test_a_cancel_removes_containers_created_ahead_and_never_started(tmp_path, namespace, docker_client):
    cancel = threading.Event()
    p = fan(tmp_path, namespace, 20, 2, sh("sleep 30"))
    threading.Timer(3.0, cancel.set).start()
    began = time.monotonic()
    result = run_graph(p, "g", {}, client=docker_client, cancel=cancel)
    assert time.monotonic() - began < 25
    assert result.status != "succeeded"
    assert leftovers(docker_client, namespace) == []
