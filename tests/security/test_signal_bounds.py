"""A re-queue delay is bounded in the one parser every target ships (issue 11, item 13).

The local runner calls `rtc.contract.parse_signal`; Airflow's and Prefect's runtime modules
carry its source, so the same delays are refused on every target: a delay of 1e300 s
overflows `time.sleep` and `inf` (JSON 1e999) would wait forever.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from rtc import contract
from rtc.compiler.bounds import MAX_DURATION_SECONDS
from rtc.integrations.airflow import runtime_module as airflow_runtime
from rtc.integrations.prefect.emitter import runtime_module as prefect_runtime


def shipped_parse_signal(runtime_module, tmp_path):
    """`parse_signal` as defined in a generated runtime module (imported from its file)."""
    name, text = runtime_module()
    path = tmp_path / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module.parse_signal


@pytest.fixture(params=["rtc.contract", "airflow", "prefect"])
def parse_signal(request, tmp_path):
    if request.param == "rtc.contract":
        return contract.parse_signal
    return shipped_parse_signal(airflow_runtime if request.param == "airflow" else prefect_runtime, tmp_path)


@pytest.mark.parametrize("delay", ["1e300", "1e999", "Infinity", str(MAX_DURATION_SECONDS + 1)])
def test_a_delay_over_a_year_is_refused(parse_signal, delay):
    with pytest.raises(ValueError, match="longer than a year, the longest rtc accepts"):
        parse_signal('{"signal": "requeue", "delay_seconds": %s}' % delay)


def test_a_nan_delay_is_refused(parse_signal):
    with pytest.raises(ValueError, match="a signal file holds"):
        parse_signal('{"signal": "requeue", "delay_seconds": NaN}')


@pytest.mark.parametrize("delay", [0, 1.5, MAX_DURATION_SECONDS])
def test_a_delay_up_to_a_year_is_a_requeue(parse_signal, delay):
    assert parse_signal('{"signal": "requeue", "delay_seconds": %s}' % delay) == ("requeue", float(delay))
