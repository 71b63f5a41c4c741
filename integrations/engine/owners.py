"""Who owns a container rtc started: the `rtc.owner` label, and whether its owner still lives.

A run's containers, network and temporary io folder belong to the process
that executes it. Ctrl-C, SIGTERM and SIGHUP let that process clean up;
SIGKILL (or a crash of the machine's OOM killer) does not. So every container
rtc creates carries `rtc.owner = <boot id>:<pid>:<start time>` (`owner_label`),
which says whether its owner still lives, on this machine, without any store
(a pid alone could have been reused). Finishing what a dead owner left is
`rtc.integrations.tyger.abandoned`'s work.
"""

from __future__ import annotations

import os
from functools import lru_cache

LABEL_OWNER = "rtc.owner"


# ---------------------------------------------------------------- owners


@lru_cache(maxsize=1)
def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()[:8]
    except OSError:
        return "noboot"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat); None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def owner_label(pid: int | None = None) -> str:
    """`<boot id>:<pid>:<start time>` of this process (or `pid`)."""
    pid = os.getpid() if pid is None else pid
    return f"{_boot_id()}:{pid}:{_start_time(pid) or '?'}"


def owned_labels(labels: dict[str, str]) -> dict[str, str]:
    """`labels` plus `rtc.owner` of this process, for every container rtc creates.

    Not for `rtc env up` environments (`rtc.env`): they outlive their process by design.
    """
    out = dict(labels)
    if "rtc.env" not in out:
        out[LABEL_OWNER] = owner_label()
    return out


def owner_state(label: str | None) -> str:
    """"alive", "gone", or "unknown" (another machine's, or not an owner label)."""
    try:
        boot, pid, started = (label or "").split(":")
        pid_number = int(pid)
    except ValueError:
        return "unknown"
    if boot != _boot_id():
        return "unknown"
    now = _start_time(pid_number)
    return "alive" if now is not None and now == started else "gone"


def pid_alive(pid: int | None) -> bool:
    return bool(pid) and _start_time(int(pid)) is not None
