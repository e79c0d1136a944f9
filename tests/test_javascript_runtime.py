"""The Bun, Deno and Node runtime (one TypeScript source) on today's Lambda features, against the fake Runtime API:
invocation ids, tenants, optional headers, response streaming, Managed Instances concurrency, JSON logs, SIGTERM;
and the handler contract as Node users know it. The generic contract (echoes, errors, 413, 500...) is in
test_bootstraps.py, run for these languages too."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime_scaffold.templates import get_language

from .bootstrap_run import PROJECT, error_post, init_error, run_bootstrap, runtime_argv, task_root_with
from .conftest import NPM_LANGUAGES, REPO_ROOT, interpreter, render
from .runtime_api_fake import FakeRuntimeAPI

pytestmark = pytest.mark.slow  # runs bun, deno and node
STREAMING = {"SCAFFOLD_RESPONSE_STREAMING": "1"}


@pytest.fixture(params=NPM_LANGUAGES)
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def api() -> Iterator[FakeRuntimeAPI]:
    with FakeRuntimeAPI() as fake:
        yield fake


def handler_module(tmp_path: Path, source: str) -> Path:
    """A task root holding h.mjs (JavaScript: all three run it as is)."""
    return task_root_with(tmp_path, "h.mjs", source)


def fake_url(api: FakeRuntimeAPI) -> str:
    return f"http://{api.address}"


# -- invocation ids, tenants, optional headers ---------------------------------------------------------------


def test_invocation_id_is_echoed_on_response_and_error(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    ok = api.add(b'"x"')
    failed = api.add(b'{"conform":"error","message":"boom"}')
    old_style = api.add(b'"y"', invocation_id=None)  # a Runtime API that sends none: nothing to echo
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path)
    assert api.posts_for(ok)[0].headers["lambda-runtime-invocation-id"] == "attempt-1"
    assert api.posts_for(failed)[0].headers["lambda-runtime-invocation-id"] == "attempt-2"
    assert "lambda-runtime-invocation-id" not in api.posts_for(old_style)[0].headers
    assert api.response(old_style) == b'"y"'


def test_tenant_id_reaches_the_context(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    tenant = api.add(b'{"conform":"context"}', tenant_id="tenant-blue")
    none = api.add(b'{"conform":"context"}')
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path)
    assert json.loads(api.response(tenant))["tenantId"] == "tenant-blue"
    assert json.loads(api.response(none))["tenantId"] is None


def test_missing_optional_headers_are_no_error(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    bare = api.add(b'{"conform":"context"}', trace_id=None, invocation_id=None)
    after = api.add(b'"still here"')
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path)
    seen = json.loads(api.response(bare))
    assert (seen["traceId"], seen["xAmznTraceId"], seen["tenantId"]) == ("", "", None)
    assert api.response(after) == b'"still here"'


def test_a_410_for_a_stale_attempt_is_logged_and_the_runtime_goes_on(lang: str, api: FakeRuntimeAPI,
                                                                      tmp_path: Path) -> None:
    stale = api.add(b'"late"')
    failed = api.add(b'{"conform":"error","message":"late too"}')
    api.rules.status["/response"] = 410
    api.rules.status["/error"] = 410
    api.add_status(500)
    run = run_bootstrap(lang, api, tmp_path)
    assert [p.resource for p in api.posts_for(stale)] == [f"invocation/{stale}/response"]
    assert [p.resource for p in api.posts_for(failed)] == [f"invocation/{failed}/error"]  # and nothing more
    assert "returned 410" in run.stderr


# -- response streaming ------------------------------------------------------------------------------------


def test_stream_writes_are_chunks_with_the_streaming_headers(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    streamed = api.add(b'{"conform":"stream","chunks":["one","two","three"],"delayMs":50}')
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path, environment=STREAMING)
    (post,) = api.posts_for(streamed)
    assert post.resource == f"invocation/{streamed}/response"
    assert post.headers["lambda-runtime-function-response-mode"] == "streaming"
    assert post.headers["transfer-encoding"] == "chunked"
    assert post.headers["trailer"] == "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
    assert post.headers["content-type"] == "application/octet-stream"
    assert post.headers["lambda-runtime-invocation-id"] == "attempt-1"
    assert post.chunks == [b"one", b"two", b"three"]
    assert post.trailers == {}


def test_each_write_reaches_the_runtime_api_before_the_handler_goes_on(lang: str, api: FakeRuntimeAPI,
                                                                        tmp_path: Path) -> None:
    root = handler_module(tmp_path, f"""
export const handler = awslambda.streamifyResponse(async (event, stream, context) => {{
  stream.write("first");
  // answers once the fake has received the first chunk (408 after 20 s): a runtime that holds writes back fails
  const seen = await fetch("{fake_url(api)}/test/seen/" + context.awsRequestId + "/1");
  stream.write(await seen.text());
  stream.end();
}});
""")
    request_id = api.add(b"{}")
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path, handler="h.handler", task_root=root)
    assert api.posts_for(request_id)[0].chunks == [b"first", b"seen"]


def test_a_failure_mid_stream_goes_in_the_trailers(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    streamed = api.add(b'{"conform":"stream-error","chunks":["one"],"message":"boom"}')
    after = api.add(b'{"conform":"stream","chunks":["next"]}')
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path, environment=STREAMING)
    (post,) = api.posts_for(streamed)  # the response, and no /error
    assert post.resource.endswith("/response") and post.chunks == [b"one"]
    assert post.trailers["lambda-runtime-function-error-type"] == "Function.Error"
    body = json.loads(base64.b64decode(post.trailers["lambda-runtime-function-error-body"]))
    assert (body["errorMessage"], body["errorType"]) == ("boom", "Error")
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
    assert api.posts_for(after)[0].chunks == [b"next"]


def test_a_failure_before_the_first_write_is_an_ordinary_error(lang: str, api: FakeRuntimeAPI,
                                                                tmp_path: Path) -> None:
    failed = api.add(b'{"conform":"error","message":"early"}')
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path, environment=STREAMING)
    assert error_post(api, failed)["errorMessage"] == "early"


def test_stream_bytes_and_content_type_pass_intact(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    data = b'{"statusCode":201}' + bytes(8) + b"\x00body\xff\xfe"
    event = {"conform": "stream-bytes", "base64": base64.b64encode(data).decode(),
             "contentType": "application/vnd.awslambda.http-integration-response"}
    request_id = api.add(json.dumps(event, separators=(",", ":")).encode())
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path, environment=STREAMING)
    (post,) = api.posts_for(request_id)
    assert post.chunks == [data]
    assert post.headers["content-type"] == "application/vnd.awslambda.http-integration-response"


def test_http_response_stream_writes_the_prelude(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    root = handler_module(tmp_path, """
export const handler = awslambda.streamifyResponse(async (event, stream) => {
  const prelude = { statusCode: 201, headers: { "x-a": "b" }, cookies: ["c=d"] };
  const http = awslambda.HttpResponseStream.from(stream, prelude);
  http.write("<p>hi</p>");
  http.end();
});
""")
    request_id = api.add(b"{}")
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path, handler="h.handler", task_root=root)
    (post,) = api.posts_for(request_id)
    assert post.headers["content-type"] == "application/vnd.awslambda.http-integration-response"
    prelude = b'{"statusCode":201,"headers":{"x-a":"b"},"cookies":["c=d"]}'
    assert post.body == prelude + bytes(8) + b"<p>hi</p>"


def test_an_empty_stream_is_an_empty_response(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    root = handler_module(tmp_path, "export const handler = awslambda.streamifyResponse(async () => {});\n")
    request_id = api.add(b"{}")
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path, handler="h.handler", task_root=root)
    (post,) = api.posts_for(request_id)
    assert (post.resource, post.body, post.chunks) == (f"invocation/{request_id}/response", b"", [])


# -- Managed Instances: AWS_LAMBDA_MAX_CONCURRENCY ---------------------------------------------------------------


def test_concurrent_invocations_overlap_and_answer_out_of_order(lang: str, api: FakeRuntimeAPI,
                                                               tmp_path: Path) -> None:
    root = handler_module(tmp_path, f"""
export const handler = async (event, context) => {{
  // returns once 4 invocations wait here at the same time: a runtime serving one at a time never gets past it
  const barrier = await fetch("{fake_url(api)}/test/barrier/4");
  console.log("done", context.awsRequestId);
  return {{ barrier: await barrier.text(), id: context.awsRequestId, trace: context.xRayTraceId,
           env: process.env._X_AMZN_TRACE_ID ?? null }};
}};
""")
    environment = {"AWS_LAMBDA_MAX_CONCURRENCY": "4", "AWS_LAMBDA_LOG_FORMAT": "JSON"}
    process = subprocess.Popen(
        runtime_argv(lang), env={**os.environ, "AWS_LAMBDA_RUNTIME_API": api.address, "_HANDLER": "h.handler",
                                 "LAMBDA_TASK_ROOT": str(root), **environment},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert api.wait_for_waiting_next(4), "four GET /next should be open at once"
        ids = [api.add(b"{}") for _ in range(4)]
        assert api.wait_for_posts(4), "the four invocations should be answered"
        api.add_status(500)  # only now: a loop that is done early would take it and end the others
        stdout, _ = process.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    answers = {rid: json.loads(api.response(rid)) for rid in ids}
    order = [post.resource.split("/")[1] for post in api.posts]
    ports = {post.client_port for post in api.posts}
    for rid, answer in answers.items():
        assert answer["barrier"] == "released" and answer["id"] == rid
        assert answer["trace"].endswith(f"{ids.index(rid) + 1:08x};Parent=9a9197af755a6419;Sampled=1")
        assert answer["env"] is None  # the process-wide variable is left alone when invocations share it
    # The fake let the last of the four go first, and so on: the answers came in reverse order of the events.
    started = [ids[i] for i in sorted(range(4), key=lambda i: order.index(ids[i]))]
    assert started == order and len(ports) == 4
    lines = [json.loads(line) for line in stdout.decode().splitlines() if line.startswith("{")]
    done = [line for line in lines if line["message"].startswith("done ")]
    assert len(done) == 4 and all(line["message"] == f"done {line['requestId']}" for line in done)
    assert {line["level"] for line in done} == {"INFO"}


def test_json_log_format_for_the_runtime_itself(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    failed = api.add(b'{"conform":"error","message":"boom"}')
    api.add_status(500)
    run = run_bootstrap(lang, api, tmp_path, environment={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    mine = [line for line in lines if line.get("requestId") == failed]
    assert any(line["level"] == "ERROR" and "boom" in line["message"] for line in mine), lines
    assert all(set(line) >= {"timestamp", "level", "message"} for line in lines)


# -- the process ------------------------------------------------------------------------------------------------


def test_sigterm_ends_the_runtime(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    process = subprocess.Popen(
        runtime_argv(lang), env={**os.environ, "AWS_LAMBDA_RUNTIME_API": api.address,
                                 "_HANDLER": "src/conformance.handler", "LAMBDA_TASK_ROOT": str(PROJECT[lang])},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert api.wait_for_waiting_next(1), "the runtime should be waiting for an event"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) != 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_an_uncaught_exception_fails_the_invocation_and_ends_the_process(lang: str, api: FakeRuntimeAPI,
                                                                        tmp_path: Path) -> None:
    root = handler_module(tmp_path, """
export const handler = async (event) => {
  if (event.reject) { Promise.reject(new RangeError("nobody awaits me")); }
  else { setTimeout(() => { throw new TypeError("thrown later"); }, 0); }
  return new Promise(() => {});  // never settles: only the failure can end it
};
""")
    for event, error_type, message in ((b"{}", "Runtime.UncaughtException", "thrown later"),
                                       (b'{"reject": true}', "Runtime.UnhandledPromiseRejection", "nobody awaits me")):
        request_id = api.add(event)
        run = run_bootstrap(lang, api, tmp_path, handler="h.handler", task_root=root)
        assert run.returncode != 0
        (post,) = api.posts_for(request_id)
        assert post.resource.endswith("/error") and post.headers["lambda-runtime-function-error-type"] == error_type
        body = json.loads(post.body)
        assert (body["errorType"], body["errorMessage"]) == (error_type, message)


def test_the_handler_contract_node_users_know(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    root = handler_module(tmp_path, """
export const nested = { get: async (event) => ({ got: event }) };
export async function text() { return "a string"; }
export async function bytes() { return new Uint8Array([0, 255, 10]); }
export function sync(event, context) {
  return { fn: context.functionName, mem: context.memoryLimitInMB, wait: context.callbackWaitsForEmptyEventLoop,
           group: context.logGroupName, arn: context.invokedFunctionArn, left: context.getRemainingTimeInMillis() > 0,
           identity: context.identity ?? null, clientContext: context.clientContext ?? null };
}
export async function nothing() {}
""")
    cases = {"h.nested.get": b'{"a": [1]}', "h.text": b"{}", "h.bytes": b"{}", "h.sync": b"{}", "h.nothing": b"{}"}
    seen = {}
    for handler, event in cases.items():
        with FakeRuntimeAPI() as fake:
            request_id = fake.add(event)
            plain = fake.add(b"not json")
            fake.add_status(500)
            run_bootstrap(lang, fake, tmp_path, handler=handler, task_root=root,
                          environment={"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
                                       "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/conform"})
            seen[handler] = fake.response(request_id)
            if handler == "h.nested.get":
                seen["plain"] = fake.response(plain)
    assert json.loads(seen["h.nested.get"]) == {"got": {"a": [1]}}
    assert json.loads(seen["plain"]) == {"got": "not json"}  # text that is not JSON arrives as a string
    assert seen["h.text"] == b'"a string"'  # JSON, as on Lambda
    assert seen["h.bytes"] == b"\x00\xff\n"
    assert seen["h.nothing"] == b"null"
    assert json.loads(seen["h.sync"]) == {
        "fn": "conform", "mem": "512", "wait": True, "group": "/aws/lambda/conform",
        "arn": "arn:aws:lambda:us-east-1:123456789012:function:conform", "left": True,
        "identity": None, "clientContext": None}


@pytest.mark.parametrize(("source", "error_type"), [
    ("export const handler = (event, context, callback) => callback(null, 1);\n", "Runtime.CallbackHandlerDeprecated"),
    ("export const handler = ;\n", "Runtime.UserCodeSyntaxError"),
    ("export const other = 1;\n", "Runtime.HandlerNotFound"),
    ("export const handler = 'not a function';\n", "Runtime.HandlerNotFound"),
])
def test_init_errors(lang: str, api: FakeRuntimeAPI, tmp_path: Path, source: str, error_type: str) -> None:
    root = handler_module(tmp_path, source)
    run = run_bootstrap(lang, api, tmp_path, handler="h.handler", task_root=root)
    init_error(api, run, error_type)


def test_a_typescript_handler_runs(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    root = tmp_path / "task"
    root.mkdir()
    # .mts: always an ES module, for Node's type stripping too (a .ts one wants "type": "module" beside it)
    (root / "typed.mts").write_text(
        "interface Event { n: number }\n"
        "export const handler = async (event: Event): Promise<number> => event.n * 2;\n")
    request_id = api.add(b'{"n": 21}')
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path, handler="typed.handler", task_root=root)
    assert api.response(request_id) == b"42"


# -- the template's files ---------------------------------------------------------------------------------------


def test_rendered_bootstrap_only_execs_the_layers_binary(lang: str, tmp_path: Path) -> None:
    project = render(lang, tmp_path)
    bootstrap = project / "runtime" / "bootstrap"
    assert bootstrap.stat().st_mode & 0o777 == 0o755
    lines = [line for line in bootstrap.read_text().splitlines() if not line.startswith("#")]
    assert bootstrap.read_text().startswith("#!/bin/sh\n")
    defaults = get_language(lang).defaults
    arguments = f" {defaults['_interpreter_args']}" if defaults["_interpreter_args"] else ""
    assert lines == [f"exec /opt/bin/{lang}{arguments} /opt/{defaults['_runtime_entry']}"]
    assert (project / "runtime" / str(defaults["_runtime_entry"])).is_file()


def test_pinned_versions_agree(lang: str) -> None:
    """The tests run the very binaries the layer gets: tests/support/runtimes pins the template's versions."""
    pins = json.loads((REPO_ROOT / "tests" / "support" / "runtimes" / "package.json").read_text())
    defaults = get_language(lang).defaults
    for key in ("_npm_package_x86_64", "_npm_package_arm64"):
        assert pins["optionalDependencies"][defaults[key]] == defaults["_interpreter_version"]
    version = subprocess.run([interpreter(lang), "--version"], capture_output=True, text=True, check=True).stdout
    assert re.search(rf"(?<![\d.]){re.escape(str(defaults['_interpreter_version']))}(?![\d.])", version), version


def test_node_javascript_is_generated_from_the_typescript(tmp_path: Path) -> None:
    """cookiecutters/node's runtime and conformance handler are what generate-node.mjs makes of the one source."""
    cookiecutters = REPO_ROOT / "cookiecutters"
    copy = tmp_path / "cookiecutters"
    shutil.copytree(cookiecutters / "_shared" / "javascript", copy / "_shared" / "javascript")
    shutil.copytree(cookiecutters / "node", copy / "node", symlinks=True)
    subprocess.run([interpreter("node"), "--no-warnings", str(copy / "_shared" / "javascript" / "generate-node.mjs")],
                   check=True, timeout=60)
    project = "{{cookiecutter.project_slug}}"
    for folder in ("runtime/lambda-runtime", "src"):
        fresh = {p.name: p.read_bytes() for p in (copy / "node" / project / folder).iterdir()}
        committed = {p.name: p.read_bytes() for p in (cookiecutters / "node" / project / folder).iterdir()}
        assert fresh == committed, f"cookiecutters/node/.../{folder} is stale: run generate-node.mjs"

