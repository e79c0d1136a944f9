"""The bash, PHP, Bun, Deno and Node runtimes, run for real against a fake Runtime API.

Every run gets an empty TMPDIR that must still be empty afterwards, and ends with a GET /next answered 500,
which the bootstrap must obey by exiting (so every run also checks the 500 rule).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .bootstrap_run import (
    ALL_LANGS,
    LANGS,
    PROJECT,
    SAMPLE,
    TEMPLATES,
    error_post,
    init_error,
    run_bootstrap,
    write_bash_handler,
)
from .runtime_api_fake import FakeRuntimeAPI

PAYLOADS: dict[str, bytes] = {
    "unicode": '{"text": "héllo wörld ✓ 日本語 😀 \u2028"}'.encode(),
    "quotes_backslashes": rb'{"a": "say \"hi\" \\ back\\slash \\n not a newline"}',
    "escaped_controls": b'{"c": "\\u0000\\u0001\\u001f\\t\\r\\n\\b\\f"}',
    "star": b"*",
    "globs_in_json": b'{"pattern": "* ? [a-z] /etc/* ~ {a,b}"}',
    "leading_at": b"@/etc/hostname",
    "leading_dash": b"-n -e -E -d @x",
    "newlines": b'{"a": 1}\n\n{"b": 2}\n',
    "trailing_newlines": b'"x"\n\n\n',
    "double_spaces": b'{"a":  "two  spaces   three    "}  ',
    "crlf_tabs": b'{"a":\r\n\t"b"}\r\n',
    "percent": b'"%s %d %% %n \\x41"',
    "shell_syntax": b"\"$HOME $(id) `id` ${x:-y} !! 'single'\"",
    "invalid_utf8": b'"\xff\xfe\x80 \xc3"',
    "empty_object": b"{}",
    "empty": b"",
    "one_mb": json.dumps({"data": 'a*b \\ "q" é\n' * 80_000}).encode()[: 1 << 20],
}


def event_of(size: int) -> bytes:
    """A JSON object of exactly SIZE bytes with a recognisable, position-dependent filler."""
    filler = b"".join(b"%07d," % i for i in range(size // 8 + 1))
    return b'{"d":"' + filler[: size - 8] + b'"}'


@pytest.fixture
def api() -> Iterator[FakeRuntimeAPI]:
    with FakeRuntimeAPI() as fake:
        yield fake


# ---- responses ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_echoes_tricky_payloads_byte_for_byte(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    ids = {name: api.add(body) for name, body in PAYLOADS.items()}
    api.add_status(500)
    run = run_bootstrap(lang, api, tmp_path)
    assert run.returncode != 0, "a 500 from /next must end the runtime"
    for name, body in PAYLOADS.items():
        assert api.response(ids[name]) == body, name


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_echoes_just_under_6_mb(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    body = b'"' + b"0123456789abcdef" * ((6 * 1024 * 1024 - 1000) // 16) + b'"'
    request_id = api.add(body)
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path)
    assert api.response(request_id) == body


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_echoes_sizes_around_the_bash_thresholds(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    # bash: up to 4 KiB the runtime writes the event itself; above, dd copies it from the socket (or, chunked,
    # a child prints it); up to 64 KiB the conformance handler echoes in bash, above it hands over to cat.
    bodies = {n: event_of(n) for n in (4095, 4096, 4097, 65535, 65536, 65537, 200_000)}
    ids = {n: api.add(body) for n, body in bodies.items()}
    chunked = {n: api.add(event_of(n), chunked=True) for n in (4096, 10_000)}
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path)
    for n, body in bodies.items():
        assert api.response(ids[n]) == body, n
    for n, request_id in chunked.items():
        assert api.response(request_id) == event_of(n), n


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_chunked_event_and_delayed_next(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    chunked = api.add(PAYLOADS["one_mb"][:25_000], chunked=True)
    # Several seconds without an event must not break the bootstrap: it has no client timeout on /next.
    delayed = api.add(b'{"late": true}', delay=3.0)
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path)
    assert api.response(chunked) == PAYLOADS["one_mb"][:25_000]
    assert api.response(delayed) == b'{"late": true}'


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_sample_handler_greets(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    ok = api.add(b'{"name": "World"}')
    bad = api.add(b'{"nom": "World"}')
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path, handler=SAMPLE[lang])
    assert json.loads(api.response(ok)) == {"message": "Hello, World!"}
    assert "name" in str(error_post(api, bad)["errorMessage"])


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_one_connection_many_invocations_no_temp_files(
    lang: str, api: FakeRuntimeAPI, tmp_path: Path
) -> None:
    ids = [api.add(b'{"n": %d}' % i) for i in range(1000)]
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path)  # checks that TMPDIR stays empty
    assert all(api.response(i) == b'{"n": %d}' % n for n, i in enumerate(ids))
    assert len({port for _, _, port in api.requests}) == 1, (
        "every request should reuse one keep-alive connection"
    )


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_reconnects_when_the_api_closes_the_connection(
    lang: str, api: FakeRuntimeAPI, tmp_path: Path
) -> None:
    first = api.add(b'"one"')
    second = api.add(b'"two"')
    api.rules.close_after_response.add(first)
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path)
    assert api.response(first) == b'"one"'
    assert api.response(second) == b'"two"'


# ---- context -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_trace_id_and_context_per_event(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    ask = b'{"conform":"context"}'
    first = api.add(ask, deadline_ms=4_102_444_800_000)
    second = api.add(ask)
    untraced = api.add(ask, trace_id=None)
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path)
    seen = {rid: json.loads(api.response(rid)) for rid in (first, second, untraced)}
    for rid in (first, second):
        assert seen[rid]["requestId"] == rid
        assert seen[rid]["traceId"] == seen[rid]["xAmznTraceId"] != ""
        assert seen[rid]["xAmznTraceIdExported"] is True
        assert seen[rid]["invokedFunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:conform"
    assert seen[first]["traceId"] != seen[second]["traceId"]
    assert seen[first]["deadlineMs"] == "4102444800000"
    assert seen[first]["remainingMs"] > 1_000_000_000
    assert 0 < seen[second]["remainingMs"] <= 300_000
    assert seen[untraced]["xAmznTraceId"] == "" and seen[untraced]["xAmznTraceIdExported"] is False


# ---- errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_handler_error_posts_header_and_json_then_carries_on(
    lang: str, api: FakeRuntimeAPI, tmp_path: Path
) -> None:
    failing = api.add(b'{"conform":"error","message":"boom"}')
    after = api.add(b'"still alive"')
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path)
    assert error_post(api, failing)["errorMessage"] == "boom"
    assert api.response(after) == b'"still alive"'


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_no_error_post_after_413(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    too_big = api.add(b'{"conform":"output","bytes":7000000}')
    after = api.add(b'"next"')
    api.rules.status["/response"] = 413
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path)
    posts = api.posts_for(too_big)
    assert [p.resource for p in posts] == [f"invocation/{too_big}/response"]
    assert len(posts[0].body) == 7_000_000
    assert [p.resource for p in api.posts_for(after)] == [f"invocation/{after}/response"]


@pytest.mark.parametrize("lang", ALL_LANGS)
@pytest.mark.parametrize("resource", ["/response", "/error"])
def test_exits_on_500_from_a_post(lang: str, resource: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    api.add(b'{"conform":"error","message":"x"}' if resource == "/error" else b'"x"')
    never = api.add(b'"never answered"')
    api.rules.status[resource] = 500
    run = run_bootstrap(lang, api, tmp_path, timeout=30)
    assert run.returncode != 0
    # The bash bootstrap pipelines GET /next behind each POST (see its comments): a GET may follow the POST;
    # the runtime must not act on it.
    assert [m for m, _, _ in api.requests][:2] == ["GET", "POST"]
    assert [m for m, _, _ in api.requests][2:] in ([], ["GET"])
    assert api.posts_for(never) == []


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_init_error_missing_handler_file(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    run = run_bootstrap(lang, api, tmp_path, handler="nowhere.handler")
    assert "nowhere" in str(init_error(api, run, "Runtime.ImportModuleError")["errorMessage"])


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_init_error_missing_function(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    handler = {"bash": "function.nope", "php": "src/hello.nope"}.get(lang, "src/hello.nope")
    run = run_bootstrap(lang, api, tmp_path, handler=handler)
    assert "nope" in str(init_error(api, run, "Runtime.HandlerNotFound")["errorMessage"])


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_init_error_malformed_handler(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    run = run_bootstrap(lang, api, tmp_path, handler="nodot")
    init_error(api, run, "Runtime.MalformedHandlerName")


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_init_error_when_loading_fails(lang: str, api: FakeRuntimeAPI, tmp_path: Path) -> None:
    if lang == "bash":
        (tmp_path / "broken.sh").write_text("handler() { :; }\necho 'loading' >&2\nexit 3\n")
    elif lang == "php":
        (tmp_path / "broken.php").write_text("<?php\nthrow new LogicException('cannot start');\n")
    else:
        (tmp_path / "broken.mjs").write_text('export const handler = () => 1;\nthrow new Error("cannot start");\n')
    run = run_bootstrap(lang, api, tmp_path, handler="broken.handler", task_root=tmp_path)
    init_error(api, run, "Runtime.ImportModuleError")


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_exit_without_runtime_api(lang: str, tmp_path: Path) -> None:
    with FakeRuntimeAPI() as api:
        address = api.address  # closed once the block ends: nothing listens there any more
    run = run_bootstrap(lang, address, tmp_path, timeout=30)
    assert run.returncode != 0


# ---- NUL bytes, path prefixes, Nagle ------------------------------------------------------------------------

NUL_EVENTS: dict[str, bytes] = {
    "only_nul": b"\0",
    "nul_first": b"\0{}",
    "nul_last": b"{}\0",
    "nuls_together": b'{"a":"\0\0\0"}',
    "nuls_apart": b"\0a\0\0b\0",
    "just_under_2k": b"\0" + event_of(2046) + b"\0",
    "at_2k": event_of(2047) + b"\0",
    "just_over_2k": b"\0" * 2049,
    "64k": event_of(65536)[:-10] + b"\0" * 10,
    "200k": b"\0".join([event_of(1000)] * 200),
}


def echo_with_cat(lang: str, tmp_path: Path) -> dict[str, object]:
    """A handler that echoes its stdin with cat, byte for byte, NULs included (bash); PHP's raw echo already is."""
    if lang == "bash":
        return {"handler": "h.handler", "task_root": write_bash_handler(tmp_path, "handler() { cat; }\n")}
    return {}


@pytest.mark.parametrize("lang", LANGS)
def test_nul_bytes_in_events_and_responses_go_through_byte_for_byte(
    lang: str, api: FakeRuntimeAPI, tmp_path: Path
) -> None:
    # Issue 15 item 11: the bash bootstrap waited for the handler's timeout on an event with a NUL byte.
    ids = {name: api.add(body) for name, body in NUL_EVENTS.items()}
    chunked = api.add(b"\0".join([event_of(700)] * 10), chunked=True)
    after = api.add(b'"after"')
    api.add_status(500)
    run_bootstrap(lang, api, tmp_path, timeout=30, **echo_with_cat(lang, tmp_path))
    for name, body in NUL_EVENTS.items():
        assert api.response(ids[name]) == body, name
    assert api.response(chunked) == b"\0".join([event_of(700)] * 10)
    assert api.response(after) == b'"after"'


def test_bash_conformance_handler_echoes_nul_bytes(api: FakeRuntimeAPI, tmp_path: Path) -> None:
    ids = {name: api.add(body) for name, body in NUL_EVENTS.items()}
    api.add_status(500)
    run_bootstrap("bash", api, tmp_path, timeout=30)
    for name, body in NUL_EVENTS.items():
        assert api.response(ids[name]) == body, name


@pytest.mark.parametrize("lang", LANGS)
def test_runtime_api_with_a_path_prefix(lang: str, tmp_path: Path) -> None:
    # cargo-lambda hands runtimes host:port/.rt/<function>; AWS's clients put /2018-06-01 after whatever is there.
    with FakeRuntimeAPI(prefix="/.rt/hello") as api:
        small = api.add(b'{"small": true}')
        large = api.add(event_of(100_000))
        failing = api.add(b'{"conform":"error","message":"boom"}')
        api.add_status(500)
        run = run_bootstrap(lang, api, tmp_path)
        assert run.returncode != 0
        assert all(path.startswith("invocation/") for _, path, _ in api.requests), api.requests
        assert api.response(small) == b'{"small": true}'
        assert api.response(large) == event_of(100_000)
        assert error_post(api, failing)["errorMessage"] == "boom"
    with FakeRuntimeAPI(prefix="/.rt/hello") as api:
        run = run_bootstrap(lang, api, tmp_path, handler="nowhere.handler")
        init_error(api, run, "Runtime.ImportModuleError")


@pytest.mark.parametrize("lang", LANGS)
def test_no_dependence_on_the_server_disabling_nagle(lang: str, tmp_path: Path) -> None:
    # A server with Nagle's algorithm on holds a reply back while the runtime has not acknowledged the last one
    # (40 ms with delayed ACKs: the old bash bootstrap pipelined GET /next behind each POST and paid it per event);
    # a request written in pieces waits the same way behind the runtime's own Nagle. The fake counts both from the
    # kernel's TCP_INFO, so this needs no clock.
    with FakeRuntimeAPI(nodelay=False) as api:
        for i in range(30):
            api.add(b'{"n": %d}' % i)
        api.add(b'{"conform":"error","message":"boom"}')
        api.add(event_of(3000))
        api.add(event_of(10_000))
        api.add(b'{"conform":"output","bytes":3000}')
        api.add(b'{"conform":"output","bytes":20000}')
        api.add_status(500)
        run_bootstrap(lang, api, tmp_path)
        assert len(api.posts) == 35
        assert api.nagle_holds == 0, "replies held back by the server's Nagle"
        assert api.split_requests == [], "requests written in more than one piece"


# ---- bash specifics ----------------------------------------------------------------------------------------


def test_bash_handler_status_and_message(api: FakeRuntimeAPI, tmp_path: Path) -> None:
    root = write_bash_handler(
        tmp_path,
        "set -euo pipefail\n"
        'handler() { IFS= read -r -d "" ev || :\n'
        "  case $ev in fail) false ;; exit) exit 7 ;;\n"
        "    message) printf 'bad \"input\" \\\\ \\t tab\\nline2 \\001 é\\n'; return 4 ;; esac\n"
        '  printf "%s" "$ev"; }\n',
    )
    failed = api.add(b"fail")
    exited = api.add(b"exit")
    message = api.add(b"message")
    ok = api.add(b"ok")
    api.add_status(500)
    run = run_bootstrap("bash", api, tmp_path, handler="h.handler", task_root=root)
    assert "exited with status 1" in str(error_post(api, failed)["errorMessage"])
    assert "status 7" in str(error_post(api, exited)["stackTrace"])
    assert error_post(api, message)["errorMessage"] == 'bad "input" \\ \t tab\nline2 \x01 é'
    assert api.response(ok) == b"ok"
    assert "_lr_" not in run.stderr


def test_bash_xtrace_in_handler_file_traces_only_the_handler(api: FakeRuntimeAPI, tmp_path: Path) -> None:
    root = write_bash_handler(tmp_path, 'set -x\nhandler() { printf "%s" traced; }\n')
    request_id = api.add(b"secret-event-bytes")
    api.add_status(500)
    run = run_bootstrap("bash", api, tmp_path, handler="h.handler", task_root=root)
    assert api.response(request_id) == b"traced"
    assert "printf %s traced" in run.stderr
    assert "secret-event-bytes" not in run.stderr, "the runtime's own commands must not be traced"


SPAWNER_PROBE = r"""
_lr_sock='' _lr_pr='' _lr_pw=''
source "$1"
_lr_child() { read -r -N 1 _; printf 'L\0'; exit 0; }  # finds no event and ends at once, as on a lost connection
coproc SPAWNER { _lr_spawner; }
exec {req}>&"${SPAWNER[1]}" {msg}<&"${SPAWNER[0]}"
printf 'n\n' >&"$req"
IFS= read -r -d '' -u "$msg" forked
printf 's\n' >&"$req"  # the spawner waits for the process, so it has ended and been reaped
IFS= read -r -d '' -u "$msg" exited
exec {out}<"/proc/$SPAWNER_PID/fd/${forked#* }" && IFS= read -r -d '' -u "$out" first
printf '%s %s' "$exited" "$first"
"""


def test_bash_spawner_keeps_the_stdout_of_a_process_that_ended_at_once() -> None:
    # Bash closes a coprocess's pipes, unread data and all, once it has reaped it. A handler's process that finds no
    # event (the connection lost, an error status) ends at once, maybe before the runtime has opened its stdout
    # through /proc/<spawner>/fd: the spawner must keep a copy of its own. In the runtime the window is microseconds,
    # so this drives the spawner of bash-runtime/handler.sh directly, in the order that loses the pipe.
    handler_sh = PROJECT["bash"] / "runtime" / "bash-runtime" / "handler.sh"
    probe = subprocess.run(["bash", "-c", SPAWNER_PROBE, "probe", str(handler_sh)], capture_output=True, text=True,
                           timeout=30)
    assert probe.stdout == "X0 L", probe.stderr


def test_bash_large_output_before_reading_input_does_not_deadlock(
    api: FakeRuntimeAPI, tmp_path: Path
) -> None:
    root = write_bash_handler(
        tmp_path,
        "handler() { printf '%*s' 1000000 ''; }\n",  # never reads its 1 MB event
    )
    request_id = api.add(PAYLOADS["one_mb"])
    small = api.add(b"x" * 5000)
    after = api.add(b"{}")
    api.add_status(500)
    run = run_bootstrap("bash", api, tmp_path, handler="h.handler", task_root=root)
    assert api.response(request_id) == b" " * 1_000_000
    assert api.response(small) == b" " * 1_000_000
    assert api.response(after) == b" " * 1_000_000, "the unread events must not desynchronise the connection"
    assert "Broken pipe" not in run.stderr


# ---- PHP specifics -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_php_decoded_event_json_result_and_exit(api: FakeRuntimeAPI, tmp_path: Path) -> None:
    (tmp_path / "h.php").write_text(
        "<?php\nfunction h($event, LambdaContext $context) {\n"
        "  if ($event === 'exit') { exit(3); }\n"
        "  return ['got' => $event, 'id' => $context->awsRequestId, 'f' => 1.0];\n}\n"
    )
    decoded = api.add(b'{"a": [1, "\\u00e9"]}')
    not_json = api.add(b"exit")
    never = api.add(b"{}")
    run = run_bootstrap("php", api, tmp_path, handler="h.h", task_root=tmp_path)
    assert json.loads(api.response(decoded)) == {"got": {"a": [1, "é"]}, "id": decoded, "f": 1.0}
    assert b'"f":1.0' in api.response(decoded)
    assert error_post(api, not_json)["errorType"] == "Exit"
    assert run.returncode != 0
    assert api.posts_for(never) == []


@pytest.mark.slow
def test_php_init_exit_and_fatal_error_in_handler(api: FakeRuntimeAPI, tmp_path: Path) -> None:
    (tmp_path / "bye.php").write_text("<?php\nfunction h($e, $c) { return 1; }\nexit(0);\n")
    run = run_bootstrap("php", api, tmp_path, handler="bye.h", task_root=tmp_path)
    init_error(api, run, "Runtime.Exit")


@pytest.mark.slow
def test_php_fatal_error_is_reported(api: FakeRuntimeAPI, tmp_path: Path) -> None:
    (tmp_path / "fat.php").write_text(
        "<?php\nfunction h($e, $c) { ini_set('memory_limit', '16M'); return str_repeat('x', 64 << 20); }\n"
    )
    request_id = api.add(b"{}")
    run = run_bootstrap("php", api, tmp_path, handler="fat.h", task_root=tmp_path)
    body = error_post(api, request_id)
    assert body["errorType"] == "FatalError"
    assert "memory" in str(body["errorMessage"])
    assert run.returncode != 0


@pytest.mark.slow
def test_php_without_curl_says_what_to_install(api: FakeRuntimeAPI, tmp_path: Path) -> None:
    # php -n loads no php.ini, so none of Debian's shared extensions: curl is missing, as on a bare PHP build.
    run = run_bootstrap("php", api, tmp_path, php_options=("-n",))
    body = init_error(api, run, "Runtime.MissingExtension")
    message = str(body["errorMessage"])
    assert "php-curl" in message and "brew install php" in message
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and "php-curl" in run.stderr, run.stderr
    assert "undefined function" not in run.stderr


@pytest.mark.slow
def test_php_concurrency_without_posix_serves_one_at_a_time(api: FakeRuntimeAPI, tmp_path: Path) -> None:
    ids = [api.add(b'{"n": %d}' % i) for i in range(3)]
    api.add_status(500)
    run = run_bootstrap("php", api, tmp_path, php_options=("-n", "-d", "extension=curl"),
                        environment={"AWS_LAMBDA_MAX_CONCURRENCY": "4"})
    assert [api.response(i) for i in ids] == [b'{"n": %d}' % i for i in range(3)]
    assert run.stderr.count("pcntl and posix") == 1, run.stderr


PHP_STREAMS = """<?php
function fat(string $event, LambdaContext $context, LambdaResponseStream $stream): string
{
    if ($event === 'quiet') { return 'returned, not streamed'; }
    $stream->write('one');
    if ($event === 'exit') { exit(0); }
    ini_set('memory_limit', '16M');
    return str_repeat('x', 64 << 20);
}
function generated(string $event, LambdaContext $context): Generator
{
    yield 'a';
    yield ['b' => 1];
    yield '';
    throw new DomainException('after two');
}
"""


@pytest.mark.slow
def test_php_streams_fatal_errors_and_generator_failures(api: FakeRuntimeAPI, tmp_path: Path) -> None:
    (tmp_path / "s.php").write_text(PHP_STREAMS)
    quiet = api.add(b"quiet")
    fatal = api.add(b"{}")
    never = api.add(b"{}")
    run = run_bootstrap("php", api, tmp_path, handler="s.fat", task_root=tmp_path)
    # Nothing written: the return value is an ordinary response.
    assert api.response(quiet) == b"returned, not streamed"
    assert "lambda-runtime-function-response-mode" not in api.posts_for(quiet)[0].headers
    post = api.posts_for(fatal)[0]
    assert post.body == b"one"
    assert post.trailers["lambda-runtime-function-error-type"] == "Function.FatalError"
    error = post.error_trailer()
    assert error is not None and "memory" in error["errorMessage"]
    assert run.returncode != 0 and api.posts_for(never) == []
    with FakeRuntimeAPI() as again:
        failing = again.add(b"{}")
        after = again.add(b"{}")
        again.add_status(500)
        run_bootstrap("php", again, tmp_path, handler="s.generated", task_root=tmp_path)
        post = again.posts_for(failing)[0]
        assert post.chunks == [b"a", b'{"b":1}'], "an empty yield sends nothing"
        assert post.trailers["lambda-runtime-function-error-type"] == "Function.DomainException"
        assert again.posts_for(after)[0].body == b'a{"b":1}'


@pytest.mark.slow
def test_php_worker_replaced_after_a_fatal_exit(api: FakeRuntimeAPI, tmp_path: Path) -> None:
    (tmp_path / "s.php").write_text(PHP_STREAMS)
    exits = [api.add(b"exit") for _ in range(3)]
    served = [api.add(b"quiet") for _ in range(3)]
    api.add_status(500)
    run_bootstrap("php", api, tmp_path, handler="s.fat", task_root=tmp_path,
                  environment={"AWS_LAMBDA_MAX_CONCURRENCY": "2"})
    for request_id in exits:
        post = api.posts_for(request_id)[0]
        assert post.trailers["lambda-runtime-function-error-type"] == "Function.Exit"
    assert [api.response(r) for r in served] == [b"returned, not streamed"] * 3


# ---- static checks -----------------------------------------------------------------------------------------


def shell_files() -> list[Path]:
    return [
        PROJECT["bash"] / "runtime" / "bootstrap",
        *sorted((PROJECT["bash"] / "runtime" / "bash-runtime").glob("*.sh")),
        PROJECT["bash"] / "function.sh",
        PROJECT["bash"] / "conformance.sh",
        PROJECT["php"] / "runtime" / "build-php.sh",
    ]


def php_files() -> list[Path]:
    return [
        PROJECT["php"] / "runtime" / "bootstrap",
        *sorted((PROJECT["php"] / "runtime" / "lambda-runtime").glob("*.php")),
        PROJECT["php"] / "src" / "hello.php",
        PROJECT["php"] / "src" / "conformance.php",
    ]


@pytest.mark.parametrize("path", shell_files(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_shellcheck(path: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    result = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("path", php_files(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_php_lint(path: Path) -> None:
    result = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# The others' bootstrap is rendered from a template: test_javascript_runtime checks it.
@pytest.mark.parametrize("lang", ["bash", "php"])
def test_bootstrap_is_executable_with_shebang(lang: str) -> None:
    bootstrap = PROJECT[lang] / "runtime" / "bootstrap"
    assert bootstrap.stat().st_mode & 0o777 == 0o755
    first = bootstrap.read_bytes().split(b"\n", 1)[0]
    assert first == {"bash": b"#!/bin/bash", "php": b"#!/opt/bin/php"}[lang]
