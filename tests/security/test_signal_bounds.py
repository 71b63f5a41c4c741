"""A re-queue delay is bounded in the one decoder every target runs (issue 11, item 13; issue 18).

The local runner, Airflow and Prefect all decode a signal file with `rtc.runtime.step.decode_signal`
(DAGs and flows carry rtc.runtime itself): a delay of 1e300 s overflows `time.sleep`, and `inf`
(JSON 1e999, or Infinity) would wait forever; the same delays are refused on every target.
"""

from __future__ import annotations

import pytest

from rtc.compiler.bounds import MAX_DURATION_SECONDS
from rtc.runtime.step import ContractError, decode_signal


def signal(delay) -> str:
    return '{"signal": "requeue", "delay_seconds": %s}' % delay


@pytest.mark.parametrize("delay", ["1e300", str(MAX_DURATION_SECONDS + 1)])
def test_a_delay_over_a_year_is_refused(delay):
    with pytest.raises(ContractError, match="longer than a year, the longest rtc accepts"):
        decode_signal(signal(delay), "step 'x'")


@pytest.mark.parametrize("delay", ["1e999", "Infinity", "-Infinity", "NaN"])
def test_a_delay_that_is_no_json_number_is_refused(delay):
    with pytest.raises(ContractError, match="not JSON"):
        decode_signal(signal(delay), "step 'x'")


def test_a_deeply_nested_signal_is_refused_not_a_crash():
    with pytest.raises(ContractError, match="nested more than 64 levels"):
        decode_signal("[" * 5000 + "]" * 5000, "step 'x'")


@pytest.mark.parametrize("delay", [0, 1.5, MAX_DURATION_SECONDS])
def test_a_delay_up_to_a_year_is_a_requeue(delay):
    assert decode_signal(signal(delay), "step 'x'") == ("requeue", float(delay))
