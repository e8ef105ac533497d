"""Headless Chromium over the DevTools protocol, through a pipe (no port, no websocket).

`open_page(path)` loads a local HTML file in Debian's `chromium` and reports what a person
would notice: console errors and uncaught exceptions, any request leaving the file (the
report must open offline), values read from the rendered page, and a full-page screenshot.

Run as a script to take the README's screenshot of a report:
    python -m tests.report.browser report.html docs/report.png
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Quiet, offline, sandbox-free (CI runs as root) and deterministic in size.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--hide-scrollbars", "--force-device-scale-factor=1",
         "--remote-debugging-pipe"]
WIDTH = 1280


def chromium_path() -> str | None:
    return shutil.which("chromium")


class DevToolsError(RuntimeError):
    """Chromium answered a command with an error, or did not answer in time."""


@dataclass
class Page:
    """One tab, driven by commands; events are collected as they arrive."""

    process: subprocess.Popen[bytes]
    to_browser: int
    from_browser: int
    session: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    _buffer: bytes = b""
    _next_id: int = 0
    _poller: select.poll = field(default_factory=select.poll)

    def __post_init__(self) -> None:
        self._poller.register(self.from_browser, select.POLLIN)

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            # poll, not select: select() refuses descriptors above 1023, which a long
            # test session can reach
            if left <= 0 or not self._poller.poll(left * 1000):
                raise DevToolsError("chromium did not answer in time")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise DevToolsError(f"chromium exited (code {self.process.poll()})")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(self, method: str, params: dict[str, Any] | None = None, *,
             browser: bool = False, timeout_s: float = 30) -> dict[str, Any]:
        """A command's result; events that arrive meanwhile are kept in `events`."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method,
                                   "params": params or {}}
        if not browser:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise DevToolsError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer["result"]
                return result
            if "method" in answer:
                self.events.append(answer)

    def wait_for(self, method: str, timeout_s: float = 30) -> dict[str, Any]:
        """The first event `method` (already received or still to come)."""
        deadline = time.monotonic() + timeout_s
        while True:
            for event in self.events:
                if event["method"] == method:
                    return event
            answer = self._read_message(deadline)
            if "method" in answer:
                self.events.append(answer)

    def evaluate(self, expression: str) -> Any:
        """A JavaScript expression's value (JSON-able), awaiting a promise."""
        result = self.send("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise DevToolsError(f"{expression[:60]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def console_errors(self) -> list[str]:
        """Uncaught exceptions, console.error/assert calls and error log entries."""
        errors = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                errors.append(details.get("exception", {}).get("description")
                              or details.get("text", "exception"))
            elif (event["method"] == "Runtime.consoleAPICalled"
                  and params.get("type") in ("error", "assert")):
                errors.append(" ".join(str(a.get("value", a.get("description", "")))
                                       for a in params.get("args", [])))
            elif (event["method"] == "Log.entryAdded"
                  and params["entry"].get("level") == "error"):
                errors.append(params["entry"].get("text", ""))
        return errors

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events
                if e["method"] == "Network.requestWillBeSent"]

    def screenshot(self, path: Path) -> None:
        """The whole page, as tall as its content, WIDTH pixels wide (PNG)."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False})
        shot = self.send("Page.captureScreenshot",
                         {"format": "png", "captureBeyondViewport": True}, timeout_s=60)
        path.write_bytes(base64.b64decode(shot["data"]))


def _child_fds(to_child: int, from_child: int) -> None:
    """In the child: the DevTools pipe on fds 3 (commands in) and 4 (answers out)."""
    read_end, write_end = os.dup(to_child), os.dup(from_child)
    os.dup2(read_end, 3)
    os.dup2(write_end, 4)


@contextmanager
def open_page(html: Path, timeout_s: float = 60) -> Iterator[Page]:
    """Chromium with `html` loaded (load event fired, every Plotly chart drawn)."""
    binary = chromium_path()
    if binary is None:
        raise FileNotFoundError("chromium is not installed (make browser installs it)")
    to_read, to_write = os.pipe()
    from_read, from_write = os.pipe()
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},900"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Python's own fds are close-on-exec; only the two dup2'ed ones stay open.
            close_fds=False, preexec_fn=lambda: _child_fds(to_read, from_write))
        os.close(to_read)
        os.close(from_write)
        page = Page(process, to_write, from_read)
        try:
            target = page.send("Target.createTarget", {"url": "about:blank"}, browser=True)
            attached = page.send("Target.attachToTarget",
                                 {"targetId": target["targetId"], "flatten": True},
                                 browser=True)
            page.session = attached["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                page.send(f"{domain}.enable")
            page.send("Page.navigate", {"url": html.resolve().as_uri()})
            page.wait_for("Page.loadEventFired", timeout_s)
            # Plotly draws on load; its promises settle once every chart is on screen.
            page.evaluate("Promise.all([...document.querySelectorAll('.js-plotly-plot')]"
                          ".map(gd => gd._fullLayout ? Promise.resolve() : "
                          "new Promise(r => gd.on('plotly_afterplot', r))))")
            yield page
        finally:
            os.close(to_write)
            os.close(from_read)
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


if __name__ == "__main__":
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    with open_page(source) as page:
        page.screenshot(target)
        problems = page.console_errors()
    print(f"{target}: screenshot of {source}; console errors: {problems or 'none'}")
