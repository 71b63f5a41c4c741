"""The pipeline whose `on` both orchestrators' trigger tests run (tests/airflow/test_airflow_triggers.py,
tests/prefect/test_prefect_triggers.py): a model `nightly` records, a graph on it, a graph on two runs."""

from __future__ import annotations


def triggers_source(namespace: str) -> str:
    """`scoring` is on nightly.train.model (and a cron), `report` on the runs of `nightly` and of `broken`,
    whose only step fails."""
    return r'''namespace NAMESPACE
env bb { image = "rtc-test/busybox:1" }
node Train {
  env = bb
  outputs { model: file, score: float }
  command = ["sh", "-c", "echo MODEL > $MODEL_PATH; printf '{\"score\": 0.9}' > $RTC_OUTPUTS_FILE"]
}
node Score {
  env = bb
  inputs { model: file }
  outputs { got: str }
  command = ["sh", "-c", "printf '{\"got\": \"%s\"}' $(cat $MODEL_PATH) > $RTC_OUTPUTS_FILE"]
}
node Fail {
  env = bb
  outputs { model: file }
  command = ["false"]
}
node Note {
  env = bb
  inputs { x: float }
  command = ["true"]
}
graph nightly {
  train = Train()
}
graph broken {
  fail = Fail()
}
graph scoring {
  schedule = "0 3 * * *"
  on = [nightly.train.model]
  score = Score(model = nightly.train.model)
}
graph report {
  on = [nightly, broken]
  note = Note(x = 1.0)
}
'''.replace("NAMESPACE", namespace)
