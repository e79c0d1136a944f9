"""Today's Lambda features in the bash and PHP bootstraps, run for real against the fake Runtime API (runtime-api.md §8,
/work/wt/CONTRACT-runtime-features.md): per-attempt invocation ids and 410, tenant ids, optional headers, response
streaming, Managed Instances concurrency with JSON logs, and SIGTERM.

Nothing here reads a clock: a stream is shown to be sent as it is written by a handler that waits for the fake to have
received its first chunk before it writes the next, and concurrency by a fake that answers no /next until four are
open at once.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .bootstrap_run import LANGS, error_post, run_bootstrap, started, write_bash_handler
from .runtime_api_fake import FakeRuntimeAPI, Post

STREAMING = {"SCAFFOLD_RESPONSE_STREAMING": "1"}
TRAILER = "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"


@pytest.fixture
def api() -> Iterator[FakeRuntimeAPI]:
    with FakeRuntimeAPI() as fake:
        yield fake


def context_of(api: FakeRuntimeAPI, request_id: str) -> dict[str, object]:
    answer: dict[str, object] = json.loads(api.response(request_id))
    return answer


def wait_for(predicate: object, what: str, deadline_s: float = 20) -> None:
    deadline = time.monotonic() + deadline_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def process_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def processes_of(api: FakeRuntimeAPI) -> list[int]:
    """Processes whose environment names this fake: the bootstrap and everything it started."""
    marker = f"AWS_LAMBDA_RUNTIME_API={api.runtime_api}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as environ:
                    if marker in environ.read().split(b"\0") and process_alive(int(entry)):
                        found.append(int(entry))
            except OSError:
                continue
    return found


# ---- invocation ids, 410, tenants, optional headers --------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_invocation_id_is_echoed_and_a_410_ends_only_that_attempt(
    lang: str, api: FakeRuntimeAPI, tmp_path: Path
) -> None:
    ok = api.add(b'{"ok": 1}')
    failing = api.add(b'{"conform":"error","message":"boom"}')
    stale = api.add(b'{"stale": 1}')
    large = api.add(b'{"conform":"output","bytes":20000}')
    old_runtime = api.add(b'{"no": "invocation id"}', invocation_id=None)
    after = api.add(b'"after"')
    api.rules.gone.add(stale)
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path)
    for request_id in (ok, failing, stale, large, after):
        posts = api.posts_for(request_id)
        assert [p.headers.get("lambda-runtime-invocation-id") for p in posts] == [api.invocation_ids[request_id]]
    assert error_post(api, failing)["errorMessage"] == "boom"
    # The 410 is the end of that attempt: no /error follows, and the runtime serves the next event.
    assert [p.resource for p in api.posts_for(stale)] == [f"invocation/{stale}/response"]
    assert "lambda-runtime-invocation-id" not in api.posts_for(old_runtime)[0].headers
    assert api.response(after) == b'"after"'


@pytest.mark.parametrize("lang", LANGS)
def test_tenant_id_reaches_the_handler(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    tenant = api.add(b'{"conform":"context"}', tenant_id="tenant-7f3a")
    other = api.add(b'{"conform":"context"}', tenant_id="blue")
    none = api.add(b'{"conform":"context"}')
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path)
    assert context_of(api, tenant)["tenantId"] == "tenant-7f3a"
    assert context_of(api, other)["tenantId"] == "blue"
    assert context_of(api, none)["tenantId"] is None


@pytest.mark.parametrize("lang", LANGS)
def test_optional_headers_may_be_absent_or_present(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    bare = api.add(b'{"conform":"context"}', trace_id=None, invocation_id=None)
    mobile = api.add(
        b'{"conform":"context"}', client_context='{"client":{"app_title":"x"}}', cognito_identity='{"id":"c"}'
    )
    echo = api.add(b'{"still": "served"}', trace_id=None)
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path)
    assert context_of(api, bare)["traceId"] == ""
    assert context_of(api, mobile)["requestId"] == mobile
    assert api.response(echo) == b'{"still": "served"}'


def test_bash_context_variables_follow_the_header_names(api: FakeRuntimeAPI, tmp_path: Path) -> None:
    root = write_bash_handler(
        tmp_path,
        'handler() { printf "%s|%s|%s" "$LAMBDA_RUNTIME_AWS_TENANT_ID" "$LAMBDA_RUNTIME_CLIENT_CONTEXT" '
        '"$LAMBDA_RUNTIME_COGNITO_IDENTITY"; }\n',
    )
    full = api.add(b"{}", tenant_id="t-1", client_context='{"c":1}', cognito_identity='{"i":2}')
    empty = api.add(b"{}")
    api.add_status(500)
    run_bootstrap("bash", api, tmp_path, handler="h.handler", task_root=root)
    assert api.response(full) == b't-1|{"c":1}|{"i":2}'
    assert api.response(empty) == b"||"


# ---- response streaming ------------------------------------------------------------------------------------

BASH_STEPWISE = """
handler() {
    local i word=(one two three)
    for i in 0 1 2; do
        # The next write only once the fake has the last one: buffered to the end, this never finishes.
        while (( i > 0 )) && [[ ! -e $GO_DIR/$LAMBDA_RUNTIME_AWS_REQUEST_ID.$i ]]; do sleep 0.02; done
        printf '%s' "${word[i]}"
    done
}
"""
PHP_STEPWISE = """<?php
function wait_for_go(LambdaContext $c, int $i): void
{
    while (!file_exists(getenv('GO_DIR') . "/{$c->awsRequestId}.$i")) { usleep(20000); }
}
function writer(string $event, LambdaContext $context, LambdaResponseStream $stream): void {
    $stream->setContentType('text/plain');
    foreach (['one', 'two', 'three'] as $i => $word) {
        if ($i > 0) { wait_for_go($context, $i); }
        $stream->write($word);
    }
}
function generator(string $event, LambdaContext $context): Generator {
    foreach (['one', 'two', 'three'] as $i => $word) { if ($i > 0) { wait_for_go($context, $i); } yield $word; }
}
"""


def stepwise(lang: str, tmp_path: Path, style: str) -> dict[str, object]:
    go = tmp_path / "go"
    go.mkdir()
    if lang == "bash":
        root = write_bash_handler(tmp_path, BASH_STEPWISE)
        return {"handler": "h.handler", "task_root": root, "environment": {**STREAMING, "GO_DIR": str(go)}}
    root = tmp_path / "task"
    root.mkdir()
    (root / "h.php").write_text(PHP_STEPWISE)
    return {"handler": f"h.{style}", "task_root": root, "environment": {"GO_DIR": str(go)}}


def assert_streamed(post: Post) -> None:
    assert post.headers["lambda-runtime-function-response-mode"] == "streaming"
    assert post.headers["transfer-encoding"] == "chunked"
    assert post.headers["trailer"] == TRAILER
    assert "content-length" not in post.headers


@pytest.mark.parametrize(
    ("lang", "style"), [("bash", "-"), pytest.param("php", "writer", marks=pytest.mark.slow),
                        pytest.param("php", "generator", marks=pytest.mark.slow)]
)
def test_each_write_is_sent_as_one_chunk_while_the_handler_runs(
    lang: str, style: str, api: FakeRuntimeAPI, tmp_path: Path
) -> None:
    def release_next(post: Post, chunk: bytes) -> None:
        (tmp_path / "go" / f"{post.resource.split('/')[1]}.{len(post.chunks)}").touch()

    api.on_chunk = release_next
    streamed = api.add(b"{}")
    after = api.add(b"{}")
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path, timeout=30, **stepwise(lang, tmp_path, style))
    for request_id in (streamed, after):
        post = api.posts_for(request_id)[0]
        assert_streamed(post)
        assert post.chunks == [b"one", b"two", b"three"]
        assert post.trailers == {}, "no error"
    if style == "writer":
        assert api.posts_for(streamed)[0].headers["content-type"] == "text/plain"


@pytest.mark.parametrize("lang", LANGS)
def test_a_failure_mid_stream_goes_in_the_trailers(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    mid = api.add(b'{"conform":"stream-error","chunks":["one","two"],"message":"boom"}')
    before = api.add(b'{"conform":"stream-error","chunks":[],"message":"early"}')
    after = api.add(b'{"conform":"stream","chunks":["fine"],"delayMs":0}')
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path, environment=STREAMING)
    post = api.posts_for(mid)[0]
    assert [p.resource for p in api.posts_for(mid)] == [f"invocation/{mid}/response"], "no /error after a byte"
    assert_streamed(post)
    assert post.body == b"onetwo"
    assert post.trailers["lambda-runtime-function-error-type"].startswith("Function.")
    error = post.error_trailer()
    assert error is not None
    assert error["errorMessage"] == "boom"
    assert isinstance(error["errorType"], str) and isinstance(error["stackTrace"], list)
    # Before the first byte, a failure is an ordinary /error.
    assert error_post(api, before)["errorMessage"] == "early"
    assert api.posts_for(after)[0].body == b"fine"


@pytest.mark.parametrize("lang", LANGS)
def test_streamed_bytes_and_content_type_arrive_intact(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    prelude = b'{"statusCode":201,"headers":{"x-a":"b"},"cookies":[]}' + b"\0" * 8 + b"body\0\xff\n end"
    content_type = "application/vnd.awslambda.http-integration-response"
    request_id = api.add(
        json.dumps({"conform": "stream-bytes", "base64": base64.b64encode(prelude).decode(),
                    "contentType": content_type}, separators=(",", ":")).encode()
    )
    big = bytes(range(256)) * 300
    large = api.add(b'{"conform":"stream-bytes","base64":"%s"}' % base64.b64encode(big))
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path, environment=STREAMING)
    post = api.posts_for(request_id)[0]
    assert_streamed(post)
    assert post.body == prelude
    assert post.headers["content-type"] == content_type
    assert api.posts_for(large)[0].body == big


def test_bash_streams_only_when_the_function_asks(api: FakeRuntimeAPI, tmp_path: Path) -> None:
    request_id = api.add(b'{"conform":"stream","chunks":["one","two"],"delayMs":0}')
    api.add_status(500)
    run_bootstrap("bash", api, tmp_path)
    post = api.posts_for(request_id)[0]
    assert "lambda-runtime-function-response-mode" not in post.headers
    assert post.body == b"onetwo"


# ---- Managed Instances: concurrency and JSON logs ------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_concurrent_invocations_each_with_its_own_context(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    # The fake answers no /next until four are open at once: a runtime serving one at a time never gets an event.
    api.hold_events_until_open_nexts(4)
    contexts = [api.add(b'{"conform":"context"}', tenant_id=f"tenant-{i}") for i in range(4)]
    sleepers = [api.add(b'{"conform":"sleep","ms":%d}' % ms) for ms in (400, 300, 200, 0)]
    gone = api.add(b'{"late": 1}')
    api.rules.gone.add(gone)
    env = {"AWS_LAMBDA_MAX_CONCURRENCY": "4", "AWS_LAMBDA_LOG_FORMAT": "JSON"}
    with started(lang, api, tmp_path, environment=env) as proc:
        wait_for(lambda: len(api.posts) == 9, "the nine answers")
        api.add_status(500)  # only now: a 500 ends the runtime, invocations in flight with it
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert api.max_open_nexts >= 4
    for i, request_id in enumerate(contexts):
        seen = context_of(api, request_id)
        # Nothing of one invocation leaks into another: each sees its own request, trace and tenant.
        assert seen["requestId"] == request_id
        assert seen["traceId"] == seen["xAmznTraceId"] != ""
        assert seen["tenantId"] == f"tenant-{i}"
    assert len({seen["traceId"] for seen in map(lambda r: context_of(api, r), contexts)}) == 4
    assert len({api.posts_for(r)[0].client_port for r in contexts}) == 4, "each worker has its own connection"
    for request_id, ms in zip(sleepers, (400, 300, 200, 0), strict=True):
        assert json.loads(api.response(request_id)) == {"slept": ms}
    # The runtime's own lines are JSON objects under Managed Instances.
    log = stderr.decode()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    own = [line for line in lines if set(line) >= {"timestamp", "level", "message"}]
    assert any(line.get("requestId") == gone for line in own), log
    assert any("500" in line["message"] for line in own), log
    assert all(line["timestamp"].endswith("Z") for line in own)
    assert not [line for line in log.splitlines() if line.startswith("bootstrap:")], log


# ---- SIGTERM -------------------------------------------------------------------------------------------------

BASH_BUSY = 'handler() { sleep 300 & printf "%s %s" "$BASHPID" "$!" > "$PIDS.tmp"; mv "$PIDS.tmp" "$PIDS"; wait; }\n'
PHP_BUSY = """<?php
function h(string $event, LambdaContext $context): string {
    $child = proc_open(['sleep', '300'], [], $pipes);
    $pid = proc_get_status($child)['pid'];
    file_put_contents(getenv('PIDS') . '.tmp', getmypid() . " $pid");
    rename(getenv('PIDS') . '.tmp', getenv('PIDS'));
    sleep(300);
    return 'never';
}
"""


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("concurrency", ["1", "3"])
def test_sigterm_ends_the_runtime_with_its_handler_processes(
    lang: str, concurrency: str, api: FakeRuntimeAPI, tmp_path: Path
) -> None:
    root = tmp_path / "task"
    root.mkdir()
    if lang == "bash":
        (root / "h.sh").write_text(BASH_BUSY)
    else:
        (root / "h.php").write_text(PHP_BUSY)
    pids = tmp_path / "pids"
    api.add(b"{}")
    env = {"PIDS": str(pids), "AWS_LAMBDA_MAX_CONCURRENCY": concurrency}
    with started(lang, api, tmp_path, handler="h.h" if lang == "php" else "h.handler", task_root=root,
                 environment=env) as proc:
        wait_for(pids.exists, "the handler to start")
        wait_for(lambda: api.open_nexts >= int(concurrency) - 1, "the idle workers' /next")
        handler_pid, child_pid = map(int, pids.read_text().split())
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("the runtime did not exit on SIGTERM")
        wait_for(lambda: not process_alive(handler_pid) and not process_alive(child_pid), "the handler to end")
        wait_for(lambda: processes_of(api) == [], "every process of the runtime to end")
