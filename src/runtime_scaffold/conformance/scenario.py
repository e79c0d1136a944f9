"""What a scenario is, and the checks several scenarios share."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runtime_scaffold.conformance.harness import Failed, Harness, Session
from runtime_scaffold.conformance.payloads import describe, first_difference
from runtime_scaffold.emulator import InvocationResult, RuntimeCall

ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
CONTEXT_EVENT = b'{"conform":"context"}'


@dataclass(frozen=True)
class Scenario:
    """One check of the Runtime API contract. ``run`` returns a short note on success and raises
    :class:`Failed` with the reason otherwise; ``budget_s`` is its deadline, after which it fails as hung."""

    name: str
    summary: str
    run: Callable[[Harness], str]
    budget_s: Callable[[Harness], float]
    # The feature a runtime must declare (a "conformance features:" line in its handler file) for this scenario
    # to run; without the declaration the scenario is reported as skipped, not passed.
    feature: str | None = None


def header(call: RuntimeCall, name: str) -> str | None:
    """A request header of a recorded call, looked up without regard to case."""
    wanted = name.lower()
    return next((value for key, value in call.headers.items() if key.lower() == wanted), None)


def expect_echo(session: Session, payload: bytes, what: str) -> InvocationResult:
    """Invoke with ``payload`` and require it back byte for byte."""
    result = session.invoke(payload)
    if result.error_type is not None:
        raise Failed(f"expected {what} ({len(payload)} bytes) back, got {session.describe(result)}")
    if result.payload != payload:
        raise Failed(f"expected {what} ({len(payload)} bytes) back byte for byte, got {len(result.payload)} bytes; "
                     f"{first_difference(payload, result.payload)}")
    return result


def expect_same_process(session: Session, pids: list[int], *, after: str) -> None:
    """Fail unless the bootstraps are still ``pids``: the runtime went on ``after`` something, not replaced."""
    if session.pids != pids:
        raise Failed(f"expected the same process to go on {after}; the runtime was replaced (pid {pids} -> "
                     f"{session.pids})")


def context_of(session: Session, result: InvocationResult) -> Mapping[str, Any]:
    """The JSON object the conformance handler answers to ``{"conform":"context"}``."""
    if result.error_type is not None:
        raise Failed(f'expected the handler\'s context for {{"conform":"context"}}, got {session.describe(result)}')
    try:
        document = json.loads(result.payload)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise Failed(f'expected a JSON object for {{"conform":"context"}}, got {describe(result.payload)}')
    return document


def check_error_post(call: RuntimeCall, *, where: str, marker: str | None = None) -> None:
    """An /error or /init/error post as the contract wants it: the error-type header and an ErrorRequest body."""
    error_type = header(call, ERROR_TYPE_HEADER)
    if not error_type:
        raise Failed(f"expected a {ERROR_TYPE_HEADER} header on the POST to {where}; there was none "
                     "(callers such as Step Functions may then take the error for a success)")
    check_error_document(call.body, where=f"the POST to {where}", marker=marker)
    if call.status != 202:
        raise Failed(f"the POST to {where} was answered {call.status}, not 202")


def check_error_document(body: bytes, *, where: str, marker: str | None = None) -> None:
    """An ErrorRequest ``{errorMessage, errorType, stackTrace}``, holding ``marker`` in its message if given."""
    try:
        document = json.loads(body)
    except ValueError:
        raise Failed(f"expected a JSON body {{errorMessage, errorType, stackTrace}} in {where}, "
                     f"got {describe(body)}") from None
    if not isinstance(document, dict):
        raise Failed(f"expected a JSON object in {where}, got {describe(body)}")
    problems = [f"{key} is not a string" for key in ("errorMessage", "errorType")
                if not isinstance(document.get(key), str)]
    trace = document.get("stackTrace")
    if not isinstance(trace, list) or not all(isinstance(line, str) for line in trace):
        problems.append("stackTrace is not a list of strings")
    if problems:
        raise Failed(f"the body in {where} is not an ErrorRequest: {'; '.join(problems)} "
                     f"(body {describe(body, 80)})")
    if marker is not None and marker not in document["errorMessage"]:
        raise Failed(f"expected the handler's message {marker!r} in errorMessage, got "
                     f"{describe(document['errorMessage'].encode(), 80)}")


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "it is still running"
    if returncode < 0:
        return "it was killed" if returncode == -9 else f"it died of signal {-returncode}"
    return f"it exited with status {returncode}"
