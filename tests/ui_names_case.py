"""The pipeline whose names and failure both targets' UI tests look at (tests/airflow/, tests/prefect/ test_*_ui_names)."""

from __future__ import annotations


def ui_names_source(namespace: str) -> str:
    """Three numbers doubled by a fan-out whose second element writes broken JSON, then a sink."""
    return r'''# Doubles three numbers; the second element writes broken JSON.
namespace NAMESPACE
env bb { image = "rtc-test/busybox:1" }
node Make {
  env = bb
  outputs { xs: list[int] }
  command = ["sh", "-c", "printf '{\"xs\": [1, 2, 3]}' > $RTC_OUTPUTS_FILE"]
}
node Double {
  env = bb
  inputs { x: int }
  outputs { y: int }
  command = ["sh", "-c", "if [ $RTC_MAP_INDEX = 1 ]; then printf '{\"y\": \"unterminated' > $RTC_OUTPUTS_FILE; else printf '{\"y\": 0}' > $RTC_OUTPUTS_FILE; fi"]
}
node Sink {
  env = bb
  inputs { ys: list[int] }
  command = ["true"]
}
graph g {
  make = Make()
  double = Double(x = each(make.xs))
  sink = Sink(ys = double.y)
}
'''.replace("NAMESPACE", namespace)
