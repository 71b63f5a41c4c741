"""Schedules: five-field cron expressions (minute hour day-of-month month day-of-week) and presets.

The authority is croniter, the library Airflow and Prefect both use, so a
form one of them refuses never compiles and every form they accept does
(`L`, `#`, `?` included). rtc's own field parser below only explains a
refusal: it names the bad field ("hour field '25': 25 is out of range 0-23")
where croniter would say "invalid cron". Without croniter installed (rtc
without the airflow or prefect extras), rtc's parser alone decides, for the
common forms: `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n`, `a-b/n`,
`a/n`, month names (JAN-DEC) and week days (SUN-SAT, 0 and 7 both Sunday).
croniter is imported only when a file has a schedule.
"""

from __future__ import annotations

PRESETS = {
    "@once": "@once",
    "@hourly": "@hourly",
    "@daily": "@daily",
    "@midnight": "@daily",
    "@weekly": "@weekly",
    "@monthly": "@monthly",
    "@yearly": "@yearly",
    "@annually": "@yearly",
}

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

# (field name, lowest, highest, names mapped to numbers)
FIELDS = [
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    ("day of week", 0, 7, {name: i for i, name in enumerate(_DAYS)}),
]


def canonical_schedule(text: str) -> str:
    """The spelling stored in the IR: presets unified (@midnight -> @daily), spaces collapsed."""
    text = text.strip()
    if text.lower() in PRESETS:
        return PRESETS[text.lower()]
    return " ".join(text.split())


def cron_problem(text: str) -> str | None:
    """None when `text` is a valid schedule, else what is wrong with it."""
    text = text.strip()
    if text.startswith("@"):
        if text.lower() in PRESETS:
            return None
        return f"unknown preset {text!r}; presets are " + ", ".join(sorted(set(PRESETS)))
    fields = text.split()
    if len(fields) != 5:
        return f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has {len(fields)}"
    own = _own_problem(fields)
    try:
        from croniter import croniter
    except ImportError:
        return own
    if croniter.is_valid(text):
        return None
    return own or "croniter, which Airflow and Prefect use to read schedules, refuses it"


def _own_problem(fields: list[str]) -> str | None:
    for value, (name, low, high, names) in zip(fields, FIELDS):
        problem = _field_problem(value, low, high, names)
        if problem:
            return f"{name} field {value!r}: {problem}"
    return None


def _field_problem(value: str, low: int, high: int, names: dict[str, int]) -> str | None:
    for item in value.split(","):
        if not item:
            return "empty item in a list"
        base, slash, step = item.partition("/")
        if slash:
            if not step.isdigit() or int(step) < 1:
                return f"step {step!r} is not a positive number"
            if int(step) > high:
                return f"step {step} is larger than {high}"
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        first = _number(start, low, high, names)
        if isinstance(first, str):
            return first
        if dash:
            last = _number(end, low, high, names)
            if isinstance(last, str):
                return last
            if last < first:
                return f"range {base!r} runs backwards"
    return None


def _number(text: str, low: int, high: int, names: dict[str, int]) -> int | str:
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        allowed = f" or a name ({', '.join(names)})" if names else ""
        return f"{text!r} is not a number{allowed}"
    number = int(text)
    if not low <= number <= high:
        return f"{number} is out of range {low}-{high}"
    return number
