"""The Managed Instances scenarios (feature ``concurrency``): with ``AWS_LAMBDA_MAX_CONCURRENCY=4`` the runtime
takes four events at once, answers them in any order without losing one, keeps each invocation's context its
own, and logs JSON lines; an invocation that timed out is answered late, gets 410, and the runtime goes on
(docs/runtime-api.md §8.1, §8.3)."""

from __future__ import annotations

import concurrent.futures
import json
import time

from runtime_scaffold.conformance.harness import Failed, Harness, Session
from runtime_scaffold.conformance.payloads import describe
from runtime_scaffold.conformance.scenario import (
    CONTEXT_EVENT,
    Scenario,
    context_of,
    expect_echo,
    expect_same_process,
)
from runtime_scaffold.emulator import InvocationResult
from runtime_scaffold.emulator.invocation import new_trace_id

WORKERS = 4
TIMEOUT_S = 15
# Sent in this order, one as soon as the one before was taken: the first taken is the last done. A runtime that
# serves one at a time answers the first before it takes the second.
SLEEPS_MS = (3000, 2500, 2000, 1500)
_TAKE_S = 10.0  # how long the runtime has to take an event while the others are open


def _sleep_event(ms: int) -> bytes:
    return json.dumps({"conform": "sleep", "ms": ms}, separators=(",", ":")).encode()


def _take_together(session: Session, pool: concurrent.futures.ThreadPoolExecutor
                   ) -> list[concurrent.futures.Future[InvocationResult]]:
    recorder = session.recorder
    taken_before, answered_before = len(recorder.invocations), recorder.count("response")
    futures = []
    for number, ms in enumerate(SLEEPS_MS, 1):
        futures.append(pool.submit(session.invoke, _sleep_event(ms)))
        deadline = time.monotonic() + _TAKE_S
        # The hooks record in request order: an answer that came before this event was taken is counted first.
        while len(recorder.invocations) < taken_before + number and recorder.count("response") == answered_before:
            if time.monotonic() > deadline or futures[-1].done():
                raise Failed(f"expected {WORKERS} events to be taken at once (AWS_LAMBDA_MAX_CONCURRENCY="
                             f"{WORKERS}); with {number - 1} open, event {number} was not taken within "
                             f"{_TAKE_S:.0f} s")
            time.sleep(0.01)
        if recorder.count("response") > answered_before:
            raise Failed(f"expected {WORKERS} events to be taken at once (AWS_LAMBDA_MAX_CONCURRENCY={WORKERS}); "
                         f"the runtime answered one before it took event {number}: it serves {number - 1} at a "
                         "time")
    return futures


def _check_json_logs(session: Session) -> None:
    for line in session.logs.runtime_lines():
        if line.startswith("scaffold:"):
            continue
        try:
            document = json.loads(line)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise Failed(f"with AWS_LAMBDA_LOG_FORMAT=JSON every log line of the runtime must be a JSON object; it "
                         f"logged {describe(line.encode(), 80)}")


def concurrent_next(harness: Harness) -> str:
    session = harness.open(timeout=TIMEOUT_S, max_concurrency=WORKERS)
    expect_echo(session, b'{"before":"the concurrent events"}', "the first event")
    pids = session.pids
    answered_from = session.recorder.count("response")
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        results = [future.result() for future in _take_together(session, pool)]
        for ms, result in zip(SLEEPS_MS, results, strict=True):
            expected = json.dumps({"slept": ms}, separators=(",", ":")).encode()
            if result.error_type is not None:
                raise Failed(f"the event that sleeps {ms} ms was lost: {session.describe(result)}")
            if json.loads(result.payload) != json.loads(expected):
                raise Failed(f"the event that sleeps {ms} ms was answered {describe(result.payload)} (another "
                             "invocation's answer?)")
        order = [call.request_id for call in session.recorder.posts("response")[answered_from:]]
        if order != [result.request_id for result in reversed(results)]:
            raise Failed("expected the four answers in the order their sleeps end (the last taken first); they "
                         "came in another order")
        traces = [new_trace_id() for _ in range(WORKERS)]
        contexts = list(pool.map(lambda trace: session.invoke(CONTEXT_EVENT, trace_id=trace), traces))
    for trace, result in zip(traces, contexts, strict=True):
        seen = context_of(session, result)
        # Unset is right under concurrency (a process-wide variable cannot hold four traces); another's is a leak.
        others = [seen.get(key) for key in ("traceId", "xAmznTraceId") if seen.get(key) not in (trace, None, "")]
        if seen.get("requestId") != result.request_id or others:
            raise Failed(f"an invocation's context leaked into another's: request {result.request_id} with trace "
                         f"{trace} saw requestId {seen.get('requestId')!r}, traceId {seen.get('traceId')!r}, "
                         f"_X_AMZN_TRACE_ID {seen.get('xAmznTraceId')!r}")
    expect_same_process(session, pids, after="serving all of them in one environment")
    _check_json_logs(session)
    return (f"{WORKERS} events taken at once and answered last-taken first by one process, contexts apart, "
            "JSON log lines")


LATE_TIMEOUT_S = 2
LATE_SLEEP_MS = 3500  # past the deadline: Lambda fails the invocation, the handler runs on and answers late


def timeout_410(harness: Harness) -> str:
    session = harness.open(timeout=LATE_TIMEOUT_S, max_concurrency=WORKERS)
    expect_echo(session, b'{"before":"the late answer"}', "the first event")
    pids = session.pids
    late = session.invoke(_sleep_event(LATE_SLEEP_MS))
    if late.error_type != "Sandbox.Timedout":
        raise Failed(f"expected the event that sleeps past its {LATE_TIMEOUT_S} s deadline to time out, got "
                     f"{session.describe(late)}")
    recorder = session.recorder
    deadline = time.monotonic() + LATE_SLEEP_MS / 1000 + _TAKE_S
    while time.monotonic() < deadline and not any(
            call.request_id == late.request_id and call.kind in ("response", "error") for call in recorder.calls):
        time.sleep(0.05)
    answers = [call for call in recorder.calls
               if call.request_id == late.request_id and call.kind in ("response", "error")]
    if not answers:
        raise Failed(f"the handler that outlived its deadline never answered (within {_TAKE_S:.0f} s of its end)")
    if answers[0].status != 410:
        raise Failed(f"expected the late answer to be refused with 410 ErrorRuntimeInvokeTimeout; it got "
                     f"{answers[0].status} (did it echo Lambda-Runtime-Invocation-Id?)")
    time.sleep(0.2)  # what the runtime does next, if anything, about that request
    if len([call for call in recorder.calls if call.request_id == late.request_id]) > 1:
        again = [call for call in recorder.calls if call.request_id == late.request_id][1]
        raise Failed(f"after the 410 the runtime posted {again.kind} again for the same request (answered "
                     f"{again.status}); a 410 is a 4xx for that request: log it and go on")
    expect_echo(session, b'{"after":"the 410"}', "the event after the 410")
    expect_same_process(session, pids, after="after the 410")
    return f"the late {late.request_id[:8]} answer got 410, nothing more was posted for it, the next event served"


SCENARIOS = [
    Scenario("concurrent-next", f"AWS_LAMBDA_MAX_CONCURRENCY={WORKERS}: {WORKERS} events at once in one process, "
             "answered out of order, none lost, contexts apart, JSON logs", concurrent_next,
             lambda _h: 2 * TIMEOUT_S + 20, feature="concurrency"),
    Scenario("timeout-410", f"AWS_LAMBDA_MAX_CONCURRENCY={WORKERS}: a handler past its deadline answers late, gets "
             "410, and the runtime posts nothing more for it and serves the next event", timeout_410,
             lambda _h: 40, feature="concurrency"),
]
