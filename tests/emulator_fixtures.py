"""Fixture projects for the emulator tests: a serverless.yml and a bootstrap written under tmp_path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

# A small Python bootstrap driven by its events, for precise fault injection:
#   {"echo": X}        responds X              {"sleep": S}        sleeps S seconds, then responds
#   {"fail": "msg"}    posts to /error          {"exit": N}         exits with status N mid-invocation
#   {"size": N}        responds with N bytes    {"twice": true}     posts twice (and to a wrong id)
#   {"env": true}      responds with its env    {"headers": true}   responds with the /next headers
#   {"signal": N}      kills itself with signal N            {"log": N}          logs a line of N bytes first
#   {"cut": "length"|"chunked"}  posts a response cut off mid-body (short Content-Length / no zero chunk), exits
# INIT_FAIL in the environment makes it post /init/error and exit 1; INIT_SLEEP=S delays its first /next.
PYTHON_BOOTSTRAP = textwrap.dedent('''\
    import http.client, json, os, signal, socket, sys, time
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    host, port = api.split(":")
    conn = http.client.HTTPConnection(host, int(port))
    def call(method, path, body=None, headers=None):
        conn.request(method, "/2018-06-01/runtime/" + path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    print("init", os.getpid(), flush=True)
    time.sleep(float(os.environ.get("INIT_SLEEP", "0")))
    if os.environ.get("INIT_FAIL"):
        error = {"errorMessage": "boom at init", "errorType": "Init.Boom"}
        status = call("POST", "init/error", json.dumps(error), {"Lambda-Runtime-Function-Error-Type": "Init.Boom"})[0]
        print("init/error status:", status, flush=True)
        sys.exit(1)
    while True:
        status, headers, body = call("GET", "invocation/next")
        if status != 200:
            sys.exit(3)
        rid = headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(body or b"null")
        event = event if isinstance(event, dict) else {"echo": event}
        print("handling", rid, flush=True)
        out = None
        if "log" in event:
            print("x" * event["log"], flush=True)
        if "sleep" in event:
            time.sleep(event["sleep"])
        if "exit" in event:
            sys.exit(event["exit"])
        if "signal" in event:
            os.kill(os.getpid(), event["signal"])
        if "fail" in event:
            error = {"errorMessage": event["fail"], "errorType": "Handler.Failed", "stackTrace": ["here"]}
            call("POST", f"invocation/{rid}/error", json.dumps(error),
                 {"Lambda-Runtime-Function-Error-Type": "Handler.Failed"})
            continue
        if "size" in event:
            code = call("POST", f"invocation/{rid}/response", b"x" * event["size"])[0]
            print("size post", code, flush=True)
            if code == 413:
                print("error after 413", call("POST", f"invocation/{rid}/error", b"{}")[0], flush=True)
            continue
        if "cut" in event:  # a client that dies mid-post: its own connection, ended before the body is
            raw = socket.create_connection((host, int(port)))
            framing = "Content-Length: 100\\r\\n" if event["cut"] == "length" else "Transfer-Encoding: chunked\\r\\n"
            body = b'"partial"' if event["cut"] == "length" else b'9\\r\\n"partial"\\r\\n'
            raw.sendall(f"POST /2018-06-01/runtime/invocation/{rid}/response HTTP/1.1\\r\\nHost: x\\r\\n"
                        f"{framing}\\r\\n".encode() + body)
            raw.shutdown(socket.SHUT_WR)
            print("cut post:", raw.recv(4096).split(b"\\r\\n")[0].decode(), flush=True)
            sys.exit(0)
        if "chunked" in event:  # a body sent with Transfer-Encoding: chunked, as streaming clients do
            parts = iter([b'"chun', b'ked"'])
            conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", body=parts,
                         encode_chunked=True)
            conn.getresponse().read()
            continue
        if "twice" in event:
            first = call("POST", f"invocation/{rid}/response", b'"first"')[0]
            second = call("POST", f"invocation/{rid}/response", b'"second"')[0]
            wrong = call("POST", "invocation/not-a-request/response", b'"wrong"')[0]
            print("codes", first, second, wrong, flush=True)
            continue
        if event.get("env"):
            out = dict(os.environ)
        elif event.get("headers") is True:  # an HTTP event has headers of its own: it is echoed
            out = headers
        else:
            out = event.get("echo", event)
        call("POST", f"invocation/{rid}/response", json.dumps(out))
''')


def write_project(
    root: Path,
    *,
    bootstrap: str | None = PYTHON_BOOTSTRAP,
    interpreter: str = sys.executable,
    in_layer: bool = True,
    timeout: int = 6,
    functions: tuple[str, ...] | dict[str, str] = ("hello",),
    environment: dict[str, str] | None = None,
    executable: bool = True,
    extra_files: dict[str, str] | None = None,
) -> Path:
    """A project like `scaffold new` writes: the bootstrap in the layer folder runtime/ (or the task root)."""
    root.mkdir(parents=True, exist_ok=True)
    env_lines = "".join(f"      {k}: '{v}'\n" for k, v in (environment or {}).items())
    handlers = functions if isinstance(functions, dict) else dict.fromkeys(functions, "function.handler")
    function_blocks = "".join(
        f"  {name}:\n    handler: {handlers[name]}\n    timeout: {timeout}\n    memorySize: 256\n"
        f"    layers:\n      - {{Ref: RuntimeLambdaLayer}}\n"
        + (f"    environment:\n{env_lines}" if env_lines else "")
        for name in handlers
    )
    (root / "serverless.yml").write_text(
        "service: fixture\nprovider:\n  name: aws\n  runtime: provided.al2023\n"
        "layers:\n  runtime:\n    path: runtime\n"
        f"functions:\n{function_blocks}"
    )
    (root / "runtime").mkdir(exist_ok=True)
    if bootstrap is not None:
        target = (root / "runtime" if in_layer else root) / "bootstrap"
        text = bootstrap if bootstrap.startswith("#!") else f"#!{interpreter}\n{bootstrap}"
        target.write_text(text)
        target.chmod(0o755 if executable else 0o644)
    for name, text in (extra_files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


# Echoes each event byte for byte without parsing it (events Python's json would refuse: deep nesting, long
# numbers); EXIT_AFTER_S=S makes it exit S seconds after each response, idle, as a crashing runtime would.
RAW_ECHO_BOOTSTRAP = textwrap.dedent('''\
    import http.client, os, sys, time
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    print("init", os.getpid(), flush=True)
    while True:
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        reply = conn.getresponse()
        body = reply.read()
        rid = reply.getheader("Lambda-Runtime-Aws-Request-Id")
        print("handling", rid, flush=True)
        conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", body)
        conn.getresponse().read()
        if os.environ.get("EXIT_AFTER_S"):
            time.sleep(float(os.environ["EXIT_AFTER_S"]))
            sys.exit(0)
''')


# A streaming bootstrap for tests/test_streaming.py and the CLI's --stream tests.
# Events: {"pieces": [...]} streams each string as one chunk; "wait_for": PATH after the first piece waits
# (20 s at most) for that file and says in the next piece whether it came; "mode" replaces the response mode;
# "type" is the Content-Type; "fail": MESSAGE ends with the error trailers; "error_after": posts /error once the
# stream has ended; "bytes": N streams N bytes in "chunk"-byte pieces; "sleep": S after the first piece;
# "buffered": X posts X as a plain /response. It logs the status of each post.
STREAMING_BOOTSTRAP = textwrap.dedent('''\
    import base64, http.client, json, os, time
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    while True:
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        reply = conn.getresponse()
        event = json.loads(reply.read())
        rid = reply.getheader("Lambda-Runtime-Aws-Request-Id")
        path = f"/2018-06-01/runtime/invocation/{rid}/response"
        if "buffered" in event:
            conn.request("POST", path, event["buffered"].encode())
            answer = conn.getresponse()
            print("buffered status", answer.status, answer.read().decode(), flush=True)
            continue
        conn.putrequest("POST", path)
        conn.putheader("Lambda-Runtime-Function-Response-Mode", event.get("mode", "streaming"))
        conn.putheader("Transfer-Encoding", "chunked")
        conn.putheader("Trailer", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
        if "type" in event:
            conn.putheader("Content-Type", event["type"])
        conn.endheaders()
        def send(piece):
            conn.send(b"%x\\r\\n%s\\r\\n" % (len(piece), piece))
        pieces = [base64.b64decode(p) if event.get("base64") else p.encode() for p in event.get("pieces", [])]
        for number, piece in enumerate(pieces):
            send(piece)
            if number == 0 and event.get("wait_for"):
                deadline = time.monotonic() + 20
                while not os.path.exists(event["wait_for"]) and time.monotonic() < deadline:
                    time.sleep(0.01)
                send(json.dumps({"saw_the_callers_ack": os.path.exists(event["wait_for"]),
                                 "at": time.time()}).encode())
            if number == 0 and event.get("sleep"):
                time.sleep(event["sleep"])
        if "bytes" in event:
            left = event["bytes"]
            while left > 0:
                send(b"x" * min(left, event["chunk"]))
                left -= event["chunk"]
        trailers = b""
        if "fail" in event:
            body = json.dumps({"errorMessage": event["fail"], "errorType": "Boom", "stackTrace": ["at here"]})
            trailers = (b"Lambda-Runtime-Function-Error-Type: Function.Boom\\r\\n"
                        b"Lambda-Runtime-Function-Error-Body: " + base64.b64encode(body.encode()) + b"\\r\\n")
        conn.send(b"0\\r\\n" + trailers + b"\\r\\n")
        answer = conn.getresponse()
        print("stream status", answer.status, answer.read().decode(), flush=True)
        if event.get("error_after"):
            conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/error", b"{}",
                         {"Lambda-Runtime-Function-Error-Type": "Function.Late"})
            late = conn.getresponse()
            print("late error status", late.status, late.read().decode(), flush=True)
''')


class ServeProcess:
    """`scaffold serve` as a user runs it, in a process group of its own; always killed and reaped on exit."""

    def __init__(self, project: Path, *args: str, stderr: int | None = None, log: Path | None = None) -> None:
        self.log = log
        self._log_file = open(log, "wb") if log is not None else None  # noqa: SIM115  # closed in close()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runtime_scaffold", "serve", "--project", str(project), "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=self._log_file or stderr, start_new_session=True)
        assert self.process.stdout is not None
        line = ""
        while "listening on http://" not in line:
            line = self.process.stdout.readline().decode()
            if not line:
                self.close()
                raise AssertionError("scaffold serve ended before it listened")
        self.base = line.rsplit(" ", 1)[1].strip()
        self.address = self.base.removeprefix("http://")

    def url(self, function: str = "hello") -> str:
        return f"{self.base}/2015-03-31/functions/{function}/invocations"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log is not None else ""

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        if self._log_file is not None:
            self._log_file.close()

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
