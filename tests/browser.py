"""Headless Chromium, driven over the DevTools protocol on a pipe: no port, no websocket.

``chromium --remote-debugging-pipe`` reads protocol commands from its fd 3 and
writes responses and events to its fd 4, each message JSON ending in a NUL
byte (the transport Puppeteer's ``pipe: true`` uses). :func:`render` loads a
page with the network off (resolver and proxy pointing nowhere, and the
protocol's own offline switch), waits for it to load, and returns what the
console said, every URL the page requested and a full-page PNG screenshot.

Run as a script it screenshots a page: ``python -m tests.browser PAGE.html OUT.png [HEIGHT]``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INSTALL = "apt-get update && apt-get install -y --no-install-recommends chromium"
MISSING = (
    "Chromium is needed for the browser test and is not installed: run `tests/run` "
    f"(it installs it), or `{INSTALL}` (as root, or with sudo); or set "
    "SPARKIFY_TEST_CHROMIUM to a Chromium or Chrome executable."
)
WIDTH = 1280


def chromium() -> str | None:
    """The Chromium to test with: ``$SPARKIFY_TEST_CHROMIUM``, else ``chromium`` on PATH."""
    configured = os.environ.get("SPARKIFY_TEST_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(RuntimeError):
    """The browser did not answer as the protocol says."""


@dataclass
class Rendered:
    """What loading a page gave.

    Attributes:
        console: Console errors and warnings, uncaught exceptions and browser log
            errors, one line each.
        requests: Every URL the page asked for (itself included).
        png: A screenshot of the whole page, ``WIDTH`` CSS pixels wide, one pixel each.
        boxes: The page-coordinate box (x, y, width, height) of each selector asked for.
        values: The result of each expression asked for.
    """

    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    png: bytes = b""
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


class _Pipe:
    """One Chromium process and its protocol pipe."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Copies at fd >= 10, so that the child's dup2 onto 3 and 4 cannot overwrite them.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser_r, from_browser_w)]
        args = [
            executable,
            "--headless",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--disable-extensions",
            "--disable-sync",
            "--disable-background-networking",
            "--disable-component-update",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=127.0.0.1:9",
            "--hide-scrollbars",
            "--mute-audio",
            "about:blank",
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox

        def onto_3_and_4() -> None:
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,  # keeps 3 and 4; Python's own fds are not inheritable (PEP 446)
            preexec_fn=onto_3_and_4,
        )
        for fd in (to_browser_r, from_browser_w, *high):
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and wait for its answer (events meanwhile are kept)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._receive(timeout=30.0)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            self.events.append(answer)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for an event (one already received counts)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._receive(timeout=deadline - time.monotonic()))

    def _receive(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited (code {self.process.poll()})")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


def _console_lines(events: list[dict[str, Any]]) -> list[str]:
    lines = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning"):
            words = [str(a.get("value", a.get("description", ""))) for a in params.get("args", [])]
            lines.append(f"console.{params['type']}: {' '.join(words)}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            described = details.get("exception", {}).get("description", details.get("text"))
            lines.append(f"exception: {described}")
        elif method == "Log.entryAdded" and params["entry"].get("level") in ("error", "warning"):
            entry = params["entry"]
            lines.append(f"log {entry['level']} ({entry.get('source')}): {entry.get('text')}")
    return lines


def render(
    page: Path,
    *,
    executable: str,
    boxes: tuple[str, ...] = (),
    values: dict[str, str] | None = None,
    max_height: int | None = None,
) -> Rendered:
    """Load ``page`` in headless Chromium with no network; screenshot it whole.

    Args:
        page: The HTML file.
        executable: The Chromium to run.
        boxes: CSS selectors whose first match's box (in page pixels) to return.
        values: Name to JavaScript expression, evaluated after the load (JSON results).
        max_height: Cut the screenshot at this many pixels.
    """
    with tempfile.TemporaryDirectory(prefix="sparkify-chromium-") as profile:
        browser = _Pipe(executable, Path(profile))
        try:
            return _render(browser, page, boxes, values or {}, max_height)
        finally:
            browser.close()


def _render(
    browser: _Pipe,
    page: Path,
    boxes: tuple[str, ...],
    values: dict[str, str],
    max_height: int | None,
) -> Rendered:
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    attached = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})
    session = attached["sessionId"]

    def send(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return browser.send(method, params, session=session)

    for domain in ("Runtime", "Log", "Page", "Network"):
        send(f"{domain}.enable")
    offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    send("Network.emulateNetworkConditions", offline)
    metrics = {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    send("Emulation.setDeviceMetricsOverride", metrics)
    send("Page.navigate", {"url": page.resolve().as_uri()})
    browser.wait_for("Page.loadEventFired")
    settled = "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
    send("Runtime.evaluate", {"expression": settled, "awaitPromise": True})

    rendered = Rendered()
    for name, expression in values.items():
        answer = send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        rendered.values[name] = answer["result"].get("value")
    for selector in boxes:
        expression = (
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return [r.x + scrollX, r.y + scrollY, r.width, r.height]"
            " })()"
        )
        answer = send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in answer:
            raise BrowserError(f"no element matches {selector}")
        x, y, width, height = answer["result"]["value"]
        rendered.boxes[selector] = (x, y, width, height)
    height = send("Page.getLayoutMetrics")["cssContentSize"]["height"]
    clip = {"x": 0, "y": 0, "width": WIDTH, "height": min(height, max_height or height)}
    shot = send(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "clip": {**clip, "scale": 1}},
    )
    rendered.png = base64.b64decode(shot["data"])
    rendered.console = _console_lines(browser.events)
    rendered.requests = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    return rendered


def main(argv: list[str]) -> int:
    """``python -m tests.browser PAGE.html OUT.png [HEIGHT]``: screenshot a page."""
    executable = chromium()
    if executable is None:
        print(MISSING, file=sys.stderr)
        return 1
    height = int(argv[2]) if len(argv) > 2 else None
    rendered = render(Path(argv[0]), executable=executable, max_height=height)
    Path(argv[1]).write_bytes(rendered.png)
    for line in rendered.console:
        print(line, file=sys.stderr)
    return 1 if rendered.console else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
