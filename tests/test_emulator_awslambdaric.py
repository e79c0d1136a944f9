"""AWS's own Python runtime client (awslambdaric) runs unchanged against the emulator."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime_scaffold.emulator import LocalLambda

from .emulator_fixtures import write_project

pytest.importorskip("awslambdaric")

Factory = Callable[..., LocalLambda]

HANDLER = '''\
import os, time

def fn(event, context):
    if event.get("raise"):
        raise ValueError("bad value: " + event["raise"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    print("handling", context.aws_request_id)
    return {
        "got": event,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "log_group": context.log_group_name,
    }
'''

BROKEN = 'raise RuntimeError("cannot initialise")\n'


@pytest.fixture
def ric_project(tmp_path: Path) -> Path:
    return write_project(
        tmp_path / "ric",
        bootstrap=f"#!/bin/sh\nexec {sys.executable} -m awslambdaric \"$_HANDLER\"\n",
        functions={"good": "handler.fn", "broken": "broken.fn", "missing": "handler.nope"},
        timeout=3,
        extra_files={"handler.py": HANDLER, "broken.py": BROKEN},
    )


def test_response_and_context(ric_project: Path, local_lambda: Factory) -> None:
    local = local_lambda(ric_project)
    for number in range(3):  # warm invocations go through the same client loop
        result = local.invoke("good", json.dumps({"n": number}).encode())
        assert result.error_type is None, result.payload
        document = json.loads(result.payload)
        assert document["got"] == {"n": number}
        assert 0 < document["remaining_ms"] <= 3000
        assert document["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:fixture-dev-good"
        assert document["request_id"] == result.request_id
        assert document["function_name"] == "fixture-dev-good"
        assert document["memory"] == "256"
        assert document["trace"].startswith("Root=1-")
        assert document["log_group"] == "/aws/lambda/fixture-dev-good"


def test_handler_exception(ric_project: Path, local_lambda: Factory) -> None:
    local = local_lambda(ric_project)
    result = local.invoke("good", b'{"raise": "nope"}')
    assert result.function_error == "Unhandled"
    error = json.loads(result.payload)
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "bad value: nope"
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]
    assert local.invoke("good", b"{}").error_type is None  # still warm and serving


def test_init_error_at_import(ric_project: Path, local_lambda: Factory) -> None:
    local = local_lambda(ric_project)
    result = local.invoke("broken", b"{}")
    error = json.loads(result.payload)
    assert result.function_error == "Unhandled"
    assert error["errorType"] == "RuntimeError"  # what Lambda reports for an exception at import
    assert "cannot initialise" in error["errorMessage"]
    again = local.invoke("broken", b"{}")  # Lambda retries init on the next invoke
    assert json.loads(again.payload)["errorType"] == error["errorType"]


def test_missing_handler_function(ric_project: Path, local_lambda: Factory) -> None:
    result = local_lambda(ric_project).invoke("missing", b"{}")
    error = json.loads(result.payload)
    assert error["errorType"] == "Runtime.HandlerNotFound"
    assert "nope" in error["errorMessage"]


def test_timeout(ric_project: Path, local_lambda: Factory) -> None:
    local = local_lambda(ric_project)
    result = local.invoke("good", b'{"sleep": 30}')
    assert result.error_type == "Sandbox.Timedout"
    assert "Task timed out after 3.00 seconds" in json.loads(result.payload)["errorMessage"]
    assert local.invoke("good", b'{"n": 1}').error_type is None
