"""`$RTC_HOME` on disk: owner-only, and a clear message when it cannot be used.

The run store holds buffers (write-once data), run logs (what steps
printed, secrets masked but not always) and `store.db`. Another local user
must not read or rewrite any of it, so folders are 0700 and files 0600;
a home left by an older rtc (0755 folders, 0644/0666 files) is tightened
the first time it is opened. Containers reach buffers through bind mounts,
which do not traverse the 0700 folders (docs/security.md).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rtc.base.diagnostics import RtcError

DIR_MODE = 0o700
FILE_MODE = 0o600


def rtc_home() -> Path:
    """Where rtc keeps its files on this machine: `$RTC_HOME`, default `~/.rtc` (the one place that reads it)."""
    return Path(os.environ.get("RTC_HOME") or Path.home() / ".rtc").expanduser()


def steps_cache_dir() -> Path:
    """Where `rtc run` keeps the outputs of steps with `cache` (rtc.runtime.cache): `$RTC_HOME/cache/steps`."""
    return rtc_home() / "cache" / "steps"


def artifact_store(environ):
    """Where `file` and `dir` outputs are kept (rtc.runtime.artifacts): RTC_STORE (a folder, file:///folder or
    s3://BUCKET/PREFIX), else $RTC_HOME/artifacts; one clear error for a URL rtc cannot use."""
    from rtc.runtime.artifacts import ArtifactError, open_store

    try:
        return open_store(environ.get("RTC_STORE") or str(rtc_home() / "artifacts"))
    except ArtifactError as exc:
        raise RtcError(f"the artifact store: {exc}", hint="set by --store URL or RTC_STORE") from None


def prepare(home: Path, subfolders: tuple[str, ...] = ("buffers", "logs")) -> None:
    """Create `home` (and its sub-folders) owner-only; tighten an existing, looser one."""
    try:
        info = os.stat(home)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise _unusable(home, exc.strerror or str(exc)) from None
    if info is not None and not stat.S_ISDIR(info.st_mode):
        raise _unusable(home, "it is a file, not a folder")
    try:
        if info is None:
            try:
                home.mkdir(mode=DIR_MODE, parents=True)
            except FileExistsError:  # another rtc made it meanwhile (two first runs at once): use it as found
                return prepare(home, subfolders)
        elif stat.S_IMODE(info.st_mode) & 0o077:
            tighten(home)  # a home from before rtc kept it private: fix it once, everything in it
        for name in subfolders:
            private_dir(home / name)
    except OSError as exc:
        raise _unusable(home, exc.strerror or str(exc)) from None


def private_dir(path: Path) -> Path:
    """`path` as an owner-only folder (created when missing, with its parents)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
    """Open (creating 0600) a file in the home; never through a symlink. Returns a file descriptor."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
        os.fchmod(fd, FILE_MODE)
    return fd


def tighten(home: Path) -> None:
    """Every folder under `home` 0700, every file 0600; symlinks are left alone (never followed)."""
    os.chmod(home, DIR_MODE)
    for root, dirs, files in os.walk(home):
        for name in dirs:
            _chmod_unless_link(Path(root) / name, DIR_MODE)
        for name in files:
            _chmod_unless_link(Path(root) / name, FILE_MODE)


def _chmod_unless_link(path: Path, mode: int) -> None:
    try:
        if not path.is_symlink():
            os.chmod(path, mode)
    except OSError:
        pass  # removed meanwhile by a concurrent rtc: nothing to tighten


def _unusable(home: Path, why: str) -> RtcError:
    return RtcError(
        f"cannot use {home} as the run store: {why}",
        hint="point RTC_HOME at a folder of yours (it is created when missing), or move the file away",
    )
