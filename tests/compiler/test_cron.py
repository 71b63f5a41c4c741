"""Schedules are judged by croniter, the library Airflow and Prefect read them with (issue 8, item 4);
rtc's own field parser only words the refusal. Each row: a schedule, and the message (None: it compiles)."""

from __future__ import annotations

import pytest
from croniter import croniter

from rtc.compiler.cron import canonical_schedule, cron_problem

ROWS = [
    # forms rtc's own parser does not know, which croniter (so Airflow and Prefect) accepts
    ("0 0 L * *", None),
    ("0 0 * * 1#2", None),
    ("0 0 ? * *", None),
    ("0 0 * * 7-1", None),
    ("0 0 1-31/40 * *", None),
    ("0 0 * * SAT-MON", None),
    # plain forms
    ("*/15 * * * *", None),
    ("0 2 * * MON-FRI", None),
    ("@daily", None),
    # refused by croniter: rtc names the field when its own parser can
    ("60 * * * *", "minute field '60': 60 is out of range 0-59"),
    ("*/0 * * * *", "minute field '*/0': step '0' is not a positive number"),
    ("0 0 * * 8", "day of week field '8': 8 is out of range 0-7"),
    # refused by croniter, though a Quartz user might write it: croniter's word is final
    ("0 0 * * 5L", "day of week field '5L': '5L' is not a number or a name (SUN, MON, TUE, WED, THU, FRI, SAT)"),
    ("0 0 * *", "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has 4"),
]


@pytest.mark.parametrize("schedule, message", ROWS, ids=[row[0] for row in ROWS])
def test_croniter_decides_and_rtc_words_the_refusal(schedule, message):
    assert cron_problem(schedule) == message
    if message is None and not schedule.startswith("@"):
        assert croniter.is_valid(canonical_schedule(schedule))
    elif message is not None:
        assert not croniter.is_valid(schedule)


def test_a_refusal_only_croniter_sees_is_still_an_error(monkeypatch):
    # Every form croniter refuses that rtc's parser would accept (none is known today) gets croniter's reason.
    monkeypatch.setattr("rtc.compiler.cron._own_problem", lambda fields: None)
    assert cron_problem("0 0 * * 5L") == "croniter, which Airflow and Prefect use to read schedules, refuses it"
