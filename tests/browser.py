"""A real browser for the end-to-end tests: Debian's headless Chromium, driven over the Chrome DevTools protocol.

The protocol is JSON messages over one websocket (the `websockets` library's synchronous client): commands with
an id and their answers, and events. That is all a test needs to open a page, type into it, click and read it
back, so no WebDriver (chromium-driver) and no Node package (playwright-core, which would also need its own
`npm install` here) sit in between. Chromium gets a fresh profile folder, listens on a port it picks
(``--remote-debugging-port=0``, read back from its ``DevToolsActivePort`` file), runs in a process group of its
own and is always killed and reaped. Every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.sync.client import ClientConnection, connect

from .conftest import require_tool

DEADLINE_S = 60.0
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--no-proxy-server",
         "--remote-debugging-port=0")


class BrowserError(AssertionError):
    pass


class Chromium:
    """One headless Chromium; :meth:`new_page` opens a tab to drive."""

    def __init__(self, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        self._log = open(profile.parent / f"{profile.name}.log", "wb")  # noqa: SIM115  # closed in close()
        self.process = subprocess.Popen([require_tool("chromium"), *FLAGS, f"--user-data-dir={profile}",
                                         "about:blank"], stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=self._log, start_new_session=True)
        self._events: list[dict[str, Any]] = []
        self._next_id = 0
        self._socket: ClientConnection | None = None
        self._connection = contextlib.ExitStack()
        try:
            self._socket = self._connection.enter_context(connect(
                self._endpoint(profile / "DevToolsActivePort"), proxy=None, max_size=None, open_timeout=DEADLINE_S))
        except BaseException:
            self.close()
            raise

    def _endpoint(self, active_port: Path) -> str:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrowserError(f"chromium exited with {self.process.returncode} before it listened")
            lines = active_port.read_text().split("\n") if active_port.exists() else []
            if len(lines) >= 2 and lines[1].startswith("/devtools/"):
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.05)
        raise BrowserError(f"chromium wrote no {active_port.name} within {DEADLINE_S:.0f} s")

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._socket = None
        self._connection.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    # -- the protocol ------------------------------------------------------------------------------------

    def _receive(self, deadline: float) -> dict[str, Any]:
        assert self._socket is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        message: dict[str, Any] = json.loads(self._socket.recv(timeout=remaining))
        return message

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None) -> Any:
        """Run one command and return its result; events that arrive meanwhile are kept for :meth:`wait_for`."""
        assert self._socket is not None
        self._next_id += 1
        command: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            command["sessionId"] = session
        self._socket.send(json.dumps(command))
        deadline = time.monotonic() + DEADLINE_S
        try:
            while True:
                message = self._receive(deadline)
                if message.get("id") == self._next_id:
                    if "error" in message:
                        raise BrowserError(f"{method}: {message['error']}")
                    return message.get("result", {})
                if "method" in message:
                    self._events.append(message)
        except TimeoutError:
            raise BrowserError(f"no answer to {method} within {DEADLINE_S:.0f} s") from None

    def forget(self, method: str, session: str) -> None:
        self._events = [e for e in self._events if not (e["method"] == method and e.get("sessionId") == session)]

    def wait_for(self, method: str, *, session: str) -> dict[str, Any]:
        """The first event ``method`` of ``session`` not yet waited for (perhaps already received)."""
        deadline = time.monotonic() + DEADLINE_S
        try:
            while True:
                for event in self._events:
                    if event["method"] == method and event.get("sessionId") == session:
                        self._events.remove(event)
                        return event
                message = self._receive(deadline)
                if "method" in message:
                    self._events.append(message)
        except TimeoutError:
            raise BrowserError(f"no {method} within {DEADLINE_S:.0f} s") from None

    def new_page(self) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", session=session)
        return Page(self, session)


class Page:
    """One tab: load a URL, run script in it, follow a navigation it starts."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def _loading(self, method: str, params: dict[str, Any]) -> Any:
        """Run a command that starts a navigation, and return once the new page has loaded."""
        self.browser.forget("Page.loadEventFired", self.session)
        result = self.browser.send(method, params, session=self.session)
        self.browser.wait_for("Page.loadEventFired", session=self.session)
        return result

    def goto(self, url: str) -> None:
        result = self._loading("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"{url}: {result['errorText']}")

    def evaluate(self, expression: str) -> Any:
        result = self.browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                                   session=self.session)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def navigating(self, expression: str) -> None:
        """Run ``expression`` (a click on a submit button, say) and wait for the page it leads to."""
        self._loading("Runtime.evaluate", {"expression": expression})

    def text(self, selector: str) -> str | None:
        value = self.evaluate(f"document.querySelector({json.dumps(selector)})?.textContent ?? null")
        return value if isinstance(value, str) else None
