"""AWS's Node.js runtime client (aws-lambda-ric@3, from npm) runs unchanged against the emulator.

.ci/run installs it into tests/support/node-ric (its native build needs autoconf, automake and libtool). Elsewhere
point AWS_LAMBDA_RIC_NODE at an installed `aws-lambda-ric` package folder, or these tests are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime_scaffold.emulator import LocalLambda

from .conftest import REPO_ROOT
from .emulator_fixtures import write_project

Factory = Callable[..., LocalLambda]

HANDLER = """\
export const handler = async (event, context) => {
  if (event.raise) { throw new TypeError("bad: " + event.raise); }
  if (event.sleep) { await new Promise((resolve) => setTimeout(resolve, event.sleep * 1000)); }
  console.log("handling", context.awsRequestId);
  return { got: event, remaining: context.getRemainingTimeInMillis(), arn: context.invokedFunctionArn,
           id: context.awsRequestId, trace: process.env._X_AMZN_TRACE_ID };
};
"""


def node_ric() -> Path:
    candidates = [Path(os.environ["AWS_LAMBDA_RIC_NODE"])] if os.environ.get("AWS_LAMBDA_RIC_NODE") else []
    candidates.append(REPO_ROOT / "tests" / "support" / "node-ric" / "node_modules" / "aws-lambda-ric")
    for candidate in candidates:
        if (candidate / "bin" / "index.mjs").is_file() and shutil.which("node"):
            return candidate / "bin" / "index.mjs"
    pytest.skip("aws-lambda-ric for Node is not installed (set AWS_LAMBDA_RIC_NODE)")


@pytest.fixture
def node_project(tmp_path: Path) -> Path:
    return write_project(
        tmp_path / "node",
        bootstrap=f'#!/bin/sh\nexec node {node_ric()} "$_HANDLER"\n',
        functions={"good": "index.handler", "broken": "broken.handler", "missing": "index.nope"},
        timeout=3,
        extra_files={"index.mjs": HANDLER, "package.json": '{"type": "module"}',
                     "broken.mjs": 'throw new Error("cannot init");\nexport const handler = async () => 1;\n'},
    )


def test_response_context_and_errors(node_project: Path, local_lambda: Factory) -> None:
    local = local_lambda(node_project)
    for number in range(2):
        result = local.invoke("good", json.dumps({"n": number}).encode())
        assert result.error_type is None, result.payload
        document = json.loads(result.payload)
        assert document["got"] == {"n": number} and document["id"] == result.request_id
        assert 0 < document["remaining"] <= 3000
        assert document["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:fixture-dev-good"
        assert document["trace"].startswith("Root=1-")
    failed = local.invoke("good", b'{"raise": "x"}')
    assert failed.function_error == "Unhandled"
    assert json.loads(failed.payload)["errorType"] == "TypeError"
    timed_out = local.invoke("good", b'{"sleep": 30}')
    assert timed_out.error_type == "Sandbox.Timedout"
    assert local.invoke("good", b"{}").error_type is None


def test_init_errors(node_project: Path, local_lambda: Factory) -> None:
    local = local_lambda(node_project)
    broken = json.loads(local.invoke("broken", b"{}").payload)
    assert (broken["errorType"], broken["errorMessage"]) == ("Error", "cannot init")
    missing = json.loads(local.invoke("missing", b"{}").payload)
    assert missing["errorType"] == "Runtime.HandlerNotFound"
