"""Response streaming through the emulator: a bootstrap posting a streamed /response, read by boto3's
invoke_with_response_stream (InvokeWithResponseStream), by a buffered Invoke, and by a caller that hangs up.

The bootstrap is a small Python runtime driven by its events, posting with http.client as raw as a runtime
would: the head with Lambda-Runtime-Function-Response-Mode, one HTTP chunk per piece, trailers at the end.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer

from runtime_scaffold.emulator import stream_invoke, streaming
from runtime_scaffold.emulator.invoke_api import InvokeServer, start_invoke_server
from runtime_scaffold.emulator.local_lambda import LocalLambda
from runtime_scaffold.project import load_project

from .emulator_fixtures import STREAMING_BOOTSTRAP, write_project


class Lines:
    """The bootstraps' log, kept for the checks."""

    def __init__(self) -> None:
        self.data = b""

    def __call__(self, data: bytes) -> None:
        self.data += data

    def text(self) -> str:
        return self.data.decode(errors="replace")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalLambda, InvokeServer, Lines]]:
    root = write_project(tmp_path_factory.mktemp("streaming") / "project", bootstrap=STREAMING_BOOTSTRAP, timeout=3)
    lines = Lines()
    with LocalLambda(load_project(root), log_sink=lines) as local:
        server = start_invoke_server(local, port=0, route_providers=[stream_invoke.add_routes])
        try:
            yield local, server, lines
        finally:
            local.close()
            server.close()


@pytest.fixture(scope="module")
def client(served: tuple[LocalLambda, InvokeServer, Lines]) -> Any:
    return boto3.client("lambda", endpoint_url=f"http://{served[1].address}", region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(retries={"max_attempts": 0}, read_timeout=30))


def stream(client: Any, event: dict[str, Any], **options: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    answer = client.invoke_with_response_stream(FunctionName="hello", Payload=json.dumps(event), **options)
    return answer, list(answer["EventStream"])


def log_after(client: Any, lines: Lines) -> str:
    """The log once the bootstrap has taken another event, so it has printed what it was answered before."""
    _, events = stream(client, {"buffered": '"settled"'})
    assert chunks(events) == b'"settled"'
    return lines.text()


def chunks(events: list[dict[str, Any]]) -> bytes:
    return b"".join(event["PayloadChunk"]["Payload"] for event in events if "PayloadChunk" in event)


def test_the_first_piece_reaches_the_caller_while_the_handler_still_runs(client: Any, tmp_path: Path) -> None:
    """Causal, not timed: the bootstrap waits for a file that the test writes only once boto3 has handed it the
    first chunk; an emulator that collected the stream first would leave it waiting (and it would say so)."""
    ack = tmp_path / "ack"
    answer = client.invoke_with_response_stream(
        FunctionName="hello", Payload=json.dumps({"pieces": ["first", "last"], "wait_for": str(ack)}))
    events = iter(answer["EventStream"])
    assert next(events) == {"PayloadChunk": {"Payload": b"first"}}
    ack.write_text("")
    rest = list(events)  # the pieces after the first may come as one, if they were waiting together
    second, end = json.JSONDecoder().raw_decode(chunks(rest).decode())
    assert second["saw_the_callers_ack"] is True and chunks(rest).decode()[end:] == "last"
    assert list(rest[-1]) == ["InvokeComplete"] and "ErrorCode" not in rest[-1]["InvokeComplete"]
    assert answer["ResponseStreamContentType"] == "application/octet-stream" and answer["StatusCode"] == 200


def test_a_failure_in_the_trailers_ends_the_stream_with_its_error(client: Any,
                                                                   served: tuple[LocalLambda, Any, Lines]) -> None:
    _, events = stream(client, {"pieces": ["partial"], "fail": "boom mid-stream"})
    assert chunks(events) == b"partial"
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Function.Boom"
    assert json.loads(complete["ErrorDetails"])["errorMessage"] == "boom mid-stream"
    # A caller that takes the answer whole (Invoke) gets the error as a function error.
    result = served[0].invoke("hello", json.dumps({"pieces": ["partial"], "fail": "boom"}).encode())
    assert result.error_type == "Function.Boom" and json.loads(result.payload)["stackTrace"] == ["at here"]


def test_an_unknown_response_mode_is_refused(client: Any, served: tuple[LocalLambda, Any, Lines]) -> None:
    _, events = stream(client, {"pieces": ["x"], "mode": "streamed"})
    assert events[-1]["InvokeComplete"]["ErrorCode"] == "Runtime.InvalidResponseModeHeader"
    log = log_after(client, served[2])
    assert "stream status 400" in log and "InvalidFunctionResponseMode" in log


def test_an_error_post_after_the_first_byte_is_refused(client: Any, served: tuple[LocalLambda, Any, Lines]) -> None:
    _, events = stream(client, {"pieces": ["done"], "error_after": True})
    assert chunks(events) == b"done" and "ErrorCode" not in events[-1]["InvokeComplete"]
    assert "late error status 403" in log_after(client, served[2])


def test_a_buffered_answer_streams_as_one_chunk(client: Any) -> None:
    answer, events = stream(client, {"buffered": '{"whole": true}'}, LogType="Tail")
    assert [list(event) for event in events] == [["PayloadChunk"], ["InvokeComplete"]]
    assert chunks(events) == b'{"whole": true}' and answer["ResponseStreamContentType"] == "application/json"
    log = base64.b64decode(events[-1]["InvokeComplete"]["LogResult"]).decode()
    assert log.startswith("START RequestId:") and "REPORT RequestId:" in log


def test_the_http_integration_prelude_passes_through_intact(client: Any) -> None:
    prelude = b'{"statusCode":201,"headers":{"x-a":"b"},"cookies":["c=d"]}' + b"\0" * 8
    pieces = [prelude, b"body \xff\0 bytes"]
    answer, events = stream(client, {"pieces": [base64.b64encode(p).decode() for p in pieces], "base64": True,
                                     "type": "application/vnd.awslambda.http-integration-response"})
    assert answer["ResponseStreamContentType"] == "application/vnd.awslambda.http-integration-response"
    assert chunks(events) == b"".join(pieces)


def test_the_streamed_limit_is_enforced_as_the_bytes_arrive(client: Any, served: tuple[LocalLambda, Any, Lines],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming, "MAX_STREAMED_RESPONSE_BYTES", 1 << 20)
    _, events = stream(client, {"bytes": 3 << 20, "chunk": 65536})
    assert len(chunks(events)) == 1 << 20  # what fitted reached the caller; the rest was dropped
    assert events[-1]["InvokeComplete"]["ErrorCode"] == "Function.ResponseSizeTooLarge"
    assert "stream status 413" in log_after(client, served[2])


def test_a_caller_taking_the_answer_whole_gets_the_buffered_limit(served: tuple[LocalLambda, Any, Lines]) -> None:
    result = served[0].invoke("hello", json.dumps({"bytes": 7_000_000, "chunk": 1 << 20}).encode())
    assert result.error_type == "Function.ResponseSizeTooLarge"
    assert served[0].invoke("hello", json.dumps({"pieces": ["a", "b"]}).encode()).payload == b"ab"


def test_a_timeout_mid_stream_ends_the_stream_with_it(client: Any) -> None:
    _, events = stream(client, {"pieces": ["before the deadline"], "sleep": 10})
    assert chunks(events) == b"before the deadline"
    assert events[-1]["InvokeComplete"]["ErrorCode"] == "Sandbox.Timedout"


def test_a_caller_that_hangs_up_mid_stream_does_not_hold_the_function(
        served: tuple[LocalLambda, InvokeServer, Lines], client: Any) -> None:
    """8 MiB streamed to a caller that read a little and left: the bytes are dropped and the bootstrap's post
    completes (202). Were it blocked on the gone caller (the emulator stops reading past 1 MiB unread), its
    deadline would kill it first, and it would never print that status."""
    host, port = served[1].address.rsplit(":", 1)
    before = served[2].text().count("stream status 202")
    body = json.dumps({"pieces": ["first"], "bytes": 8 << 20, "chunk": 65536}).encode()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /2021-11-15/functions/hello/response-streaming-invocations HTTP/1.1\r\n"
                     b"Host: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    log = log_after(client, served[2])  # waits behind the abandoned invocation
    assert log.count("stream status 202") == before + 1


def test_the_invoke_checks_of_the_other_path_apply(client: Any, served: tuple[LocalLambda, InvokeServer, Lines]) \
        -> None:
    assert client.invoke_with_response_stream(FunctionName="hello", InvocationType="DryRun",
                                              Payload=b"{}")["StatusCode"] == 204
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke_with_response_stream(FunctionName="nope", Payload=b"{}")
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke_with_response_stream(FunctionName="hello", Payload=b"{not json")
    with pytest.raises(client.exceptions.InvalidRequestContentException):  # the client context's rules too
        client.invoke_with_response_stream(FunctionName="hello", Payload=b"{}", ClientContext="not base64!")
    import requests

    refused = requests.post(f"http://{served[1].address}/2021-11-15/functions/hello/response-streaming-invocations",
                            data=b"{}", headers={"X-Amz-Invocation-Type": "Event"}, timeout=10)
    assert refused.status_code == 400 and refused.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"


def test_the_answer_is_aws_framing_on_the_wire(served: tuple[LocalLambda, InvokeServer, Lines]) -> None:
    """Read without an SDK: chunked HTTP whose body is event-stream messages, ending with InvokeComplete."""
    import requests

    reply = requests.post(f"http://{served[1].address}/2021-11-15/functions/hello/response-streaming-invocations",
                          data=json.dumps({"pieces": ["a", "b"]}), timeout=10)
    assert reply.status_code == 200 and reply.headers["Transfer-Encoding"] == "chunked"
    buffer = EventStreamBuffer()
    buffer.add_data(reply.content)
    messages = list(buffer)
    kinds = [m.headers[":event-type"] for m in messages]
    assert kinds[-1] == "InvokeComplete" and set(kinds[:-1]) == {"PayloadChunk"}  # pieces queued together merge
    assert b"".join(m.payload for m in messages[:-1]) == b"ab"
    assert all(m.headers[":message-type"] == "event" for m in messages)
    assert reply.headers["X-Amz-Executed-Version"] == "$LATEST" and reply.headers["x-amzn-RequestId"]
