"""Tyger cases shared by the targets' tests: one pipeline, the same expected container view under each.

`expansion_pipeline()` holds a codespec whose args and env use `$(NAME)`,
`$$(NAME)`, undefined names and order-dependent env values; its container
writes the argv it received and its `X_*` variables to its output buffer.
`EXPANDED` is what Kubernetes' rules give for it (worked out by hand from
those rules, not captured from a run): `rtc exec`, `airflow dags test` and a
Prefect flow run must all produce exactly this.
"""

from __future__ import annotations

from rtc.compiler.ir import Codespec, Pipeline, Run

BUSYBOX = "rtc-test/busybox:1"  # no ENTRYPOINT: `command` runs as written under every target

SCRIPT = 'for a in "$@"; do echo "arg=$a"; done > "$OUTPUT_PIPE"; env | grep "^X_" | sort >> "$OUTPUT_PIPE"'


def expansion_pipeline(namespace: str = "expandt") -> Pipeline:
    spec = Codespec(
        name="expand",
        image=BUSYBOX,
        inputs=["input"],
        outputs=["output"],
        command=["sh", "-c", SCRIPT, "sh"],
        args=[
            "$(INPUT_PIPE)",
            "$$(INPUT_PIPE)",
            "$(NOT_DEFINED)",
            "$(GREETING), $(WHO)!",
            "replica=$(REPLICA_INDEX)",
            "cost $$5",
            "$(",
            "$x",
        ],
        env={
            "GREETING": "Hello",
            "WHO": "world",
            "X_PIPE": "in=$(INPUT_PIPE)",
            # Kubernetes' "previously defined" rule, in name order (a Tyger env is a map):
            "X_ORDER": "$(X_LATER)",  # X_LATER comes before X_ORDER: expanded
            "X_EARLY": "$(X_ZED)",  # X_ZED comes after X_EARLY: left as written
            "X_LATER": "later",
            "X_ZED": "zed",
            "X_ESC": "$$(GREETING)",
            "X_CHAIN": "$(GREETING) $(WHO)",
        },
    )
    run = Run(name="expand", codespec="expand", timeout_seconds=120)
    return Pipeline(namespace=namespace, source="/tmp/expand.rt", codespecs={"expand": spec}, runs={"expand": run})


EXPANDED = """\
arg=/rtc/buffers/input
arg=$(INPUT_PIPE)
arg=$(NOT_DEFINED)
arg=Hello, world!
arg=replica=0
arg=cost $5
arg=$(
arg=$x
X_CHAIN=Hello world
X_EARLY=$(X_ZED)
X_ESC=$(GREETING)
X_LATER=later
X_ORDER=later
X_PIPE=in=/rtc/buffers/input
X_ZED=zed
"""


def stored_text(store_root, reference) -> str:
    """The text of a buffer a Tyger run under Airflow or Prefect stored (its output, as a reference)."""
    import os
    import tempfile

    from rtc.runtime.artifacts import LocalStore

    with tempfile.TemporaryDirectory() as folder:
        LocalStore(store_root).get(reference, os.path.join(folder, "buffer"))
        with open(os.path.join(folder, "buffer"), encoding="utf-8") as f:
            return f.read()
