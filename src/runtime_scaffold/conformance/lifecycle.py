"""Lifecycle scenarios: a warm process, handler and init errors, and the context a handler sees."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from runtime_scaffold.conformance.harness import Failed, Harness
from runtime_scaffold.conformance.scenario import (
    CONTEXT_EVENT,
    ERROR_TYPE_HEADER,
    Scenario,
    check_error_post,
    context_of,
    describe_exit,
    expect_echo,
    expect_same_process,
    header,
)
from runtime_scaffold.emulator.invocation import new_trace_id

TIMEOUT_S = 10
WARM_INVOCATIONS = 100


def error_event(marker: str) -> bytes:
    return json.dumps({"conform": "error", "message": marker}, separators=(",", ":")).encode()


def new_marker() -> str:
    return f"conformance-error-{os.urandom(4).hex()}"


def warm_process(harness: Harness) -> str:
    session = harness.open(timeout=TIMEOUT_S)
    first_pid: int | None = None
    for number in range(1, WARM_INVOCATIONS + 1):
        payload = json.dumps({"invocation": number, "pad": "x" * (number * 37 % 500)}).encode()
        result = expect_echo(session, payload, f"event {number} of {WARM_INVOCATIONS}")
        pids = session.pids
        if number == 1:
            first_pid = pids[0] if pids else None
        elif pids != [first_pid] or result.init_duration_ms is not None:
            raise Failed(f"expected one bootstrap process to serve all {WARM_INVOCATIONS} events; it was "
                         f"restarted at event {number} (pid {first_pid} -> {pids})")
    return f"{WARM_INVOCATIONS} events served by one process (pid {first_pid})"


def handler_error(harness: Harness) -> str:
    session = harness.open(timeout=TIMEOUT_S)
    marker = new_marker()
    result = session.invoke(error_event(marker))
    posts = session.recorder.posts("error", result.request_id)
    if not posts:
        if session.recorder.posts("response", result.request_id):
            raise Failed("expected a POST to /error for the failing handler; the runtime posted a /response")
        raise Failed(f"expected a POST to /error for the failing handler; none came: {session.describe(result)}")
    check_error_post(posts[0], where="/error", marker=marker)
    return f"/error with {ERROR_TYPE_HEADER}: {header(posts[0], ERROR_TYPE_HEADER)} and an ErrorRequest body"


def after_error(harness: Harness) -> str:
    session = harness.open(timeout=TIMEOUT_S)
    expect_echo(session, b'{"before":"the error"}', "the first event")
    pids = session.pids
    session.invoke(error_event(new_marker()))
    expect_echo(session, b'{"after":"the error"}', "the event after a handler error")
    expect_same_process(session, pids, after="after reporting the handler error")
    return "the same process served the event after a handler error"


def _missing_handler(handler: str) -> str:
    """The conformance handler's string with its file replaced by one that does not exist."""
    module, dot, function = handler.rpartition(".")
    if not dot:
        return "scaffold-conform-missing-file.handler"
    folder = module.rpartition("/")[0]
    return f"{folder + '/' if folder else ''}scaffold-conform-missing-file.{function}"


def init_error(harness: Harness) -> str:
    missing = _missing_handler(harness.handler)
    session = harness.open(timeout=TIMEOUT_S, handler=missing)
    result = session.invoke(b'{"init":"should fail"}')
    recorder = session.recorder
    posts = recorder.posts("init_error")
    code = recorder.exits[0] if recorder.exits else None
    if not posts:
        raise Failed(f"expected a POST to /init/error for _HANDLER={missing}; none came ({describe_exit(code)}; "
                     f"the invocation got {session.describe(result)})")
    check_error_post(posts[0], where="/init/error")
    if recorder.count("next"):
        raise Failed("after posting /init/error the runtime called GET /next instead of exiting")
    if code is None or code <= 0:
        raise Failed(f"expected the runtime to exit with a non-zero status after /init/error; {describe_exit(code)}"
                     + (" a second later" if code == -9 else ""))
    return f"/init/error posted for _HANDLER={missing}, then it exited with status {code}"


def trace_id(harness: Harness) -> str:
    session = harness.open(timeout=TIMEOUT_S)
    traces = [new_trace_id(), new_trace_id()]
    for number, trace in enumerate(traces, 1):
        document = context_of(session, session.invoke(CONTEXT_EVENT, trace_id=trace))
        seen = document.get("xAmznTraceId")
        if seen != trace:
            raise Failed(f"expected _X_AMZN_TRACE_ID={trace} in event {number}, the handler saw {seen!r}")
        if document.get("xAmznTraceIdExported") is False:
            raise Failed(f"_X_AMZN_TRACE_ID is set in event {number} but not exported to child processes")
    return "_X_AMZN_TRACE_ID followed both events' trace ids"


def context(harness: Harness) -> str:
    session = harness.open(timeout=TIMEOUT_S)
    result = session.invoke(CONTEXT_EVENT)
    document = context_of(session, result)
    sent = session.recorder.deadlines.get(result.request_id)
    problems = []
    if str(document.get("deadlineMs")) != str(sent):
        problems.append(f"deadlineMs {document.get('deadlineMs')!r} (the header said {sent})")
    if document.get("requestId") != result.request_id:
        problems.append(f"requestId {document.get('requestId')!r} (expected {result.request_id})")
    if document.get("invokedFunctionArn") != session.arn:
        problems.append(f"invokedFunctionArn {document.get('invokedFunctionArn')!r} (expected {session.arn})")
    remaining = document.get("remainingMs")
    if not isinstance(remaining, int) or not 0 < remaining <= TIMEOUT_S * 1000:
        problems.append(f"remainingMs {remaining!r} (expected 1..{TIMEOUT_S * 1000})")
    if problems:
        raise Failed("the handler's context is wrong: " + "; ".join(problems))
    return f"deadline {sent} ms, request id and ARN reached the handler"


def _budget(seconds: float) -> Callable[[Harness], float]:
    return lambda _harness: seconds


SCENARIOS = [
    Scenario("warm-process", f"{WARM_INVOCATIONS} events in a row served by one process", warm_process,
             _budget(60 + WARM_INVOCATIONS * 0.5)),
    Scenario("handler-error", "a failing handler reaches /error: error-type header, ErrorRequest body",
             handler_error, _budget(TIMEOUT_S + 10)),
    Scenario("after-error", "the process that reported a handler error serves the next event", after_error,
             _budget(3 * TIMEOUT_S + 10)),
    Scenario("init-error", "_HANDLER naming a missing file: /init/error, then a non-zero exit", init_error,
             _budget(TIMEOUT_S + 10)),
    Scenario("trace-id", "_X_AMZN_TRACE_ID is each event's trace id (two events, two ids)", trace_id,
             _budget(2 * TIMEOUT_S + 10)),
    Scenario("context", "the handler sees the deadline header's value, the request id, the ARN",
             context, _budget(TIMEOUT_S + 10)),
]
