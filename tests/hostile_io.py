"""Hostile steps against the io folder, one pipeline for every target (issue 11, items 1-2).

Each step of graph `g` attacks what rtc reads back from its io folder: its
outputs or signal file made a symlink to a host file that holds a secret, a
FIFO, a sparse file over the size cap, a folder. One more step runs as a
non-root user of its image and must still write its outputs (the io folder is
writable through its group, not by the world). The same IR is run by the local
runner, Airflow (`airflow dags test`) and Prefect (a flow run); each test
asserts every hostile step failed with its reason and no secret leaked.
"""

from __future__ import annotations

import io
import tarfile
import uuid
from pathlib import Path

from rtc.compiler.ir import Environment, Graph, Node, Pipeline, Port, Step

BUSYBOX = "rtc-test/busybox:1"
NON_ROOT = "rtc-test/busybox-nonroot:1"  # busybox with USER 4321:4321 (see non_root_image)

# step id -> (script, what the failure message must say)
HOSTILE = {
    "link_out": ('ln -s "$HOST_FILE" "$RTC_OUTPUTS_FILE"', "is a symlink"),
    "link_signal": ('ln -s "$HOST_FILE" "$RTC_SIGNAL_FILE"', "is a symlink"),
    "fifo_out": ('mkfifo "$RTC_OUTPUTS_FILE"', "is a FIFO"),
    "huge_out": ('truncate -s 65M "$RTC_OUTPUTS_FILE"', "is over rtc's limit"),
    "dir_out": ('mkdir "$RTC_OUTPUTS_FILE"', "is a folder"),
}
# A non-root step: it records the io folder's mode and its own uid in its outputs.
NON_ROOT_SCRIPT = (
    'printf \'{"mode": "%s", "uid": "%s"}\' "$(stat -c %a /rtc/io)" "$(id -u)" > "$RTC_OUTPUTS_FILE"'
)


def io_file(step_id: str) -> str:
    """The file a hostile step attacks."""
    return "signal.json" if "signal" in step_id else "outputs.json"


def secret_file(tmp_path: Path) -> tuple[Path, str]:
    """A host file a hostile step points its symlinks at; its content must never reach rtc's output."""
    secret = f"HOST-SECRET-{uuid.uuid4().hex}"
    path = tmp_path / "host-secret.json"
    path.write_text('{"x": "%s", "signal": "%s"}' % (secret, secret), encoding="utf-8")
    return path, secret


def non_root_image(client) -> str:
    """Busybox running as uid/gid 4321 (built once on the engine; the same content every time)."""
    try:
        client.images.get(NON_ROOT)
        return NON_ROOT
    except Exception:  # noqa: BLE001 - not built yet
        pass
    dockerfile = f"FROM {BUSYBOX}\nUSER 4321:4321\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    buf.seek(0)
    client.images.build(fileobj=buf, custom_context=True, tag=NON_ROOT, rm=True)
    return NON_ROOT


def hostile_pipeline(namespace: str, source: str, host_file: Path) -> Pipeline:
    envs = {
        "bb": Environment(name="bb", image=BUSYBOX, environ={"HOST_FILE": str(host_file)}),
        "nr": Environment(name="nr", image=NON_ROOT),
    }
    nodes = {
        sid: Node(name=sid, env="bb", command=["sh", "-c", script], outputs=[Port(name="x", type="json")])
        for sid, (script, _) in HOSTILE.items()
    }
    nodes["non_root"] = Node(name="non_root", env="nr", command=["sh", "-c", NON_ROOT_SCRIPT],
                             outputs=[Port(name="mode", type="str"), Port(name="uid", type="str")])
    steps = [Step(id=sid, node=sid) for sid in nodes]
    graph = Graph(name="g", steps=steps, order=[s.id for s in steps])
    return Pipeline(namespace=namespace, source=source, environments=envs, nodes=nodes, graphs={"g": graph})
