"""Headless Chromium (Debian's `chromium`) driven over the DevTools protocol, for the UI screenshots.

One browser per `Browser()`; each `show()` loads a page in a fixed-size window, waits until the
page's text holds every string asked for (the UI has rendered the data, not a spinner or a login
form), and returns the page's DOM (what `chromium --dump-dom` prints) and a PNG of the window.
The DevTools endpoint listens on 127.0.0.1 only (Chromium's default); the profile folder is new
and empty, and the flags keep Chromium from reaching out (updates, sync, QUIC) and run it as root here.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio", "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0"]


def chromium() -> str | None:
    return shutil.which("chromium")


@dataclass
class Page:
    url: str
    dom: str  # document.documentElement.outerHTML once the page showed what was waited for
    text: str  # document.body.innerText at that moment
    png: bytes


class Browser:
    def __init__(self, width: int = 1280, height: int = 800):
        from websockets.sync.client import connect

        self.width, self.height = width, height
        self.profile = Path(tempfile.mkdtemp(prefix="rtc-chromium-"))
        self.proc = subprocess.Popen([chromium(), *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
                self.close()
                raise RuntimeError(f"chromium did not open its DevTools port: {err[-2000:]}")
            time.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            target = next(t for t in json.loads(response.read()) if t["type"] == "page")
        self.base = ""  # the site's URL, for callers
        self.ws = connect(target["webSocketDebuggerUrl"], max_size=64 * 2**20, open_timeout=30)
        self.ids = itertools.count(1)
        self.call("Page.enable")
        self.resize(width, height)

    def resize(self, width: int, height: int) -> None:
        """The window's size in CSS pixels (the PNG's size: one device pixel each)."""
        self.width, self.height = width, height
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params):
        """One DevTools command; its result (events that arrive meanwhile are dropped)."""
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=120))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def set_cookie(self, url: str, name: str, value: str) -> None:
        self.call("Network.setCookie", url=url, name=name, value=value, httpOnly=True)

    def set_local_storage(self, url: str, items: dict[str, str]) -> None:
        """Values of the page's localStorage at `url`'s origin (where UIs keep a user's choices)."""
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 30
        while self.evaluate("document.readyState") != "complete" and time.monotonic() < deadline:
            time.sleep(0.2)
        for key, value in items.items():
            self.evaluate(f"localStorage.setItem({json.dumps(key)}, {json.dumps(value)})")

    def show(self, url: str, wait_for: list[str], timeout: float = 90, settle: float = 2.0,
             before=None) -> Page:
        """Load `url`, wait until its text holds every string of `wait_for`, then capture it.

        `before`: JavaScript run once the text is there (e.g. a click), after which the page
        must hold the strings again. `settle` seconds let animations (graph layout) end.
        """
        self.call("Page.navigate", url=url)
        text = self._wait_text(url, wait_for, timeout)
        if before:
            self.evaluate(before)
            time.sleep(1)
            text = self._wait_text(url, wait_for, timeout)
        time.sleep(settle)
        text = self.evaluate("document.body.innerText") or text
        dom = self.evaluate("document.documentElement.outerHTML") or ""
        png = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        return Page(url, dom, text, png)

    def _wait_text(self, url: str, wait_for: list[str], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.evaluate("document.body ? document.body.innerText : ''") or ""
            if all(s in text for s in wait_for):
                return text
            time.sleep(0.5)
        missing = [s for s in wait_for if s not in text]
        raise AssertionError(f"{url} did not show {missing} within {timeout:g} s; it shows:\n{text[:3000]}")

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                self.ws.close()
        finally:
            if self.proc.poll() is None:
                import os
                import signal

                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
