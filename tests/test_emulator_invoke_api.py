"""The Invoke API over HTTP, as curl, boto3 and the AWS CLI use it; and parallel callers."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from runtime_scaffold.emulator import LocalLambda, start_invoke_server
from runtime_scaffold.errors import ProjectError

from .emulator_fixtures import write_project

Factory = Callable[..., LocalLambda]


@pytest.fixture
def serve(tmp_path: Path, local_lambda: Factory) -> Iterator[Callable[..., str]]:
    """serve(**project_options, concurrency=N) -> base URL of an Invoke API on 127.0.0.1, port 0."""
    servers = []

    def start(concurrency: int = 1, **project_options: object) -> str:
        root = write_project(tmp_path / f"p{len(servers)}", **project_options)  # type: ignore[arg-type]
        server = start_invoke_server(local_lambda(root, concurrency=concurrency), host="127.0.0.1", port=0)
        servers.append(server)
        return f"http://{server.address}"

    yield start
    for server in servers:
        server.close()


def url(base: str, name: str = "hello") -> str:
    return f"{base}/2015-03-31/functions/{quote(name, safe='')}/invocations"


def post(address: str, data: bytes = b"{}", **headers: str) -> requests.Response:
    return requests.post(address, data=data, headers={k.replace("_", "-"): v for k, v in headers.items()},
                         timeout=30)


def test_request_response(serve: Callable[..., str]) -> None:
    base = serve()
    reply = post(url(base), b'{"echo": {"a": 1}}')
    assert reply.status_code == 200
    assert reply.json() == {"a": 1}
    assert reply.headers["X-Amz-Executed-Version"] == "$LATEST"
    assert len(reply.headers["x-amzn-RequestId"]) == 36
    assert "X-Amz-Function-Error" not in reply.headers


def test_names_the_function_can_go_by(serve: Callable[..., str]) -> None:
    base = serve()
    arn = "arn:aws:lambda:us-east-1:123456789012:function:fixture-dev-hello"
    for name in ("function", "fixture-dev-hello", arn):
        assert post(url(base, name), b'{"echo": 1}').json() == 1


def test_latest_is_the_only_version(serve: Callable[..., str]) -> None:
    base = serve()
    arn = "arn:aws:lambda:us-east-1:123456789012:function:fixture-dev-hello"
    for name in ("hello:$LATEST", f"{arn}:$LATEST", "123456789012:function:fixture-dev-hello:$LATEST"):
        assert post(url(base, name), b'{"echo": 2}').json() == 2
    assert post(url(base) + "?Qualifier=%24LATEST", b'{"echo": 3}').json() == 3
    for qualifier in ("prod", "7"):  # an alias, a published version: neither exists locally
        refused = post(url(base, f"hello:{qualifier}"))
        assert refused.status_code == 404, qualifier
        assert refused.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
        assert refused.json()["Message"] == f"Function not found: {arn}:{qualifier}"
    for qualifier in ("prod", "7", "$latest"):  # Qualifier= admits any case of $LATEST; Lambda does not fold it
        refused = post(url(base) + f"?Qualifier={quote(qualifier)}")
        assert (refused.status_code, refused.json()["Message"]) == (404, f"Function not found: {arn}:{qualifier}")
    # In the name, a qualifier of the wrong form fails FunctionName's pattern before any lookup.
    assert post(url(base, "hello:$latest")).headers["x-amzn-ErrorType"] == "ValidationException"


def test_names_lambda_refuses(serve: Callable[..., str]) -> None:
    base = serve()
    cases = {
        "arn:aws:lambda:eu-west-1:123456789012:function:hello": (
            404, "ResourceNotFoundException", "Functions from 'eu-west-1' are not reachable in this region "
            "('us-east-1')"),
        "arn:aws:lambda:us-east-1:210987654321:function:hello": (
            403, "AccessDeniedException", "User: arn:aws:iam::123456789012:root is not authorized to perform: "
            "lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:210987654321:function:hello because no "
            "resource-based policy allows the lambda:InvokeFunction action"),
        "hello world": (400, "ValidationException", "1 validation error detected: Value 'hello world' at "
                        "'functionName' failed to satisfy constraint: Member must satisfy regular expression "
                        "pattern: "),
    }
    for name, (status, error_type, message) in cases.items():
        reply = post(url(base, name))
        assert (reply.status_code, reply.headers["x-amzn-ErrorType"]) == (status, error_type), name
        assert reply.json()["Message"].startswith(message), reply.json()
    mismatch = post(url(base, "hello:$LATEST") + "?Qualifier=prod")
    assert (mismatch.status_code, mismatch.headers["x-amzn-ErrorType"]) == (400, "InvalidParameterValueException")
    assert mismatch.json()["Message"] == (
        "The derived qualifier from the function name does not match the specified qualifier.")
    assert post(url(base, "hello:$LATEST") + "?Qualifier=%24LATEST", b'{"echo": 4}').json() == 4


def test_empty_body_is_an_empty_object(serve: Callable[..., str]) -> None:
    assert post(url(serve()), b"").json() == {}


def test_function_error_is_200_with_the_header(serve: Callable[..., str]) -> None:
    reply = post(url(serve()), b'{"fail": "nope"}')
    assert reply.status_code == 200
    assert reply.headers["X-Amz-Function-Error"] == "Unhandled"
    assert reply.json()["errorType"] == "Handler.Failed"


def test_service_errors(serve: Callable[..., str]) -> None:
    base = serve()
    missing = post(url(base, "nope"))
    assert missing.status_code == 404
    assert missing.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    arn = "arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST"  # Invoke names the version it looked for
    assert missing.json()["Message"] == f"Function not found: {arn}"
    too_large = post(url(base), b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert too_large.status_code == 413
    assert too_large.headers["x-amzn-ErrorType"] == "RequestTooLargeException"
    not_json = post(url(base), b"not json")
    assert not_json.status_code == 400
    assert not_json.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
    bad_type = post(url(base), X_Amz_Invocation_Type="Sometimes")
    assert bad_type.status_code == 400
    assert post(f"{base}/2015-03-31/functions").status_code == 404
    assert post(url(base), b'{"echo": "ok"}').json() == "ok"  # the server is still fine


def test_event_and_dry_run(serve: Callable[..., str], logs: object) -> None:
    base = serve()
    dry = post(url(base), X_Amz_Invocation_Type="DryRun")
    assert (dry.status_code, dry.content) == (204, b"")
    event = post(url(base), b'{"echo": 1}', X_Amz_Invocation_Type="Event")
    assert (event.status_code, event.content) == (202, b"")
    request_id = event.headers["x-amzn-RequestId"]
    assert logs.wait_for(f"REPORT RequestId: {request_id}")  # type: ignore[attr-defined]


def test_log_tail(serve: Callable[..., str]) -> None:
    reply = post(url(serve()), b'{"echo": 1}', X_Amz_Log_Type="Tail")
    request_id = reply.headers["x-amzn-RequestId"]
    log = base64.b64decode(reply.headers["X-Amz-Log-Result"]).decode()
    assert f"START RequestId: {request_id}" in log
    assert f"handling {request_id}" in log
    assert f"REPORT RequestId: {request_id}" in log


def test_client_context_reaches_the_bootstrap(serve: Callable[..., str]) -> None:
    context = json.dumps({"custom": {"k": "v"}})
    reply = post(url(serve()), b'{"headers": true}',
                 X_Amz_Client_Context=base64.b64encode(context.encode()).decode())
    assert reply.json()["Lambda-Runtime-Client-Context"] == context


def test_boto3_reads_lambda_answers(serve: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    boto3 = pytest.importorskip("boto3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("lambda", endpoint_url=serve(timeout=3), region_name="us-east-1")
    ok = client.invoke(FunctionName="hello", Payload=b'{"echo": "hi"}', LogType="Tail")
    assert ok["StatusCode"] == 200 and "FunctionError" not in ok
    assert json.loads(ok["Payload"].read()) == "hi"
    assert ok["ExecutedVersion"] == "$LATEST"
    assert b"REPORT RequestId: " in base64.b64decode(ok["LogResult"])
    failed = client.invoke(FunctionName="hello", Payload=b'{"fail": "broken"}', LogType="Tail")
    assert failed["StatusCode"] == 200 and failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorMessage"] == "broken"
    timed_out = client.invoke(FunctionName="function", Payload=b'{"sleep": 30}')
    assert timed_out["FunctionError"] == "Unhandled"
    assert json.loads(timed_out["Payload"].read())["errorType"] == "Sandbox.Timedout"
    assert client.invoke(FunctionName="hello", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    assert client.invoke(FunctionName="hello", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="nope")
    assert json.loads(client.invoke(FunctionName="hello", Qualifier="$LATEST", Payload=b'{"echo": 5}')[
        "Payload"].read()) == 5
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="function:fixture-dev-hello:prod"):
        client.invoke(FunctionName="hello", Qualifier="prod")
    with pytest.raises(client.exceptions.RequestTooLargeException):
        client.invoke(FunctionName="hello", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')


@pytest.mark.parametrize("concurrency", [1, 4])
def test_twenty_parallel_invokes(serve: Callable[..., str], concurrency: int) -> None:
    base = serve(concurrency=concurrency)

    def one(number: int) -> tuple[int, object]:
        reply = post(url(base), json.dumps({"echo": number, "sleep": 0.05}).encode())
        return reply.status_code, reply.json()

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(one, range(20)))
    assert answers == [(200, number) for number in range(20)]


def test_parallel_invokes_use_at_most_n_sandboxes(tmp_path: Path, local_lambda: Factory,
                                                  logs: object) -> None:
    local = local_lambda(write_project(tmp_path / "p"), concurrency=3)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda n: local.invoke(None, json.dumps({"echo": n, "sleep": 0.05}).encode()),
                                range(20)))
    assert [json.loads(result.payload) for result in results] == list(range(20))
    started = {line.split()[1] for line in logs.text.splitlines()  # type: ignore[attr-defined]
               if line.startswith("init ")}
    assert 1 <= len(started) <= 3
    assert all(int(pid) != os.getpid() for pid in started)


def test_local_lambda_names_take_the_same_resolver(tmp_path: Path, local_lambda: Factory) -> None:
    local = local_lambda(write_project(tmp_path / "p"))
    assert local.function("hello:$LATEST").key == "hello"
    assert local.function("arn:aws:lambda:us-east-1:123456789012:function:fixture-dev-hello").key == "hello"
    with pytest.raises(ProjectError, match=r"'hello:prod': Function not found: .*:function:fixture-dev-hello:prod "
                                           r"\(only \$LATEST exists locally"):
        local.function("hello:prod")
    with pytest.raises(ProjectError, match="nope"):
        local.function("nope")
