"""Response streaming scenarios (feature ``streaming``): chunks in order and before the end, a failure after the
first byte in the trailers, the HTTP-integration prelude passed through byte for byte.

Each invokes as InvokeWithResponseStream does and reads what the Runtime API received, piece by piece. "Before
the end" needs no clock of its own: the handler sleeps ``DELAY_MS`` between its writes, so its last write comes
at least ``(n - 1) * DELAY_MS`` after the event was handed over; a first byte that reached the Runtime API
sooner than that was sent before the handler ended. A runtime that holds the chunks back cannot pass, and a
streaming one fails only if its first chunk takes longer than that to come (more than a second).
"""

from __future__ import annotations

import base64
import json

from runtime_scaffold.conformance.harness import Failed, Harness, Session, StreamedAnswer
from runtime_scaffold.conformance.lifecycle import new_marker
from runtime_scaffold.conformance.payloads import describe, first_difference
from runtime_scaffold.conformance.scenario import Scenario, check_error_document, expect_echo, header

FEATURE = "streaming"
CHUNKS = ("one", "two", "three")
DELAY_MS = 600
TIMEOUT_S = 15
# What the conformance harness sets for the stream scenarios (a bash runtime streams only when told to).
STREAMING_ENVIRONMENT = {"SCAFFOLD_RESPONSE_STREAMING": "1"}
HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
# A prelude as a function URL reads it, its 8 NULs, then a body no text decoding leaves intact.
PRELUDE_BYTES = (json.dumps({"statusCode": 201, "headers": {"x-conform": "prelude"}, "cookies": ["a=b"]},
                            separators=(",", ":")).encode()
                 + b"\0" * 8 + b"body\0with NUL, CR LF\r\n, invalid UTF-8 \xff\xfe and a last NUL\0")
TRAILER_NAMES = ("Lambda-Runtime-Function-Error-Type", "Lambda-Runtime-Function-Error-Body")


def _event(**fields: object) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


def _open(harness: Harness) -> Session:
    return harness.open(timeout=TIMEOUT_S, environment=STREAMING_ENVIRONMENT)


def _require_streamed(session: Session, answer: StreamedAnswer, what: str) -> None:
    if answer.result.error_type is not None and not answer.streamed:
        raise Failed(f"expected {what}, got {session.describe(answer.result)}")
    if not answer.streamed:
        raise Failed(f"expected {what}; the runtime posted a buffered /response (no "
                     "Lambda-Runtime-Function-Response-Mode: streaming): "
                     f"{describe(answer.result.payload, 60)}")


def stream_chunks(harness: Harness) -> str:
    session = _open(harness)
    answer = session.invoke_streaming(_event(conform="stream", chunks=list(CHUNKS), delayMs=DELAY_MS))
    _require_streamed(session, answer, f"{len(CHUNKS)} chunks streamed {DELAY_MS} ms apart")
    if answer.result.error_type is not None:
        raise Failed(f"the stream ended in an error: {session.describe(answer.result)}")
    expected = "".join(CHUNKS).encode()
    if answer.body != expected:
        raise Failed(f"expected the chunks {'+'.join(CHUNKS)} in order ({describe(expected)}), got "
                     f"{describe(answer.body)}; {first_difference(expected, answer.body)}")
    assert answer.first_byte_at is not None
    first_ms = (answer.first_byte_at - answer.delivered_at) * 1000
    bound_ms = (len(CHUNKS) - 1) * DELAY_MS
    if first_ms >= bound_ms:
        raise Failed(f"the first chunk reached the Runtime API {first_ms:.0f} ms after the event was handed over, "
                     f"no sooner than the handler's last write ({len(CHUNKS) - 1} sleeps of {DELAY_MS} ms): the "
                     "chunks were held back until the handler ended, not forwarded as written")
    return (f"{len(CHUNKS)} chunks in order in {len(answer.pieces)} piece(s), the first {first_ms:.0f} ms after "
            f"the event (the handler's last write came after {bound_ms} ms)")


def stream_error_trailer(harness: Harness) -> str:
    session = _open(harness)
    marker = new_marker()
    answer = session.invoke_streaming(_event(conform="stream-error", chunks=["one"], message=marker))
    _require_streamed(session, answer, "a stream that fails after its first chunk")
    request_id = answer.result.request_id
    posts = session.recorder.posts("response", request_id)
    announced = (header(posts[0], "Trailer") or "").lower() if posts else ""
    missing = [name for name in TRAILER_NAMES if name.lower() not in announced]
    if missing:
        raise Failed(f"expected the streamed /response to announce its trailers (Trailer: {', '.join(TRAILER_NAMES)})"
                     f"; it did not announce {', '.join(missing)}")
    if answer.body != b"one":
        raise Failed(f"expected the chunk 'one' before the failure, got {describe(answer.body)}")
    follow = b'{"after":"a failed stream"}'
    follow_error: Failed | None = None
    try:  # served next, and by then every post about the failed invocation has been seen
        expect_echo(session, follow, "the event after the failed stream")
    except Failed as failure:
        follow_error = failure
    errors = session.recorder.posts("error", request_id)
    if errors:
        raise Failed(f"the failure after the first byte was posted to /error (answered {errors[0].status}), "
                     "which Lambda takes only before the stream begins; it belongs in the trailers")
    if answer.result.error_type is None:
        raise Failed("the stream ended without the trailers Lambda-Runtime-Function-Error-Type/-Body: the "
                     "caller took the failed invocation for a success")
    check_error_document(answer.result.payload, where="the trailer Lambda-Runtime-Function-Error-Body (decoded)",
                         marker=marker)
    if follow_error is not None:
        raise follow_error
    return (f"the failure came in the trailers ({answer.result.error_type}, the handler's message), no /error, "
            "and the next event was served")


def stream_http_prelude(harness: Harness) -> str:
    session = _open(harness)
    event = _event(conform="stream-bytes", base64=base64.b64encode(PRELUDE_BYTES).decode(),
                   contentType=HTTP_INTEGRATION)
    answer = session.invoke_streaming(event)
    _require_streamed(session, answer, "the HTTP-integration prelude streamed")
    if answer.result.error_type is not None:
        raise Failed(f"the stream ended in an error: {session.describe(answer.result)}")
    if answer.body != PRELUDE_BYTES:
        raise Failed(f"expected the prelude, its 8 NULs and the body byte for byte ({len(PRELUDE_BYTES)} bytes), "
                     f"got {len(answer.body)} bytes; {first_difference(PRELUDE_BYTES, answer.body)}")
    typed = "with its content type" if answer.content_type == HTTP_INTEGRATION else \
        f"as {answer.content_type} (the runtime lets no handler set {HTTP_INTEGRATION})"
    return f"{len(PRELUDE_BYTES)} bytes (prelude, 8 NULs, body) intact, {typed}"


SCENARIOS = [
    Scenario("stream-chunks", f"streamed chunks arrive in order, the first before the handler ends "
             f"({len(CHUNKS)} writes {DELAY_MS} ms apart)", stream_chunks, lambda _h: TIMEOUT_S + 20, FEATURE),
    Scenario("stream-error-trailer", "a failure after the first streamed byte comes in the trailers, not /error",
             stream_error_trailer, lambda _h: 2 * TIMEOUT_S + 20, FEATURE),
    Scenario("stream-http-prelude", "the HTTP-integration prelude (JSON, 8 NULs, body) streams byte for byte",
             stream_http_prelude, lambda _h: TIMEOUT_S + 20, FEATURE),
]
