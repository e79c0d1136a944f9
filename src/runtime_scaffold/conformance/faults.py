"""Fault scenarios: a slow /next, 500s from the Runtime API, a response too large, and temp files."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable

from runtime_scaffold.conformance.harness import Failed, Harness, Session, injected_500
from runtime_scaffold.conformance.lifecycle import error_event, new_marker
from runtime_scaffold.conformance.payloads import describe
from runtime_scaffold.conformance.scenario import CONTEXT_EVENT, Scenario, describe_exit, expect_echo
from runtime_scaffold.emulator import Invocation, InvocationResult, Reply

NEXT_DELAY_S = 3.0
EXIT_TIMEOUT_S = 5  # how long a runtime has to exit after a 500
TOO_LARGE_BYTES = 7_000_000
TMP_TIMEOUT_S = 10


def next_delay(harness: Harness) -> str:
    session = harness.open(timeout=int(NEXT_DELAY_S) + 10)
    expect_echo(session, b'{"before":"the delay"}', "the first event")
    delayed = b'{"delayed":"by the Runtime API"}'

    def slow(invocation: Invocation) -> Reply | None:
        if invocation.payload == delayed:
            time.sleep(NEXT_DELAY_S)
        return None

    session.recorder.on_next = slow
    expect_echo(session, delayed, f"the event whose /next reply came {NEXT_DELAY_S:.0f} s late")
    return f"a /next reply delayed by {NEXT_DELAY_S:.0f} s was waited for"


class _Once:
    """A fault that fires once, at a chosen call, and remembers when."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.at: int | None = None  # how many calls had been recorded when it fired
        self._lock = threading.Lock()

    def fire(self, session: Session) -> Reply | None:
        with self._lock:
            if self.at is not None:
                return None
            self.at = len(session.recorder.calls)
            return self.reply


def _expect_exit(session: Session, result: InvocationResult, fault: _Once, where: str) -> str:
    """The runtime must exit by itself after the 500. One GET /next may follow it: a runtime that pipelines
    its requests (POST then GET in one write) has sent it before the 500 arrived."""
    recorder = session.recorder
    if fault.at is None:
        raise Failed(f"expected the runtime to call {where} (to answer it with a 500); it did not: "
                     f"{session.describe(result)}")
    later = recorder.calls[fault.at + 1:]
    code = recorder.exits[0] if recorder.exits else None
    carried_on = [call for call in later if call.kind != "next"] or later[1:]
    if carried_on or result.error_type is None:
        went_on = ", ".join(f"{call.method} {call.path.rsplit('/runtime/', 1)[-1]} ({call.status})"
                            for call in later[:3]) + (", ..." if len(later) > 3 else "")
        raise Failed(f"expected the runtime to exit after a 500 on {where}; it carried on: {went_on or 'no call'}"
                     + ("; the event was answered" if result.error_type is None else ""))
    if result.error_type != "Runtime.ExitError" or code is None or code == -9:
        raise Failed(f"expected the runtime to exit within {EXIT_TIMEOUT_S} s of a 500 on {where}; "
                     f"{describe_exit(code)} ({session.describe(result)})")
    return f"exited (status {code}) after a 500 on {where}"


def _after_500(kind: str, where: str, event: bytes) -> Callable[[Harness], str]:
    def run(harness: Harness) -> str:
        session = harness.open(timeout=EXIT_TIMEOUT_S)
        expect_echo(session, b'{"before":"the 500"}', "the first event")
        fault = _Once(injected_500(where))
        if kind == "next":
            session.recorder.on_next = lambda _invocation: fault.fire(session)
        else:
            session.recorder.on_post = lambda posted, _id: fault.fire(session) if posted == kind else None
        return _expect_exit(session, session.invoke(event), fault, where)
    return run


def response_413(harness: Harness) -> str:
    session = harness.open(timeout=30)
    event = json.dumps({"conform": "output", "bytes": TOO_LARGE_BYTES}, separators=(",", ":")).encode()
    result = session.invoke(event)
    request_id = result.request_id
    responses = session.recorder.posts("response", request_id)
    if not responses:
        raise Failed(f"expected a POST to /response of {TOO_LARGE_BYTES} bytes (to be refused with 413); "
                     f"none came: {session.describe(result)}")
    if responses[0].status != 413:
        raise Failed(f"expected the {TOO_LARGE_BYTES}-byte response to be refused with 413; the runtime posted "
                     f"{len(responses[0].body)} bytes, answered {responses[0].status}")
    follow = session.invoke(b'{"after":"the 413"}')  # the runtime has moved on: every post for the id is in
    errors = session.recorder.posts("error", request_id)
    if errors:
        raise Failed(f"after the 413 on /response the runtime posted /error for the same request "
                     f"(answered {errors[0].status}: {describe(errors[0].body, 60)})")
    if follow.error_type is not None or follow.payload != b'{"after":"the 413"}':
        raise Failed(f"after the 413 the next event was not served: {session.describe(follow)}")
    return "no /error after the 413, and the next event was served"


def _tmp_invocation(session: Session, number: int, folder: str) -> str | None:
    """One invocation of the temp-file run; what was wrong with its answer, if anything."""
    if number % 100 == 50:
        result = session.invoke(error_event(new_marker()))
        return None if result.error_type is not None else "a handler error was answered as a success"
    if number % 100 == 75:
        result = session.invoke(CONTEXT_EVENT)
        if result.error_type is not None:
            return session.describe(result)
        try:
            seen = json.loads(result.payload).get("tmpdir")
        except (ValueError, AttributeError):
            return f"context answer {describe(result.payload)}"
        return None if seen in (folder, None) else f"the handler saw TMPDIR={seen!r}"
    payload = json.dumps({"n": number, "text": "temp  file\ncheck " * (number % 7)}).encode()
    result = session.invoke(payload)
    if result.error_type is not None:
        return session.describe(result)
    return None if result.payload == payload else f"event {number} came back as {describe(result.payload)}"


def tmp_clean(harness: Harness) -> str:
    count = harness.tmp_invocations
    folder = tempfile.mkdtemp(prefix="scaffold-conform-tmp-")
    try:
        session = harness.open(timeout=TMP_TIMEOUT_S, environment={"TMPDIR": folder})
        wrong: list[str] = []
        done = 0
        for number in range(1, count + 1):
            problem = _tmp_invocation(session, number, folder)
            done = number
            if problem:
                wrong.append(f"invocation {number}: {problem}")
                if "Sandbox.Timedout" in problem:
                    break
        session.local.close()  # the runtime is stopped first, so that nothing is written while the folder is listed
        left = sorted(os.path.relpath(os.path.join(root, name), folder)
                      for root, dirs, files in os.walk(folder) for name in [*dirs, *files])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if left:
        raise Failed(f"{len(left)} file(s) left in TMPDIR after {done} invocations, e.g. {', '.join(left[:3])}")
    if wrong:
        raise Failed(f"TMPDIR stayed empty, but {len(wrong)} of {done} invocations went wrong ({wrong[0]})")
    return f"TMPDIR empty after {count} invocations"


SCENARIOS = [
    Scenario("next-delay", f"a /next reply delayed by {NEXT_DELAY_S:.0f} s is waited for (no client timeout on "
             "/next)", next_delay, lambda _h: NEXT_DELAY_S + 40),
    Scenario("next-500", "a 500 on GET /next makes the runtime exit", _after_500("next", "GET /next",
             b'{"after":"a 500"}'), lambda _h: 2 * EXIT_TIMEOUT_S + 20),
    Scenario("response-500", "a 500 on POST /response makes the runtime exit",
             _after_500("response", "POST /response", b'{"after":"a 500"}'), lambda _h: 2 * EXIT_TIMEOUT_S + 20),
    Scenario("error-500", "a 500 on POST /error makes the runtime exit",
             _after_500("error", "POST /error", error_event(new_marker())), lambda _h: 2 * EXIT_TIMEOUT_S + 20),
    Scenario("response-413", f"after a 413 on a {TOO_LARGE_BYTES}-byte /response, no /error for that request",
             response_413, lambda _h: 80),
    Scenario("tmp-clean", "no file left in TMPDIR after many invocations (1000 by default)", tmp_clean,
             lambda harness: 60 + harness.tmp_invocations * 0.25),
]
