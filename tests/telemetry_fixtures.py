"""A configurable subscriber extension (Python, standard library) for the Telemetry and Logs API tests.

It reads its plan from $STATE/<name>.plan (JSON):
  "subscriptions": [{"path": "/2022-07-01/telemetry", "body": {...}, "id": "own"|"none"|"bogus"}, ...]
      PUT in order during init; each answer is appended to $STATE/<name>.answers as {"status", "body"}
  "late": {...}          one more subscription, PUT when the first INVOKE arrives (after init)
  "listener": "http"|"tcp"|"none", "port": N   its listener, on sandbox.localdomain:N
  "block": true          the HTTP listener answers no batch before $STATE/release exists
Every batch the listener receives is appended to $STATE/<name>.batches, one JSON array per line (TCP: each
record on its own line, as delivered).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

SUBSCRIBER = textwrap.dedent('''\
    #!/usr/bin/env python3
    import json, os, socketserver, sys, threading, time, urllib.error, urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    name = os.path.basename(__file__)
    state = os.environ["STATE"]
    plan = json.load(open(f"{state}/{name}.plan"))
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    lock = threading.Lock()

    def keep(kind, text):
        with lock, open(f"{state}/{name}.{kind}", "a") as file:
            file.write(text + "\\n")

    def call(method, path, body=None, headers=None):
        request = urllib.request.Request(f"http://{api}{path}", data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    class Http(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            while plan.get("block") and not os.path.exists(f"{state}/release"):
                time.sleep(0.01)
            keep("batches", body.decode())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        do_PUT = do_POST
        def log_message(self, *args):
            pass

    class Tcp(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                keep("batches", line.decode().rstrip("\\n"))

    def subscribe(entry, own):
        ids = {"own": own, "none": None, "bogus": "00000000-0000-4000-8000-000000000000"}
        identifier = ids[entry.get("id", "own")]
        headers = {"Content-Type": "application/json"}
        if identifier:
            headers["Lambda-Extension-Identifier"] = identifier
        status, _, body = call("PUT", entry["path"], json.dumps(entry["body"]).encode(), headers)
        keep("answers", json.dumps({"status": status, "body": body.decode()}))

    status, headers, _ = call("POST", "/2020-01-01/extension/register", b'{"events": ["INVOKE", "SHUTDOWN"]}',
                              {"Lambda-Extension-Name": name})
    own = headers["Lambda-Extension-Identifier"]
    address = ("sandbox.localdomain", plan.get("port", 4243))
    if plan.get("listener", "http") == "http":
        server = ThreadingHTTPServer(address, Http)
    elif plan["listener"] == "tcp":
        server = socketserver.ThreadingTCPServer(address, Tcp)
    if plan.get("listener", "http") != "none":
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    for entry in plan.get("subscriptions", []):
        subscribe(entry, own)
    late = plan.get("late")
    while True:
        _, _, body = call("GET", "/2020-01-01/extension/event/next", headers={"Lambda-Extension-Identifier": own})
        event = json.loads(body)
        if event["eventType"] == "SHUTDOWN":
            sys.exit(0)
        if late is not None:
            subscribe(late, own)
            late = None
    ''')

# Prints PRINT_LINES numbered lines ("line 1" ...) per invocation, then answers {}.
PRINTING_BOOTSTRAP = textwrap.dedent('''\
    #!/bin/bash
    api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
    echo "runtime init"
    while true; do
      headers=$(mktemp)
      curl -sS -D "$headers" -o /dev/null "$api/invocation/next"
      id=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$headers" | tr -d '\\r' | cut -d' ' -f2)
      rm -f "$headers"
      seq -f 'line %g' "${PRINT_LINES:-1}"
      curl -sS -o /dev/null -XPOST "$api/invocation/$id/response" -d '{}'
    done
    ''')


def telemetry_body(schema: str = "2022-12-13", *, types: list[str] | None = None, port: int = 4243,
                   buffering: dict[str, int] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemaVersion": schema, "types": types or ["platform", "function", "extension"],
        "buffering": buffering or {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
        "destination": {"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{port}"},
    }
    body.update(extra)
    return body


def add_subscriber(project: Path, state: Path, name: str, plan: dict[str, Any]) -> None:
    (state / f"{name}.plan").write_text(json.dumps(plan))
    path = project / "runtime" / "extensions" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SUBSCRIBER)
    path.chmod(0o755)


def answers(state: Path, name: str) -> list[dict[str, Any]]:
    path = state / f"{name}.answers"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def records(state: Path, name: str) -> list[dict[str, Any]]:
    """Every record the subscriber's listener received, in order (HTTP batches flattened)."""
    path = state / f"{name}.batches"
    found: list[dict[str, Any]] = []
    for line in path.read_text().splitlines() if path.exists() else ():
        document = json.loads(line)
        found.extend(document if isinstance(document, list) else [document])
    return found
