"""Scenarios of today's Lambda that every runtime must pass (docs/runtime-api.md §8): it echoes each attempt's
invocation id, hands the handler its tenant, does without the optional headers, and
ends, with everything it started, on SIGTERM."""

from __future__ import annotations

from runtime_scaffold.conformance.harness import Failed, Harness, Session
from runtime_scaffold.conformance.lifecycle import error_event, new_marker
from runtime_scaffold.conformance.scenario import (
    CONTEXT_EVENT,
    Scenario,
    context_of,
    describe_exit,
    expect_echo,
    expect_same_process,
    header,
)
from runtime_scaffold.emulator import Invocation, Reply, RuntimeCall

TIMEOUT_S = 10
TENANT = "conformance-tenant.1@blue"
INVOCATION_ID_HEADER = "Lambda-Runtime-Invocation-Id"


def _echoed(session: Session, call: RuntimeCall, what: str) -> str:
    invocation = session.recorder.invocations.get(call.request_id or "")
    sent = invocation.invocation_id if invocation is not None else None
    echoed = header(call, INVOCATION_ID_HEADER)
    if not echoed:
        raise Failed(f"expected the {what} to carry the {INVOCATION_ID_HEADER} header /next gave ({sent}); it had "
                     "none (Lambda refuses an answer for an attempt that timed out only by this id)")
    if echoed != sent:
        raise Failed(f"expected the {what} to echo {INVOCATION_ID_HEADER}: {sent}, it sent {echoed!r}")
    return echoed


def invocation_id_echo(harness: Harness) -> str:
    session = harness.open(timeout=TIMEOUT_S)
    ok = expect_echo(session, b'{"attempt":"echoed"}', "the first event")
    responses = session.recorder.posts("response", ok.request_id)
    _echoed(session, responses[-1], "POST to /response")
    failing = session.invoke(error_event(new_marker()))
    errors = session.recorder.posts("error", failing.request_id)
    if not errors:
        raise Failed(f"expected a POST to /error for the failing handler; none came: {session.describe(failing)}")
    _echoed(session, errors[-1], "POST to /error")
    return f"{INVOCATION_ID_HEADER} echoed on /response and /error"


def tenant_id(harness: Harness) -> str:
    session = harness.open(timeout=TIMEOUT_S)
    seen = context_of(session, session.invoke(CONTEXT_EVENT, tenant_id=TENANT))
    if "tenantId" not in seen:
        raise Failed(f'expected "tenantId" in the handler\'s context answer (the Lambda-Runtime-Aws-Tenant-Id '
                     f"header, {TENANT!r}); the answer has no such key")
    if seen["tenantId"] != TENANT:
        raise Failed(f"expected the handler to see tenant {TENANT!r} (Lambda-Runtime-Aws-Tenant-Id), it saw "
                     f"{seen['tenantId']!r}")
    untenanted = context_of(session, session.invoke(CONTEXT_EVENT))
    if untenanted.get("tenantId") not in (None, ""):
        raise Failed(f"an invocation without a tenant reached the handler with tenantId "
                     f"{untenanted.get('tenantId')!r} (expected null)")
    return f"the handler saw tenant {TENANT!r}, and none without one"


def _without_optional_headers(invocation: Invocation) -> Reply | None:
    invocation.trace_id = ""
    invocation.client_context = invocation.cognito_identity = None
    return None


def missing_optional_headers(harness: Harness) -> str:
    session = harness.open(timeout=TIMEOUT_S)
    session.recorder.on_next = _without_optional_headers
    result = session.invoke(CONTEXT_EVENT)
    if result.error_type is not None:
        code = session.recorder.exits[0] if session.recorder.exits else None
        raise Failed(f"an event without Lambda-Runtime-Trace-Id and Lambda-Runtime-Client-Context was not served "
                     f"({describe_exit(code)}): {session.describe(result)}")
    context_of(session, result)
    pids = session.pids
    expect_echo(session, b'{"after":"no trace id"}', "the next event")
    expect_same_process(session, pids, after="after an event without the optional headers")
    return "served events without a trace id or client context, in one process"


def sigterm_on_shutdown(harness: Harness) -> str:
    session = harness.open(timeout=TIMEOUT_S)
    expect_echo(session, b'{"before":"the shutdown"}', "the first event")
    if not session.wait_idle(timeout_s=TIMEOUT_S):
        raise Failed(f"after answering the event the runtime did not call GET /next again within {TIMEOUT_S} s")
    session.local.close()  # the environment ends: SIGTERM, then SIGKILL after the grace period
    shutdowns = session.recorder.shutdowns
    if not shutdowns:
        raise Failed("the runtime was not running when the environment was shut down (it had already exited)")
    shutdown = shutdowns[0]
    grace_ms = round(shutdown.grace_s * 1000)
    if not shutdown.in_grace:
        raise Failed(f"the runtime did not exit within {grace_ms} ms of SIGTERM and was killed (SIGKILL)")
    if shutdown.leftovers:
        raise Failed(f"the runtime exited on SIGTERM ({describe_exit(shutdown.returncode)}) but left "
                     f"{len(shutdown.leftovers)} process(es) of its own running (pids "
                     f"{', '.join(map(str, shutdown.leftovers[:5]))}): end them before exiting")
    return f"exited within {grace_ms} ms of SIGTERM ({describe_exit(shutdown.returncode)}), leaving nothing behind"


SCENARIOS = [
    Scenario("invocation-id-echo", "Lambda-Runtime-Invocation-Id of each attempt echoed on /response and /error",
             invocation_id_echo, lambda _h: 2 * TIMEOUT_S + 10),
    Scenario("tenant-id", "the handler sees Lambda-Runtime-Aws-Tenant-Id as its context's tenantId", tenant_id,
             lambda _h: 2 * TIMEOUT_S + 10),
    Scenario("missing-optional-headers", "events without a trace id or client context are served, in one process",
             missing_optional_headers, lambda _h: 2 * TIMEOUT_S + 10),
    Scenario("sigterm-on-shutdown", "on shutdown the runtime exits on SIGTERM within the grace period, with "
             "everything it started", sigterm_on_shutdown, lambda _h: TIMEOUT_S + 20),
]
