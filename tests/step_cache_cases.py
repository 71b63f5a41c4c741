"""What the step-cache tests of every target share: one pipeline, and the engine's word on which steps ran.

`cache_source` is the same work under `airflow dags test` and Prefect flow runs,
so both targets are held to the same expectations; `created_steps` counts the
containers the engine created (a cached step creates none).
"""

from __future__ import annotations

import time


def cache_source(namespace: str) -> str:
    """a = x + 0 and b = y + 0 (two branches), c = b + 1 below b; `short` caches for 1 s only; `m` maps `e`."""
    def node(name, add, cache):
        script = f"v=$(echo $RTC_INPUTS | tr -dc 0-9); printf '{{\\\"n\\\": %d}}' $((v + {add})) > $RTC_OUTPUTS_FILE"
        return (f"node {name} {{ env = bb  cache = {cache}  inputs {{ n: int }}  outputs {{ n: int }}\n"
                f"  command = [\"sh\", \"-c\", \"{script}\"] }}")

    return "\n".join([
        f"namespace {namespace}",
        'env bb { image = "rtc-test/busybox:1" }',
        node("Add0", 0, "true"), node("Add1", 1, "true"), node("Short", 0, "1s"),
        "graph g {\n  params { x: int = 1  y: int = 10 }\n  a = Add0(n = params.x)\n  b = Add0(n = params.y)\n"
        "  c = Add1(n = b.n)\n}",
        "graph short {\n  s = Short(n = 5)\n}",
        "graph m {\n  params { xs: list[int] = [1, 2] }\n  e = Add0(n = each(params.xs))\n}",
    ]) + "\n"


def containers_created(client, namespace: str, since: float) -> list[dict]:
    """Engine events of containers of `namespace` created since `since` (the engine remembers them)."""
    events = client.events(
        since=int(since) - 1, until=int(time.time()) + 1, decode=True,
        filters={"type": "container", "event": "create", "label": f"rtc.pipeline={namespace}"},
    )
    # The query is in whole seconds; the nanosecond stamps keep out what came just before `since`.
    return [e for e in events if e.get("timeNano", 0) >= int(since * 1e9)]


def created_steps(client, namespace: str, since: float) -> list[str]:
    """The steps (`rtc.step` labels) whose containers the engine created since `since`, sorted."""
    return sorted(e["Actor"]["Attributes"]["rtc.step"] for e in containers_created(client, namespace, since))
