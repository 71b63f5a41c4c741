"""Who owns a container rtc started: the `rtc.owner` label, and whether its owner still lives.

A run's containers, network and temporary io folder belong to the process
that executes it. Ctrl-C, SIGTERM and SIGHUP let that process clean up;
SIGKILL (or the OOM killer) does not. So every container rtc creates carries

    rtc.owner = rtc2:<boot id>:<pid namespace>:<pid>:<start time>

(`owner_label`). A pid means something only inside the PID namespace that
wrote it: an `rtc run` in a dev container or CI job that shares the Docker
socket has pids the host cannot see. So `owner_state` says "gone" only when
it can prove it: the label is well formed, was written on this boot of this
kernel (boot id) in this very PID namespace (the inode of
`/proc/self/ns/pid`), this process's /proc is its own namespace's, and no
process with that pid and start time exists. Anything else is "alive" or
"unknown" (another machine, another namespace, an older rtc's label, not an
rtc label at all): callers leave it alone and say why (`owner_verdict`).

Finishing what a dead owner left is `rtc.integrations.tyger.abandoned`'s work.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

LABEL_OWNER = "rtc.owner"
LABEL_ENV = "rtc.env"  # `rtc env up` environments: long-lived by design, never anyone's to collect

# rtc2:<8 hex of the boot id>:<pid namespace inode>:<pid>:<start time in clock ticks>
_OWNER = re.compile(r"rtc2:([0-9a-f]{8}):([0-9]{1,20}):([0-9]{1,10}):([0-9]{1,20})")


# ---------------------------------------------------------------- this process


@lru_cache(maxsize=1)
def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip().replace("-", "")[:8].lower()
    except OSError:
        return None
    return boot if re.fullmatch(r"[0-9a-f]{8}", boot) else None


@lru_cache(maxsize=1)
def _pid_namespace() -> str | None:
    """The inode of this process's PID namespace (`pid:[4026531836]` -> "4026531836"); None when unknowable.

    None too when /proc is not this namespace's own (a /proc mounted from another
    namespace names other processes): then no pid in it can be checked.
    """
    try:
        link = os.readlink("/proc/self/ns/pid")
        proc_self = os.readlink("/proc/self")
    except OSError:
        return None
    found = re.fullmatch(r"pid:\[([0-9]{1,20})\]", link)
    if found is None or proc_self != str(os.getpid()):
        return None
    return found.group(1)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat); None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError, ValueError):
        return None
    if not fields or fields[0] in ("Z", "X") or len(fields) < 20:
        return None
    return fields[19]


def owner_label(pid: int | None = None) -> str:
    """`rtc2:<boot id>:<pid namespace>:<pid>:<start time>` of this process (or of `pid`, a child of it).

    When this process cannot know its boot or namespace, the fields say `unknown` and no
    rtc ever collects what carries the label (it cannot prove its owner gone).
    """
    pid = os.getpid() if pid is None else pid
    return f"rtc2:{_boot_id() or 'unknown'}:{_pid_namespace() or 'unknown'}:{pid}:{_start_time(pid) or 'unknown'}"


def owned_labels(labels: dict[str, str]) -> dict[str, str]:
    """`labels` plus `rtc.owner` of this process, for every container rtc creates.

    Not for `rtc env up` environments (`rtc.env`): they outlive their process by design.
    """
    out = dict(labels)
    if LABEL_ENV not in out:
        out[LABEL_OWNER] = owner_label()
    return out


# ---------------------------------------------------------------- judging a label


def owner_verdict(label: str | None) -> tuple[str, str]:
    """("alive" | "gone" | "unknown", why). Only "gone" allows removing anything."""
    if not isinstance(label, str) or len(label) > 100:
        return "unknown", "not an rtc owner label"
    found = _OWNER.fullmatch(label)
    if found is None:
        if re.fullmatch(r"[0-9a-z]{1,16}:[0-9]{1,10}:[0-9?]{1,20}", label):
            return "unknown", "an older rtc's owner label, which does not say its PID namespace"
        return "unknown", "not an rtc owner label"
    boot, namespace, pid, started = found.groups()
    if _boot_id() is None or boot != _boot_id():
        return "unknown", "written on another machine or before a reboot (boot id differs)"
    if _pid_namespace() is None:
        return "unknown", "this process cannot see its own PID namespace"
    if namespace != _pid_namespace():
        return "unknown", f"written in another PID namespace ({namespace}; a container or CI job sharing the Docker socket)"
    now = _start_time(int(pid))
    if now is not None and now == started:
        return "alive", f"pid {pid} is running"
    return "gone", f"pid {pid} ended"


def owner_state(label: str | None) -> str:
    """"alive", "gone", or "unknown" (another machine's or namespace's, or not an owner label)."""
    return owner_verdict(label)[0]


def owner_pid(label: str | None) -> str:
    """`pid N` of an owner label, for messages; the label itself when it is not one."""
    found = _OWNER.fullmatch(label or "")
    return f"pid {found.group(3)}" if found else repr(label)


def pid_alive(pid: int | None) -> bool:
    return bool(pid) and _start_time(int(pid)) is not None
