"""An inline codespec in a run spec takes its kind from where it stands (`job:` or `worker:`), as Tyger's CLI does."""

from __future__ import annotations

from tyger_support import leftovers, rtc

RUN_SPEC = """\
job:
  codespec:
    image: rtc-test/python:1
    command: ["python3", "-c", "import sys; print(sys.argv[1])"]
    args: ["nodes=$(TYGER_WORKER_NODES) port=$(TYGER_HTTP_WORKER_ENDPOINT_ADDRESSES)"]
worker:
  codespec:
    image: rtc-test/python:1
    command: ["python3", "-m", "http.server", "$(PORT)"]
    env: {PORT: "8080"}
    endpoints: {http: 8080}
  replicas: 1
timeoutSeconds: 120
"""


def test_inline_worker_codespec_needs_no_kind(tmp_path, docker_client):
    (tmp_path / "dist.yml").write_text(RUN_SPEC)
    done = rtc("exec", "-f", str(tmp_path / "dist.yml"), "--logs", timeout=180)
    assert done.returncode == 0, done.stderr.decode()
    # the job's argument saw the worker variables: `$(NAME)` expands them too
    assert "nodes=[\"rtc-tyger-" in done.stderr.decode()
    assert "-worker-0:8080\"]" in done.stderr.decode()
    assert leftovers(docker_client) == []


def test_a_kind_written_in_an_inline_codespec_yields_to_its_place(tmp_path):
    spec = RUN_SPEC.replace("  codespec:\n    image: rtc-test/python:1\n    command: [\"python3\", \"-m\"",
                            "  codespec:\n    kind: job\n    image: rtc-test/python:1\n    command: [\"python3\", \"-m\"")
    assert "kind: job" in spec
    (tmp_path / "dist.yml").write_text(spec)
    done = rtc("check", str(tmp_path / "dist.yml"))
    assert done.returncode == 0, done.stderr.decode()
