"""The read-only Lambda calls SDK-based tools make before invoking: GetFunction, GetFunctionConfiguration,
ListFunctions (``GET /2015-03-31/functions/{name}``, ``.../configuration``, ``GET /2015-03-31/functions/``).

Answered from the project (:mod:`function_configuration`) in the shapes of Lambda's API reference, which boto3
and the JavaScript SDK parse; a function is named as for Invoke (:func:`function_names.requested_function`), and
only ``$LATEST`` exists. ListFunctions pages with ``MaxItems`` (1-10,000, 50 when not sent) and the opaque
``Marker`` it hands back as ``NextMarker``. The answers are built off the loop (a zip is measured), so invocations
in flight are not held up by them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

from runtime_scaffold.emulator.function_configuration import function_configuration, tags
from runtime_scaffold.emulator.function_names import (
    LambdaApiError,
    constraint,
    query_parameter,
    requested_function,
)
from runtime_scaffold.emulator.local_lambda import LocalLambda
from runtime_scaffold.emulator.messages import Reply, Request
from runtime_scaffold.emulator.routes import Routes
from runtime_scaffold.emulator.service_errors import service_error
from runtime_scaffold.execution_environment import ExecutionEnvironmentBuilder

FUNCTIONS_PATH = "/2015-03-31/functions"
FUNCTION_PATH = FUNCTIONS_PATH + "/{name}"
CONFIGURATION_PATH = FUNCTION_PATH + "/configuration"
DEFAULT_MAX_ITEMS = 50
MAX_ITEMS = 10_000


def _json(document: dict[str, Any]) -> Reply:
    return Reply(200, json.dumps(document).encode())


class FunctionApi:
    """The three operations, for one local Lambda's Invoke API listener."""

    def __init__(self, local: LocalLambda) -> None:
        self.local = local

    def add_routes(self, routes: Routes) -> None:
        routes.add("GET", FUNCTION_PATH, self.get_function)
        routes.add("GET", CONFIGURATION_PATH, self.get_function_configuration)
        for path in (FUNCTIONS_PATH, FUNCTIONS_PATH + "/"):
            routes.add("GET", path, self.list_functions)

    @staticmethod
    def _off_loop(build: Callable[[], dict[str, Any]]) -> Awaitable[Reply]:
        async def answer() -> Reply:
            try:
                return _json(await asyncio.to_thread(build))
            except LambdaApiError as error:
                return service_error(error.status, error.error_type, error.message)
        return answer()

    def get_function_configuration(self, request: Request) -> Awaitable[Reply]:
        def build() -> dict[str, Any]:
            project, account = self.local.project, self.local.account_id
            function = requested_function(project, account, request, action="lambda:GetFunctionConfiguration",
                                          latest_when_unqualified=False)
            return function_configuration(project, account, function)
        return self._off_loop(build)

    def get_function(self, request: Request) -> Awaitable[Reply]:
        def build() -> dict[str, Any]:
            project, account = self.local.project, self.local.account_id
            function = requested_function(project, account, request, action="lambda:GetFunction",
                                          latest_when_unqualified=False)
            document: dict[str, Any] = {
                "Configuration": function_configuration(project, account, function),
                # No Location: the code is the project folder here, not a zip in S3 to download.
                "Code": {"RepositoryType": "S3"},
            }
            function_tags = tags(project, function)
            if function_tags:
                document["Tags"] = function_tags
            return document
        return self._off_loop(build)

    def list_functions(self, request: Request) -> Awaitable[Reply]:
        def build() -> dict[str, Any]:
            max_items = _max_items(query_parameter(request, "MaxItems"))
            project, account = self.local.project, self.local.account_id
            functions = sorted(project.functions.values(), key=lambda function: function.name)
            start = _after(query_parameter(request, "Marker"), [function.name for function in functions])
            page = functions[start:start + max_items]
            builder = ExecutionEnvironmentBuilder(project)  # functions sharing the service zip measure it once
            document: dict[str, Any] = {
                "Functions": [function_configuration(project, account, function, builder=builder)
                              for function in page]}
            if start + max_items < len(functions):
                document["NextMarker"] = _marker(page[-1].name)
            return document
        return self._off_loop(build)


def _max_items(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_MAX_ITEMS
    try:
        number = int(value)
    except ValueError:
        raise LambdaApiError(400, "InvalidParameterValueException", f"MaxItems must be a number: {value!r}") from None
    if not 1 <= number <= MAX_ITEMS:
        bound = "greater than or equal to 1" if number < 1 else f"less than or equal to {MAX_ITEMS}"
        raise LambdaApiError(400, "ValidationException",
                             f"1 validation error detected: {constraint(value, 'maxItems', f'have value {bound}')}")
    return number


def _marker(last_name: str) -> str:
    """An opaque marker: where the next page starts (after this function name)."""
    return base64.urlsafe_b64encode(json.dumps({"after": last_name}).encode()).decode()


def _after(marker: str | None, names: list[str]) -> int:
    """The index of the first function after ``marker`` in ``names`` (sorted), 0 without one."""
    if not marker:
        return 0
    try:
        after = json.loads(base64.urlsafe_b64decode(marker.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise LambdaApiError(400, "InvalidParameterValueException", "Invalid marker") from None
    if not isinstance(after, str):
        raise LambdaApiError(400, "InvalidParameterValueException", "Invalid marker")
    return sum(1 for name in names if name <= after)  # a function removed since still leaves the rest in order
