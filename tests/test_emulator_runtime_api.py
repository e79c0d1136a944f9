"""The Runtime API state machine, driven with plain requests (no sockets, no processes), and what becomes of a
/next whose connection is lost, through the real server."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from email.message import Message

import pytest

from runtime_scaffold.emulator.invocation import MAX_RESPONSE_BYTES, Invocation
from runtime_scaffold.emulator.loop import LambdaLoop
from runtime_scaffold.emulator.runtime_api import RuntimeApi, RuntimeCall, RuntimeHooks
from runtime_scaffold.emulator.server import Listener, Reply, Request

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fixture-dev-hello"
BASE = "/2018-06-01/runtime/"


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
            *, too_large: bool = False) -> Request:
    message = Message()
    for name, value in (headers or {}).items():
        message[name] = value
    return Request(method, BASE + path, "", message, body, too_large)  # type: ignore[arg-type]


def answer(api: RuntimeApi, request: Request) -> Reply:
    """The reply to one request, waited for on a loop as the server would (hooks run on their own thread)."""
    async def run() -> Reply:
        outcome = api.handle(request)
        reply = outcome if isinstance(outcome, Reply) else await outcome
        if api.hook_runner is not None:
            await api.hook_runner.barrier()  # what the hooks observed is there to look at
        return reply

    return asyncio.run(run())


def queued(api: RuntimeApi, payload: bytes = b'{"a": 1}') -> Invocation:
    invocation = Invocation(payload=payload, function_arn=ARN, timeout_s=3.0)
    invocation.start_clock()
    api.submit(invocation)
    return invocation


def body(reply: Reply) -> dict[str, object]:
    document = json.loads(reply.body)
    assert isinstance(document, dict)
    return document


def test_next_delivers_the_event_with_every_header() -> None:
    api = RuntimeApi(sandbox_id="s")
    invocation = queued(api)
    reply = answer(api, request("GET", "invocation/next"))
    assert reply.status == 200
    assert reply.body == b'{"a": 1}'
    assert reply.headers["Lambda-Runtime-Aws-Request-Id"] == invocation.request_id
    assert reply.headers["Lambda-Runtime-Invoked-Function-Arn"] == ARN
    assert reply.headers["Lambda-Runtime-Deadline-Ms"] == str(invocation.deadline_ms)
    assert reply.headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-")


def test_response_then_second_post_then_wrong_id() -> None:
    api = RuntimeApi(sandbox_id="s")
    invocation = queued(api)
    answer(api, request("GET", "invocation/next"))
    first = answer(api, request("POST", f"invocation/{invocation.request_id}/response", b'"ok"'))
    assert first.status == 202
    assert invocation.result is not None and invocation.result.payload == b'"ok"'
    second = answer(api, request("POST", f"invocation/{invocation.request_id}/response", b'"again"'))
    assert (second.status, body(second)["errorType"]) == (403, "InvalidStateTransition")
    error = answer(api, request("POST", f"invocation/{invocation.request_id}/error", b"{}"))
    assert error.status == 403
    wrong = answer(api, request("POST", "invocation/nope/response", b'"x"'))
    assert wrong.status == 400
    assert body(wrong) == {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
    assert invocation.result.payload == b'"ok"'  # the first answer stands


def test_post_before_next_is_a_wrong_id() -> None:
    api = RuntimeApi(sandbox_id="s")
    invocation = queued(api)
    reply = answer(api, request("POST", f"invocation/{invocation.request_id}/response", b'"early"'))
    assert reply.status == 400
    assert not invocation.done


def test_error_post_passes_the_json_through_with_the_header_type() -> None:
    api = RuntimeApi(sandbox_id="s")
    invocation = queued(api)
    answer(api, request("GET", "invocation/next"))
    error = {"errorMessage": "no", "errorType": "Handler.Bad", "stackTrace": ["a"]}
    header = {"Lambda-Runtime-Function-Error-Type": "Runtime.Custom"}
    path = f"invocation/{invocation.request_id}/error"
    reply = answer(api, request("POST", path, json.dumps(error).encode(), header))
    assert reply.status == 202
    assert invocation.result is not None
    assert json.loads(invocation.result.payload) == error
    assert invocation.result.error_type == "Runtime.Custom"
    assert invocation.result.function_error == "Unhandled"


def test_error_post_without_a_json_body_is_built_from_the_header() -> None:
    api = RuntimeApi(sandbox_id="s")
    invocation = queued(api)
    answer(api, request("GET", "invocation/next"))
    answer(api, request("POST", f"invocation/{invocation.request_id}/error", b"",
                       {"Lambda-Runtime-Function-Error-Type": "Runtime.NoSuchHandler"}))
    assert invocation.result is not None
    assert json.loads(invocation.result.payload)["errorType"] == "Runtime.NoSuchHandler"


def test_oversized_response_is_413_and_fails_the_invocation() -> None:
    api = RuntimeApi(sandbox_id="s")
    invocation = queued(api)
    answer(api, request("GET", "invocation/next"))
    reply = answer(api, request("POST", f"invocation/{invocation.request_id}/response", too_large=True))
    assert reply.status == 413
    message = f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
    assert body(reply) == {"errorType": "RequestEntityTooLarge", "errorMessage": message}
    assert invocation.result is not None and invocation.result.error_type == "Function.ResponseSizeTooLarge"
    after = answer(api, request("POST", f"invocation/{invocation.request_id}/error", b"{}"))
    assert after.status == 403


def test_init_error_answers_the_waiting_invocation_once() -> None:
    api = RuntimeApi(sandbox_id="s")
    invocation = queued(api)
    error = b'{"errorMessage": "bad config", "errorType": "Runtime.ConfigInvalid"}'
    header = {"Lambda-Runtime-Function-Error-Type": "Runtime.X"}
    reply = answer(api, request("POST", "init/error", error, header))
    assert reply.status == 202
    assert invocation.result is not None
    assert invocation.result.payload == error and invocation.result.error_type == "Runtime.X"
    assert answer(api, request("POST", "init/error", error)).status == 403


def test_init_error_after_init_is_forbidden() -> None:
    api = RuntimeApi(sandbox_id="s")
    invocation = queued(api)
    answer(api, request("GET", "invocation/next"))
    assert answer(api, request("POST", "init/error", b"{}")).status == 403
    assert not invocation.done


def test_next_while_an_invocation_is_unanswered_is_forbidden() -> None:
    api = RuntimeApi(sandbox_id="s")
    queued(api)
    answer(api, request("GET", "invocation/next"))
    assert answer(api, request("GET", "invocation/next")).status == 403


def test_platform_failure_reaches_the_caller_and_init_error_wins() -> None:
    api = RuntimeApi(sandbox_id="s")
    invocation = queued(api)
    answer(api, request("GET", "invocation/next"))
    api.fail("Runtime.ExitError", "Runtime exited with error: exit status 2")
    assert invocation.result is not None
    assert json.loads(invocation.result.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {invocation.request_id} Error: Runtime exited with error: exit status 2"}


def test_unknown_paths_and_methods() -> None:
    api = RuntimeApi(sandbox_id="s")
    assert answer(api, request("GET", "nope")).status == 404
    assert answer(api, request("POST", "invocation/next")).status == 405
    assert answer(api, request("GET", "init/error")).status == 405


def test_hooks_can_fail_next_and_observe_every_call() -> None:
    calls: list[RuntimeCall] = []

    class FailFirstNext(RuntimeHooks):
        failed = False

        def next_reply(self, sandbox_id: str, invocation: Invocation) -> Reply | None:
            if not self.failed:
                self.failed = True
                return Reply(500, b'{"errorType": "Test.Failure"}')
            return None

        def observe(self, call: RuntimeCall) -> None:
            calls.append(call)

    api = RuntimeApi(sandbox_id="s", hooks=FailFirstNext())
    invocation = queued(api)
    assert answer(api, request("GET", "invocation/next")).status == 500
    assert not invocation.done  # the event stays queued
    assert answer(api, request("GET", "invocation/next")).status == 200
    answer(api, request("POST", f"invocation/{invocation.request_id}/response", b'"r"'))
    assert [(c.kind, c.status) for c in calls] == [("next", 500), ("next", 200), ("response", 202)]
    assert calls[-1].body == b'"r"' and calls[-1].request_id == invocation.request_id


def test_an_event_submitted_after_the_bootstrap_died_fails_at_once() -> None:
    api = RuntimeApi(sandbox_id="s")
    api.exited("Runtime exited with error: exit status 1")
    invocation = queued(api)
    assert invocation.result is not None and invocation.result.error_type == "Runtime.ExitError"


def test_hooks_can_refuse_a_post_which_is_then_ignored() -> None:
    class FailResponses(RuntimeHooks):
        def post_reply(self, sandbox_id: str, kind: str, request_id: str | None, request: Request) -> Reply | None:
            return Reply(500, b"{}") if kind == "response" else None

    api = RuntimeApi(sandbox_id="s", hooks=FailResponses())
    invocation = queued(api)
    answer(api, request("GET", "invocation/next"))
    assert answer(api, request("POST", f"invocation/{invocation.request_id}/response", b'"r"')).status == 500
    assert not invocation.done  # still open: the bootstrap should now exit
    assert answer(api, request("POST", f"invocation/{invocation.request_id}/error", b"{}")).status == 202
    assert invocation.result is not None and invocation.result.error_type == "Unhandled"


# -- several invocations at once (Managed Instances: max_concurrency > 1) --------------------------------


def test_up_to_max_concurrency_invocations_are_delivered_and_answered_in_any_order() -> None:
    api = RuntimeApi(sandbox_id="s", max_concurrency=3)
    invocations = [queued(api, json.dumps({"n": n}).encode()) for n in range(3)]
    delivered = [answer(api, request("GET", "invocation/next")) for _ in range(3)]
    assert [reply.headers["Lambda-Runtime-Aws-Request-Id"] for reply in delivered] == [
        invocation.request_id for invocation in invocations]  # in the order they were submitted
    refused = answer(api, request("GET", "invocation/next"))  # a fourth while three are unanswered
    assert (refused.status, body(refused)["errorType"]) == (403, "InvalidStateTransition")
    for invocation in reversed(invocations):
        path = f"invocation/{invocation.request_id}/response"
        assert answer(api, request("POST", path, invocation.payload)).status == 202
    assert [invocation.result.payload for invocation in invocations if invocation.result] == [
        b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']


def test_waiting_next_calls_are_served_in_the_order_they_came() -> None:
    async def run() -> list[str]:
        api = RuntimeApi(sandbox_id="s", max_concurrency=2)
        first = api.handle(request("GET", "invocation/next"))
        second = api.handle(request("GET", "invocation/next"))
        assert not isinstance(first, Reply) and not isinstance(second, Reply)
        invocations = [queued(api, b'"a"'), queued(api, b'"b"')]
        replies = [await first, await second]
        assert [reply.body for reply in replies] == [b'"a"', b'"b"']
        return [invocation.request_id for invocation in invocations]

    assert len(asyncio.run(run())) == 2


def test_a_third_waiting_next_takes_over_from_the_oldest_when_two_are_allowed() -> None:
    async def run() -> None:
        api = RuntimeApi(sandbox_id="s", max_concurrency=2)
        oldest = api.handle(request("GET", "invocation/next"))
        api.handle(request("GET", "invocation/next"))
        api.handle(request("GET", "invocation/next"))
        assert not isinstance(oldest, Reply)
        reply = await oldest
        assert reply.status == 500  # superseded: a client that reconnected holds its place now

    asyncio.run(run())


def test_one_invocation_fails_alone_and_the_others_stay_open() -> None:
    api = RuntimeApi(sandbox_id="s", max_concurrency=2)
    late, other = queued(api), queued(api)
    answer(api, request("GET", "invocation/next"))
    answer(api, request("GET", "invocation/next"))
    api.fail_invocation(late, "Sandbox.Timedout", "Task timed out after 3.00 seconds")
    assert late.result is not None and late.result.error_type == "Sandbox.Timedout"
    assert not other.done
    assert answer(api, request("POST", f"invocation/{other.request_id}/response", b'"r"')).status == 202
    api.exited("Runtime exited with error: exit status 1")  # nothing left open: nothing more to fail
    assert other.result is not None and other.result.payload == b'"r"'


# -- per-attempt invocation ids and tenants ----------------------------------------------------------------


def test_every_next_hands_out_a_fresh_invocation_id_and_the_tenant_only_when_there_is_one() -> None:
    api = RuntimeApi(sandbox_id="s")
    plain = queued(api)
    first = answer(api, request("GET", "invocation/next"))
    assert first.headers["Lambda-Runtime-Invocation-Id"] == plain.invocation_id != ""
    assert "Lambda-Runtime-Aws-Tenant-Id" not in first.headers
    answer(api, request("POST", f"invocation/{plain.request_id}/response", b'"r"'))
    tenant = Invocation(payload=b"{}", function_arn=ARN, timeout_s=3.0, tenant_id="blue tenant@1")
    tenant.start_clock()
    api.submit(tenant)
    second = answer(api, request("GET", "invocation/next"))
    assert second.headers["Lambda-Runtime-Aws-Tenant-Id"] == "blue tenant@1"
    assert second.headers["Lambda-Runtime-Invocation-Id"] not in ("", plain.invocation_id)


def test_an_answer_for_an_attempt_that_is_no_longer_current_is_410() -> None:
    api = RuntimeApi(sandbox_id="s", max_concurrency=2)
    first = queued(api)
    answer(api, request("GET", "invocation/next"))
    old_attempt = first.invocation_id
    api.fail_invocation(first, "Sandbox.Timedout", "Task timed out after 3.00 seconds")  # the environment lives on
    late = answer(api, request("POST", f"invocation/{first.request_id}/response", b'"late"',
                               {"Lambda-Runtime-Invocation-Id": old_attempt}))
    assert (late.status, body(late)["errorType"]) == (410, "ErrorRuntimeInvokeTimeout")
    retry = first.retry()  # the retry of an Event invocation: same request id, a new attempt
    retry.start_clock()
    api.submit(retry)
    answer(api, request("GET", "invocation/next"))
    assert retry.request_id == first.request_id and retry.invocation_id != old_attempt
    stale = answer(api, request("POST", f"invocation/{first.request_id}/error", b"{}",
                                {"Lambda-Runtime-Invocation-Id": old_attempt}))
    assert stale.status == 410 and not retry.done
    current = answer(api, request("POST", f"invocation/{first.request_id}/response", b'"ok"',
                                  {"Lambda-Runtime-Invocation-Id": retry.invocation_id}))
    assert current.status == 202 and retry.result is not None and retry.result.payload == b'"ok"'
    assert first.result is not None and first.result.error_type == "Sandbox.Timedout"


def test_an_answer_without_the_invocation_id_is_taken_for_the_current_attempt() -> None:
    api = RuntimeApi(sandbox_id="s")
    invocation = queued(api)
    answer(api, request("GET", "invocation/next"))
    assert answer(api, request("POST", f"invocation/{invocation.request_id}/response", b'"r"')).status == 202
    assert invocation.result is not None and invocation.result.payload == b'"r"'
# -- a /next whose connection is lost, through the real server -------------------------------------------------


class HeldNext(RuntimeHooks):
    """Holds each /next's event in the hook (as the conformance suite's delays do) until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def next_reply(self, sandbox_id: str, invocation: Invocation) -> Reply | None:
        self.entered.set()
        self.release.wait(30)
        return None


class Observed(RuntimeHooks):
    def observe(self, call: RuntimeCall) -> None:
        pass


def _until(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 10
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()


def _next_request(sock: socket.socket) -> None:
    sock.sendall(f"GET {BASE}invocation/next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())


@pytest.mark.parametrize("hooks", [None, Observed(), HeldNext()], ids=["no hooks", "observed", "next held"])
def test_a_next_whose_connection_is_lost_is_withdrawn_and_never_takes_the_event(hooks: RuntimeHooks | None) -> None:
    # A bootstrap's connection dropped while its /next waited (the bash bootstrap then asks again on a new one):
    # the event must go to the /next that asks next, not to the dead connection, whether the event arrived
    # before the drop (held in a next_reply hook) or after it.
    loop = LambdaLoop(name="test-dropped-next")
    api = RuntimeApi(sandbox_id="s", hooks=hooks)
    listener = Listener(api.routes())
    loop.run(listener.start())
    try:
        dropped = socket.create_connection((listener.host, listener.port), timeout=10)
        _next_request(dropped)
        assert _until(lambda: loop.call(lambda: listener.in_flight) == 1)  # it waits for an event
        invocation = Invocation(payload=b'{"a": 1}', function_arn=ARN, timeout_s=30.0)
        if isinstance(hooks, HeldNext):
            loop.call(lambda: (invocation.start_clock(), api.submit(invocation)))
            assert hooks.entered.wait(10)
        dropped.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        dropped.close()  # a reset
        assert _until(lambda: loop.call(lambda: not listener.connections))
        if isinstance(hooks, HeldNext):
            hooks.release.set()
        else:
            loop.call(lambda: (invocation.start_clock(), api.submit(invocation)))
        with socket.create_connection((listener.host, listener.port), timeout=10) as again:
            _next_request(again)
            reply = http.client.HTTPResponse(again)
            reply.begin()
            assert reply.status == 200, reply.read()
            assert reply.getheader("Lambda-Runtime-Aws-Request-Id") == invocation.request_id
            assert reply.read() == b'{"a": 1}'
    finally:
        if isinstance(hooks, HeldNext):
            hooks.release.set()
        loop.run(listener.close())
        api.close()
        loop.stop()
