"""Real clients of response streaming, unchanged, through `scaffold serve`: AWS's Node runtime client 4
(aws-lambda-ric, on Node >= 22) with an `awslambda.streamifyResponse` handler, read by boto3's
invoke_with_response_stream and by the JavaScript SDK's InvokeWithResponseStreamCommand; and AWS's Python
runtime client, which answers buffered, streamed as one chunk as Lambda streams it.

.ci/run installs Node 26 (tests/support/runtimes) and the clients (tests/support/node-clients/install.sh, which
builds the runtime client's native part against that Node); elsewhere these tests are skipped.
"""

from __future__ import annotations

import base64
import json
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from .conftest import REPO_ROOT
from .emulator_fixtures import ServeProcess, write_project

SUPPORT = REPO_ROOT / "tests" / "support"
NODE = SUPPORT / "runtimes" / "node_modules" / f"node-linux-{'arm64' if platform.machine() == 'aarch64' else 'x64'}" \
    / "bin" / "node"
CLIENTS = SUPPORT / "node-clients"
RIC = CLIENTS / "node_modules" / "aws-lambda-ric" / "index.mjs"
SDK = CLIENTS / "node_modules" / "@aws-sdk" / "client-lambda"

# Each write is one chunk. With "waitFor", the handler waits (20 s at most) after its first chunk for a file the
# caller writes once it has that chunk, then says whether it came, with its own clock's stamps.
STREAMING_HANDLER = """\
import { existsSync } from "node:fs";

export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  if (event.prelude) {
    const http = awslambda.HttpResponseStream.from(responseStream,
      { statusCode: 201, headers: { "x-from": "node" }, cookies: ["a=b"] });
    http.write("<p>streamed</p>");
    http.end();
    return;
  }
  responseStream.setContentType("text/plain");
  const started = Date.now();
  responseStream.write(JSON.stringify({ first: context.awsRequestId, at: started }) + "\\n");
  if (event.fail) {
    throw new TypeError(event.fail);
  }
  if (event.waitFor) {
    const deadline = Date.now() + 20000;
    while (!existsSync(event.waitFor) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  responseStream.write(JSON.stringify({ sawTheCallersAck: Boolean(event.waitFor) && existsSync(event.waitFor),
                                        startedAt: started, endedAt: Date.now() }) + "\\n");
  responseStream.end();
});
"""

PYTHON_HANDLER = 'def fn(event, context):\n    return {"buffered": event, "id": context.aws_request_id}\n'


def _require(path: Path, what: str) -> None:
    if not path.exists():
        pytest.skip(f"{what} is not installed ({path}): see .ci/run")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """`scaffold serve` of a function run by aws-lambda-ric 4 on Node 26."""
    _require(NODE, "Node 26 (npm ci --prefix tests/support/runtimes)")
    _require(RIC, "aws-lambda-ric 4 (tests/support/node-clients/install.sh)")
    root = tmp_path_factory.mktemp("node-client")
    project = write_project(
        root / "project", bootstrap=f'#!/bin/sh\nexec {NODE} {RIC} "$_HANDLER"\n',
        functions={"hello": "index.handler"}, timeout=30,
        extra_files={"index.mjs": STREAMING_HANDLER, "package.json": '{"type": "module"}'})
    with ServeProcess(project, log=root / "serve.log") as server:
        yield server


@pytest.fixture(scope="module")
def served_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """`scaffold serve` of a function run by AWS's Python client (awslambdaric)."""
    pytest.importorskip("awslambdaric")
    root = tmp_path_factory.mktemp("python-client")
    project = write_project(root / "project", bootstrap=f'#!/bin/sh\nexec {sys.executable} -m awslambdaric '
                            '"$_HANDLER"\n', functions={"python": "handler.fn"}, timeout=30,
                            extra_files={"handler.py": PYTHON_HANDLER})
    with ServeProcess(project, log=root / "serve.log") as server:
        yield server


def boto3_client(base: str) -> Any:
    return boto3.client("lambda", endpoint_url=base, region_name="us-east-1", aws_access_key_id="local",
                        aws_secret_access_key="local", config=Config(retries={"max_attempts": 0}, read_timeout=60))


def payloads(events: list[dict[str, Any]]) -> list[bytes]:
    return [event["PayloadChunk"]["Payload"] for event in events if "PayloadChunk" in event]


def test_boto3_gets_the_node_clients_first_chunk_before_the_handler_ends(served: ServeProcess, tmp_path: Path) \
        -> None:
    """The handler waits for a file that the test writes only when boto3 has handed it the first chunk; its
    second chunk then says it saw the file, and its own stamps put the end after that first write."""
    ack = tmp_path / "ack"
    answer = boto3_client(served.base).invoke_with_response_stream(
        FunctionName="hello", Payload=json.dumps({"waitFor": str(ack)}))
    events = iter(answer["EventStream"])
    first = json.loads(next(events)["PayloadChunk"]["Payload"])
    ack.write_text("")
    rest = list(events)
    second = json.loads(b"".join(payloads(rest)))
    assert second["sawTheCallersAck"] is True and second["startedAt"] == first["at"] <= second["endedAt"]
    assert list(rest[-1]) == ["InvokeComplete"] and "ErrorCode" not in rest[-1]["InvokeComplete"]
    assert answer["ResponseStreamContentType"] == "text/plain"


def test_the_node_clients_failure_mid_stream_reaches_boto3(served: ServeProcess) -> None:
    answer = boto3_client(served.base).invoke_with_response_stream(FunctionName="hello",
                                                                  Payload=json.dumps({"fail": "late boom"}))
    events = list(answer["EventStream"])
    assert json.loads(payloads(events)[0])["first"]
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] and "late boom" in complete["ErrorDetails"]


def test_the_node_clients_http_integration_prelude_passes_through(served: ServeProcess) -> None:
    answer = boto3_client(served.base).invoke_with_response_stream(FunctionName="hello",
                                                                  Payload=json.dumps({"prelude": True}))
    body = b"".join(payloads(list(answer["EventStream"])))
    assert answer["ResponseStreamContentType"] == "application/vnd.awslambda.http-integration-response"
    prelude, _, rest = body.partition(b"\0" * 8)
    assert json.loads(prelude) == {"statusCode": 201, "headers": {"x-from": "node"}, "cookies": ["a=b"]}
    assert rest == b"<p>streamed</p>"


def _javascript_sdk(served: ServeProcess, payload: dict[str, Any], ack: Path | None = None) -> dict[str, Any]:
    _require(SDK, "@aws-sdk/client-lambda (tests/support/node-clients/install.sh)")
    command = [str(NODE), str(CLIENTS / "invoke-stream.mjs"), served.base, "hello", json.dumps(payload)]
    finished = subprocess.run([*command, *([str(ack)] if ack else [])], capture_output=True, text=True, timeout=90)
    assert finished.returncode == 0, finished.stderr
    return dict(json.loads(finished.stdout))


def test_the_javascript_sdk_reads_the_stream_as_it_comes(served: ServeProcess, tmp_path: Path) -> None:
    """The SDK script writes the file the handler waits for once it has the first chunk (causal, as above)."""
    ack = tmp_path / "ack"
    answer = _javascript_sdk(served, {"waitFor": str(ack)}, ack)
    assert (answer["status"], answer["contentType"], answer["version"]) == (200, "text/plain", "$LATEST")
    chunks = [base64.b64decode(event["chunk"]) for event in answer["events"] if "chunk" in event]
    assert json.loads(chunks[-1])["sawTheCallersAck"] is True
    complete = answer["events"][-1]["complete"]
    assert "ErrorCode" not in complete and base64.b64decode(complete["LogResult"]).startswith(b"START RequestId:")


def test_the_javascript_sdk_sees_a_failure_mid_stream(served: ServeProcess) -> None:
    answer = _javascript_sdk(served, {"fail": "sdk boom"})
    complete = answer["events"][-1]["complete"]
    assert complete["ErrorCode"] and "sdk boom" in complete["ErrorDetails"]


def test_awslambdaric_answers_buffered_and_boto3_gets_it_as_one_chunk(served_python: ServeProcess) -> None:
    answer = boto3_client(served_python.base).invoke_with_response_stream(FunctionName="python", Payload=b'{"n": 1}')
    events = list(answer["EventStream"])
    assert [list(event) for event in events] == [["PayloadChunk"], ["InvokeComplete"]]
    assert json.loads(payloads(events)[0])["buffered"] == {"n": 1}


# -- the templates' own runtimes, streaming through scaffold serve to boto3 ----------------------------------

TEMPLATE_CONFORMANCE_HANDLERS = {"bash": "conformance.handler", "php": "src/conformance.conformance"}


@pytest.mark.parametrize("language", sorted(TEMPLATE_CONFORMANCE_HANDLERS))
def test_boto3_streams_from_the_templates_bootstraps(language: str, tmp_path: Path) -> None:
    """The bash and PHP bootstraps of `scaffold new` stream a handler's chunks through `scaffold serve` to boto3's
    invoke_with_response_stream in order, and a failure after the first chunk reaches it as InvokeComplete's
    error, the chunks before it intact (the templates' conformance handlers, with their streaming commands)."""
    import shutil

    from .conftest import edit_config, require_tool

    if language == "php":
        require_tool("php")
    project = Path(shutil.copytree(REPO_ROOT / "examples" / language, tmp_path / language, symlinks=True))

    def streaming_hello(config: dict[str, Any]) -> None:
        hello = config["functions"]["hello"]
        hello["handler"] = TEMPLATE_CONFORMANCE_HANDLERS[language]
        hello["environment"] = {"SCAFFOLD_RESPONSE_STREAMING": "1"}  # the bash runtime streams when told to
        # The templates leave their conformance handler out of the package, and /var/task is the package.
        module = TEMPLATE_CONFORMANCE_HANDLERS[language].rpartition(".")[0]
        config["package"]["patterns"].append(f"{module}.*")

    edit_config(project, streaming_hello)
    with ServeProcess(project, log=tmp_path / "serve.log") as server:
        client = boto3_client(server.base)

        def command(**fields: Any) -> bytes:  # the handler's commands start exactly with {"conform":"
            return json.dumps(fields, separators=(",", ":")).encode()

        event = command(conform="stream", chunks=["one ", "two ", "three"], delayMs=200)
        answer = client.invoke_with_response_stream(FunctionName="hello", Payload=event)
        events = list(answer["EventStream"])
        assert b"".join(payloads(events)) == b"one two three", events
        assert events[-1]["InvokeComplete"].get("ErrorCode") in (None, ""), events[-1]
        failing = command(conform="stream-error", chunks=["kept "], message="boom mid-stream")
        answer = client.invoke_with_response_stream(FunctionName="hello", Payload=failing)
        events = list(answer["EventStream"])
        assert b"".join(payloads(events)) == b"kept ", events
        complete = events[-1]["InvokeComplete"]
        assert complete.get("ErrorCode") and "boom mid-stream" in complete.get("ErrorDetails", ""), complete
