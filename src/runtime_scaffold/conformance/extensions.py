"""Extension scenarios (``scaffold conform --extension NAME``): an external extension of the function's layers
checked against the Extensions API contract, with the project's real bootstrap and conformance handler beside it.

What the contract asks (docs/runtime-api.md §8.5, Lambda's Extensions API page): register under the extension's
file name and ask for the first event, so that the Init phase ends; ask for the next event after each INVOKE
before the invocation's deadline, since the invocation is not over until every extension has (it must never
hold one); and, registered for SHUTDOWN, exit by itself before the end of the Shutdown phase, in a spindown as
after a timeout, instead of being killed.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

from runtime_scaffold.conformance.harness import Failed, Harness, Session
from runtime_scaffold.conformance.scenario import Scenario
from runtime_scaffold.emulator.lifecycle import ExtensionInfo, ExtensionObserver

TIMEOUT_S = 3  # the function's timeout in these scenarios: an extension must finish each invocation within it
INVOCATIONS = 20
_BUDGET_S = 60.0
ECHO = b'{"conform":"extension"}'
_VERDICT_GRACE_S = 5.0  # past an invocation's deadline, for the emulator to say how its extensions ended it


@dataclass
class _Shutdown:
    reason: str
    exited: list[str]
    killed: list[str]
    not_told: list[str]


@dataclass
class ExtensionRecorder(ExtensionObserver):
    """What the extensions did in each phase, as the emulator tells it."""

    inits: list[list[ExtensionInfo]] = field(default_factory=list)
    invocations: list[tuple[str, float, list[str]]] = field(default_factory=list)
    shutdowns: list[_Shutdown] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def initialized(self, sandbox_id: str, extensions: list[ExtensionInfo]) -> None:
        with self._changed:
            self.inits.append(extensions)

    def invocation_over(self, sandbox_id: str, request_id: str, *, after_runtime_ms: float,
                        late: list[str]) -> None:
        with self._changed:
            self.invocations.append((request_id, after_runtime_ms, late))
            self._changed.notify_all()

    def wait_for_invocations(self, count: int, *, timeout_s: float) -> None:
        """Until the emulator has said how ``count`` invocations ended (or ``timeout_s`` has passed)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.invocations) >= count, timeout=timeout_s)

    def held(self, name: str) -> list[str]:
        """The invocations extension ``name`` had not finished by their deadline."""
        with self._changed:
            return [request for request, _, names in self.invocations if name in names]

    def shut_down(self, sandbox_id: str, reason: str, *, exited: list[str], killed: list[str],
                  not_told: list[str]) -> None:
        with self._changed:
            self.shutdowns.append(_Shutdown(reason, exited, killed, not_told))


def _open(harness: Harness) -> tuple[Session, ExtensionRecorder, str]:
    assert harness.extension is not None
    recorder = ExtensionRecorder()
    return harness.open(timeout=TIMEOUT_S, extension_observer=recorder), recorder, harness.extension


def _registered(session: Session, recorder: ExtensionRecorder, name: str, *, answered: bool = True) -> ExtensionInfo:
    """The extension as the first Init phase left it, after one invocation, which must have succeeded when
    ``answered`` (registration alone is judged on Init: an extension that fails later, during the INVOKE, may
    or may not beat the runtime's answer, and other scenarios catch that)."""
    result = session.invoke(ECHO)
    info = next((e for e in (recorder.inits[0] if recorder.inits else []) if e.name == name), None)
    if info is None or info.state != "Ready":
        raise Failed(f"expected {name} to register under its file name and ask for its first event, got "
                     f"{info.state if info else 'no registration'}"
                     + (f" (the function answered {session.describe(result)})" if result.error_type else ""))
    if answered and result.error_type is not None:
        raise Failed(f"expected the function to answer with extension {name} beside it, got {session.describe(result)}")
    return info


def registers(harness: Harness) -> str:
    session, recorder, name = _open(harness)
    info = _registered(session, recorder, name, answered=False)
    events = ", ".join(info.events) or "no events"
    return f"{name} registered under its file name for {events} and asked for its first event before init ended"


def _fail_if_held(recorder: ExtensionRecorder, name: str) -> None:
    late = recorder.held(name)
    if late:
        raise Failed(f"expected {name} to ask for its next event after each INVOKE within the {TIMEOUT_S} s "
                     f"timeout; it held invocation {late[0]} past its deadline (the invocation is not over "
                     "until every extension asks again, so it blocks the next one)")


def keeps_polling(harness: Harness) -> str:
    session, recorder, name = _open(harness)
    info = _registered(session, recorder, name)
    for number in range(2, INVOCATIONS + 1):
        # Event N starts only once N-1 is over, so N-1's verdict is in: stop at the first one held (each costs
        # a timeout and a reset; twenty of them would outlast the scenario's budget).
        _fail_if_held(recorder, name)
        result = session.invoke(json.dumps({"invocation": number}, separators=(",", ":")).encode())
        if result.error_type is not None:
            raise Failed(f"expected event {number} of {INVOCATIONS} to succeed with {name} beside it, got "
                         f"{session.describe(result)}")
    # The caller is answered before the extensions are done: the last verdict comes by its deadline at the latest.
    recorder.wait_for_invocations(INVOCATIONS, timeout_s=TIMEOUT_S + _VERDICT_GRACE_S)
    _fail_if_held(recorder, name)
    if len(recorder.inits) != 1:
        raise Failed(f"expected one environment for {INVOCATIONS} events; {name} made it start "
                     f"{len(recorder.inits)} times (it crashed or exited)")
    if "INVOKE" not in info.events:
        return f"{name} is not registered for INVOKE: {INVOCATIONS} events went by without it"
    slowest = max((ms for _, ms, _ in recorder.invocations), default=0.0)
    return (f"{INVOCATIONS} INVOKE events, each followed by its next event/next; the longest it kept an "
            f"invocation open after the runtime's answer: {slowest:.0f} ms")


def _shutdown_verdict(recorder: ExtensionRecorder, name: str, reason: str) -> str:
    shutdown = next((s for s in recorder.shutdowns if s.reason == reason), None)
    if shutdown is None:
        raise Failed(f"expected a Shutdown phase ({reason}); none was seen")
    if name in shutdown.killed:
        raise Failed(f"expected {name} to exit after SHUTDOWN ({reason}) within the 2,000 ms of the Shutdown "
                     "phase; it was still running and was killed (what it had to flush is lost)")
    if name in shutdown.not_told:
        return f"{name} is not registered for SHUTDOWN: Lambda kills it at the start of the Shutdown phase"
    return f"{name} exited by itself after SHUTDOWN ({reason}), within the Shutdown phase"


def shutdown_spindown(harness: Harness) -> str:
    session, recorder, name = _open(harness)
    _registered(session, recorder, name)
    session.local.close()
    return _shutdown_verdict(recorder, name, "spindown")


def shutdown_after_timeout(harness: Harness) -> str:
    session, recorder, name = _open(harness)
    _registered(session, recorder, name)
    sleep = json.dumps({"conform": "sleep", "ms": (TIMEOUT_S + 1) * 1000}, separators=(",", ":")).encode()
    result = session.invoke(sleep)
    if result.error_type != "Sandbox.Timedout":
        raise Failed(f"expected the {TIMEOUT_S} s timeout to end a {TIMEOUT_S + 1} s sleep, got "
                     f"{session.describe(result)}")
    session.local.close()
    return _shutdown_verdict(recorder, name, "timeout")


def _budget(harness: Harness) -> float:
    return _BUDGET_S


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("extension-registers", "registers under its file name and asks for its first event (init ends)",
             registers, _budget),
    Scenario("extension-keeps-polling", f"{INVOCATIONS} invocations: asks again after each INVOKE in time, never "
             "restarts", keeps_polling, _budget),
    Scenario("extension-shutdown", "exits by itself after SHUTDOWN (spindown) within the Shutdown phase",
             shutdown_spindown, _budget),
    Scenario("extension-shutdown-timeout", "exits by itself after SHUTDOWN (timeout) in the reset after a timeout",
             shutdown_after_timeout, _budget),
)
