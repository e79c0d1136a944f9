"""The Lambda Invoke API (2015-03-31) for callers: curl, the AWS CLI, boto3 with ``endpoint_url``.

Answers as AWS does (docs/runtime-api.md §5): a function error is still 200 with ``X-Amz-Function-Error``;
service errors carry ``x-amzn-ErrorType`` and a ``{"Type", "Message"}`` body, which is what botocore reads.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import threading
from collections.abc import Callable
from urllib.parse import unquote

from runtime_scaffold.emulator.invocation import FUNCTION_VERSION, MAX_REQUEST_BYTES, Invocation
from runtime_scaffold.emulator.local_lambda import LocalLambda
from runtime_scaffold.emulator.server import LoopbackServer, Reply, Request
from runtime_scaffold.errors import EmulatorError, ProjectError

_INVOKE_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations/?")


def service_error(status: int, error_type: str, message: str) -> Reply:
    body = json.dumps({"Type": "User", "Message": message, "message": message}).encode()
    return Reply(status, body, {"x-amzn-ErrorType": error_type})


class InvokeApi:
    """The HTTP application for ``scaffold serve``; Event invocations run on background threads."""

    def __init__(self, local: LocalLambda) -> None:
        self.local = local

    def handle(self, request: Request) -> Reply:
        match = _INVOKE_PATH.fullmatch(request.path)
        if match is None or request.method != "POST":
            return service_error(404, "UnknownOperationException",
                                 f"no operation {request.method} {request.path}")
        name = unquote(match.group(1))
        try:
            function = self.local.function(name)
        except ProjectError:
            arn = name if name.startswith("arn:") else (
                f"arn:aws:lambda:{self.local.project.region}:{self.local.account_id}:function:{name}")
            return service_error(404, "ResourceNotFoundException", f"Function not found: {arn}")
        if request.too_large:
            return service_error(413, "RequestTooLargeException",
                                 f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the "
                                 "InvokeFunction operation")
        payload = request.body or b"{}"  # an invoke without a payload hands the function an empty object
        try:
            json.loads(payload)
        except ValueError as error:
            return service_error(400, "InvalidRequestContentException",
                                 f"Could not parse request body into json: {error}")
        client_context = request.headers.get("X-Amz-Client-Context")
        if client_context:
            try:
                client_context = base64.b64decode(client_context, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return service_error(400, "InvalidRequestContentException",
                                     "X-Amz-Client-Context must be base64-encoded JSON")
        invocation_type = request.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            return service_error(400, "InvalidParameterValueException",
                                 f"Invalid invocation type: {invocation_type}")
        invocation = self.local.new_invocation(function, payload, client_context=client_context or None,
                                               trace_id=request.headers.get("X-Amzn-Trace-Id"))
        headers = {"x-amzn-RequestId": invocation.request_id, "X-Amz-Executed-Version": FUNCTION_VERSION}
        if invocation_type == "DryRun":
            return Reply(204, b"", headers)
        pool = self.local.pool(function)
        if invocation_type == "Event":
            thread = threading.Thread(target=self._run_event, args=(pool.invoke, invocation), daemon=True,
                                      name=f"event-{invocation.request_id}")
            thread.start()
            return Reply(202, b"", headers)
        try:
            result = pool.invoke(invocation)
        except EmulatorError as error:
            return service_error(503, "ServiceException", error.message)
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if (request.headers.get("X-Amz-Log-Type") or "").lower() == "tail":
            headers["X-Amz-Log-Result"] = base64.b64encode(result.log_tail).decode()
        return Reply(200, result.payload, headers)

    @staticmethod
    def _run_event(run: Callable[[Invocation], object], invocation: Invocation) -> None:
        with contextlib.suppress(EmulatorError):  # shutting down: an Event invocation has no caller to tell
            run(invocation)


def start_invoke_server(local: LocalLambda, *, host: str = "127.0.0.1", port: int = 9000) -> LoopbackServer:
    """Serve ``local`` over the Invoke API from a background thread; :meth:`LoopbackServer.close` stops it."""
    server = LoopbackServer(InvokeApi(local).handle, host=host, port=port, max_body_bytes=MAX_REQUEST_BYTES)
    return server.start()
