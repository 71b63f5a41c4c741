"""What a local run prints: step log lines with a `[step]` prefix, and step status.

Log lines go to standard output. Status goes to standard error: on a
terminal as a live footer (`running: load, clean#2 | 3/7 done`) redrawn
under the scrolling log, otherwise as plain `rtc: ...` lines. One lock keeps
lines from different steps whole.
"""

from __future__ import annotations

import sys
import threading
import time


class Reporter:
    def __init__(self, total: int, out=None, err=None, live: bool | None = None):
        # Applied to everything printed; the runner sets it to mask the run's secret values.
        self.mask = lambda text: text
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.live = self.err.isatty() if live is None else live
        self.total = total
        self.done = 0
        self.running: dict[str, float] = {}
        self.lock = threading.Lock()
        self._footer_shown = False

    # ---------------------------------------------------------------- events

    def line(self, label: str, text: str) -> None:
        with self.lock:
            self._clear_footer()
            self.out.write(f"[{label}] {self.mask(text)}\n")
            self.out.flush()
            self._draw_footer()

    def status(self, text: str) -> None:
        with self.lock:
            self._clear_footer()
            self.err.write(f"rtc: {self.mask(text)}\n")
            self.err.flush()
            self._draw_footer()

    def started(self, label: str) -> None:
        with self.lock:
            self.running[label] = time.monotonic()
        if not self.live:
            self.status(f"{label} started")
        else:
            self._redraw()

    def finished(self, label: str, outcome: str, detail: str = "") -> None:
        """One container (or a whole mapped step) ended; `outcome` is succeeded/failed/..."""
        with self.lock:
            began = self.running.pop(label, None)
        took = f" in {time.monotonic() - began:.1f}s" if began is not None else ""
        self.status(f"{label} {outcome}{took}{': ' + detail if detail else ''}")

    def retrying(self, label: str, attempt: int, text: str) -> None:
        """Attempt `attempt` of `label` failed and another follows (history.RecordingReporter counts them)."""
        self.status(text)

    def step_done(self) -> None:
        with self.lock:
            self.done += 1
        self._redraw()

    def close(self) -> None:
        with self.lock:
            self._clear_footer()

    # ---------------------------------------------------------------- the live footer

    def _redraw(self) -> None:
        with self.lock:
            self._clear_footer()
            self._draw_footer()

    def _clear_footer(self) -> None:
        if self.live and self._footer_shown:
            self.err.write("\r\x1b[K")
            self.err.flush()
            self._footer_shown = False

    def _draw_footer(self) -> None:
        if not self.live:
            return
        names = ", ".join(list(self.running)[:6]) + (" ..." if len(self.running) > 6 else "")
        self.err.write(f"\x1b[2m{self.done}/{self.total} steps done | running: {names or '-'}\x1b[0m")
        self.err.flush()
        self._footer_shown = True
