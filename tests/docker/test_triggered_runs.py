"""`on` under `rtc run` (issue 22) on the real engine: triggered runs, the values they read, and the
OpenLineage events `rtc run` sends (the client's file transport, and an HTTP receiver on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.docker

RTC = [sys.executable, "-m", "rtc"]

SOURCE = '''namespace NS
env bb { image = "rtc-test/busybox:1"  mount "./state" -> "/state" }
node Train {
  env = bb
  inputs { fail: bool = false }
  outputs { model: file, score: float }
  command = ["sh", "-c", """echo "weights $(cat /proc/sys/kernel/random/uuid)" > "$MODEL_PATH"; cp "$MODEL_PATH" /state/trained
printf '{"score": 0.75}' > "$RTC_OUTPUTS_FILE" """]
}
node Check { env = bb  inputs { fail: bool }  command = ["sh", "-c", "case \\"$RTC_INPUTS\\" in *true*) exit 3;; esac"] }
node Score {
  env = bb
  inputs { model: file, score: float }
  outputs { n: int }
  command = ["sh", "-c", """cat "$MODEL_PATH" > /state/scored; echo "$RTC_INPUTS" > /state/score_inputs; printf '{"n": 1}' > "$RTC_OUTPUTS_FILE" """]
}
node Report { env = bb  command = ["sh", "-c", "date +%s%N >> /state/reports"] }
graph nightly {
  params { fail: bool = false }
  train = Train()
  check = Check(fail = params.fail) after train
}
graph scoring {
  on    = [nightly.train.model, nightly.train.score]
  score = Score(model = nightly.train.model, score = nightly.train.score)
}
graph report {
  on = [nightly]
  r  = Report()
}
'''


def project(tmp_path, namespace):
    (tmp_path / "state").mkdir()
    path = tmp_path / "p.rt"
    path.write_text(SOURCE.replace("NS", namespace), encoding="utf-8")
    return path


def rtc(*args, env=None, cwd=None, timeout=300):
    return subprocess.run([*RTC, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def no_lineage_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINEAGE")}
    env["HOME"] = str(tmp_path / "home")  # no ~/.openlineage/openlineage.yml
    env["RTC_STORE"] = str(tmp_path / "store")
    return env


def test_a_run_starts_the_graphs_on_it_and_they_read_the_triggering_output(tmp_path, namespace, docker_client):
    path = project(tmp_path, namespace)
    env = no_lineage_env(tmp_path)
    # By hand, before any run of nightly recorded a model: one clear error, nothing runs.
    done = rtc("run", str(path), "scoring", env=env, cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "reads nightly.train.model, but no run of graph 'nightly'" in done.stderr and "no container was started" in done.stderr
    assert not (tmp_path / "state" / "scored").exists()

    done = rtc("run", str(path), "nightly", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    nightly = done.stderr.split("rtc: run ", 1)[1].split(":", 1)[0]
    assert f"rtc: run {nightly} of graph 'nightly' triggers graph 'scoring' (on nightly.train.model, nightly.train.score)" in done.stderr
    assert f"rtc: run {nightly} of graph 'nightly' triggers graph 'report' (on nightly)" in done.stderr
    assert f"graph 'scoring' reads nightly.train.model from run {nightly}, which triggered this one" in done.stderr
    state = tmp_path / "state"
    trained = (state / "trained").read_text()
    assert (state / "scored").read_text() == trained  # the very file the triggering run stored
    assert json.loads((state / "score_inputs").read_text()) == {"model": "/rtc/in/model", "score": 0.75}
    assert len((state / "reports").read_text().split()) == 1

    # The triggered run's record names its cause.
    runs = json.loads(rtc("run", "list", "--kind", "graph", env=env).stdout)
    scoring = next(r["id"] for r in runs if r["graph"] == "scoring")
    shown = json.loads(rtc("run", "show", scoring, env=env).stdout)
    assert shown["status"] == "Succeeded"
    assert shown["triggeredBy"] == {"run": nightly, "graph": "nightly", "on": ["nightly.train.model", "nightly.train.score"]}

    # By hand now: the latest value recorded by a run of nightly.
    (state / "scored").unlink()
    done = rtc("run", str(path), "scoring", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"graph 'scoring' reads nightly.train.model from run {nightly} (the latest that recorded it)" in done.stderr
    assert (state / "scored").read_text() == trained

    # --no-triggers: nightly alone.
    done = rtc("run", str(path), "nightly", "--no-triggers", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "triggers graph" not in done.stderr
    assert len((state / "reports").read_text().split()) == 1
    assert (state / "scored").read_text() == trained  # scoring did not run again
    assert (state / "trained").read_text() != trained


def test_an_output_trigger_fires_when_its_step_recorded_it_even_if_the_run_then_failed(tmp_path, namespace, docker_client):
    path = project(tmp_path, namespace)
    env = no_lineage_env(tmp_path)
    done = rtc("run", str(path), "nightly", "--param", "fail=true", env=env, cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "of graph 'nightly' failed" in done.stderr and "step 'check' failed: exited with code 3" in done.stderr
    assert "triggers graph 'scoring' (on nightly.train.model, nightly.train.score)" in done.stderr  # train recorded its model
    assert "triggers graph 'report'" not in done.stderr  # the run did not succeed
    assert (tmp_path / "state" / "scored").read_text() == (tmp_path / "state" / "trained").read_text()
    assert not (tmp_path / "state" / "reports").exists()


def test_lineage_events_through_the_clients_file_transport(tmp_path, namespace, docker_client):
    path = project(tmp_path, namespace)
    env = no_lineage_env(tmp_path)
    events = tmp_path / "events.jsonl"
    env.update(OPENLINEAGE__TRANSPORT__TYPE="file", OPENLINEAGE__TRANSPORT__LOG_FILE_PATH=str(events),
               OPENLINEAGE__TRANSPORT__APPEND="true")
    done = rtc("run", str(path), "nightly", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    sent = [json.loads(line) for line in events.read_text().splitlines()]
    shape = [(e["eventType"], e["job"]["name"]) for e in sent]
    assert shape[:6] == [("START", "nightly"), ("START", "nightly.train"), ("COMPLETE", "nightly.train"),
                         ("START", "nightly.check"), ("COMPLETE", "nightly.check"), ("COMPLETE", "nightly")]
    assert ("COMPLETE", "scoring.score") in shape and ("COMPLETE", "report") in shape
    assert all(e["job"]["namespace"] == namespace for e in sent)
    # A failed run: its failed step's FAIL, then the graph's, both saying why.
    failed = tmp_path / "failed.jsonl"
    env["OPENLINEAGE__TRANSPORT__LOG_FILE_PATH"] = str(failed)
    done = rtc("run", str(path), "nightly", "--no-triggers", "--param", "fail=true", env=env, cwd=tmp_path)
    assert done.returncode == 1
    ends = [(e["eventType"], e["job"]["name"], e["run"]["facets"].get("errorMessage", {}).get("message"))
            for e in map(json.loads, failed.read_text().splitlines()) if e["eventType"] != "START"]
    assert ends == [("COMPLETE", "nightly.train", None), ("FAIL", "nightly.check", "exited with code 3"),
                    ("FAIL", "nightly", "step 'check' failed: exited with code 3")]
    train = sent[2]
    store = "file://" + str(tmp_path / "store")
    [model] = train["outputs"]
    assert model["namespace"] == store and model["name"].startswith("sha256/") and model["facets"]["rtc_artifact"]["kind"] == "file"
    assert train["run"]["facets"]["rtc_outputs"]["outputs"] == {"score": 0.75}
    assert train["run"]["facets"]["parent"]["run"]["runId"] == sent[0]["run"]["runId"]
    score_events = [e for e in sent if e["job"]["name"] == "scoring.score"]
    assert score_events[0]["inputs"][0]["name"] == model["name"]  # read by the triggered run: lineage across graphs
    scoring_start = next(e for e in sent if e["job"]["name"] == "scoring" and e["eventType"] == "START")
    assert scoring_start["run"]["facets"]["rtc_run"]["triggeredBy"]["graph"] == "nightly"


class _Receiver(BaseHTTPRequestHandler):
    got: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).got.append((self.path, json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_lineage_events_reach_an_http_lineage_server_and_a_dead_one_costs_a_warning(tmp_path, namespace, docker_client):
    path = project(tmp_path, namespace)
    _Receiver.got = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = no_lineage_env(tmp_path)
        env["OPENLINEAGE_URL"] = f"http://127.0.0.1:{server.server_port}"
        done = rtc("run", str(path), "nightly", "--no-triggers", env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    finally:
        server.shutdown()
        server.server_close()
    assert {p for p, _ in _Receiver.got} == {"/api/v1/lineage"}
    assert [(e["eventType"], e["job"]["name"]) for _, e in _Receiver.got] == [
        ("START", "nightly"), ("START", "nightly.train"), ("COMPLETE", "nightly.train"),
        ("START", "nightly.check"), ("COMPLETE", "nightly.check"), ("COMPLETE", "nightly")]
    # Nobody listens there now: the run is not harmed, one warning says so.
    done = rtc("run", str(path), "nightly", "--no-triggers", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("rtc: could not send an OpenLineage event") == 1


def test_unconfigured_lineage_imports_nothing(tmp_path, namespace, docker_client):
    path = project(tmp_path, namespace)
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "rtc", "run", str(path), "nightly", "--no-triggers"],
                          capture_output=True, text=True, timeout=300, env=no_lineage_env(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "rtc.integrations.local.lineage" in imported  # the check ran ...
    assert not {m for m in imported if m.split(".")[0] == "openlineage"}  # ... and imported no client
    assert "rtc.runtime.lineage" not in imported  # nor the event builder
    # configured by an openlineage.yml in the working folder (the client's own lookup)
    events = tmp_path / "from-yml.jsonl"
    (tmp_path / "openlineage.yml").write_text(f"transport:\n  type: file\n  log_file_path: {events}\n  append: true\n")
    done = rtc("run", str(path), "nightly", "--no-triggers", env=no_lineage_env(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(events.read_text().splitlines()) == 6
