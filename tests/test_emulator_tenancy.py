"""Tenant isolation: X-Amz-Tenant-Id reaches the runtime, environments are never shared between tenants, and the
tenants' environments together are bounded."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from runtime_scaffold.emulator import LocalLambda, start_invoke_server
from runtime_scaffold.emulator.tenancy import InvalidTenantId, check_tenant_id
from runtime_scaffold.errors import InvalidInput

from .conftest import LogCollector, wait_dead
from .emulator_fixtures import write_project

Factory = Callable[..., LocalLambda]

# Answers each event with its pid and the tenant header of /next; {"sleep": S} first sleeps S seconds.
BOOTSTRAP = textwrap.dedent('''\
    import http.client, json, os, time
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    while True:
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        reply = conn.getresponse()
        event = json.loads(reply.read())
        time.sleep(event.get("sleep", 0))
        out = {"pid": os.getpid(), "tenant": reply.getheader("Lambda-Runtime-Aws-Tenant-Id")}
        rid = reply.getheader("Lambda-Runtime-Aws-Request-Id")
        conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", json.dumps(out))
        conn.getresponse().read()
''')


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "tenants", bootstrap=BOOTSTRAP, timeout=5)


@pytest.fixture
def base(project: Path, local_lambda: Factory) -> Iterator[str]:
    server = start_invoke_server(local_lambda(project), host="127.0.0.1", port=0)
    yield f"http://{server.address}/2015-03-31/functions/hello/invocations"
    server.close()


def answer(local: LocalLambda, tenant: str | None, payload: bytes = b"{}") -> dict[str, object]:
    result = local.invoke("hello", payload, tenant_id=tenant)
    assert result.error_type is None, result.payload
    return json.loads(result.payload)  # type: ignore[no-any-return]


@pytest.mark.parametrize("value", ["blue", "BlueTenant", "a.b_c:d/e=f+g-h@i j", "x" * 256, "7"])
def test_tenant_ids_lambda_accepts(value: str) -> None:
    assert check_tenant_id(value) == value


@pytest.mark.parametrize(("value", "why"), [
    ("", "empty"), ("x" * 257, "257 characters"), ("a\nb", "only letters"), ("a\rb", "only letters"),
    ("a\x00b", "only letters"), ("é", "only letters"), ("a;b", "only letters"), ("a,b", "only letters"),
])
def test_tenant_ids_lambda_refuses(value: str, why: str) -> None:
    with pytest.raises(InvalidTenantId, match=why):
        check_tenant_id(value)


def test_the_tenant_reaches_the_runtime_and_the_report_line(project: Path, local_lambda: Factory,
                                                          logs: LogCollector) -> None:
    local = local_lambda(project)
    assert answer(local, "blue")["tenant"] == "blue"
    assert answer(local, None)["tenant"] is None  # no header at all without a tenant
    reports = [line for line in logs.text.splitlines() if line.startswith("REPORT ")]
    assert reports[0].endswith("\tTenant Id: blue") and "Tenant Id" not in reports[1]
    with pytest.raises(InvalidInput, match="only letters"):
        local.invoke("hello", b"{}", tenant_id="bad\r\nX-Injected: 1")


def test_environments_are_never_shared_between_tenants(project: Path, local_lambda: Factory) -> None:
    local = local_lambda(project)
    blue, green, blue_again, untenanted = (answer(local, tenant) for tenant in ("blue", "green", "blue", None))
    assert blue["pid"] == blue_again["pid"]  # warm for its own tenant
    assert len({blue["pid"], green["pid"], untenanted["pid"]}) == 3


def test_each_tenant_is_bounded_by_the_functions_concurrency(project: Path, local_lambda: Factory) -> None:
    local = local_lambda(project, concurrency=1)
    events = [("blue", b'{"sleep": 0.5}'), ("blue", b'{"sleep": 0.5}'), ("green", b'{"sleep": 0.5}')]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda pair: answer(local, *pair), events))
    assert answers[0]["pid"] == answers[1]["pid"] != answers[2]["pid"]  # blue's two took turns in one environment
    assert [len(local.pool(local.function("hello"), tenant).sandboxes) for tenant in ("blue", "green")] == [1, 1]


def test_idle_tenants_environments_are_retired_past_the_bound(project: Path, local_lambda: Factory) -> None:
    local = local_lambda(project, tenant_environments=2)
    first = answer(local, "a")
    answer(local, "b")
    answer(local, "c")  # a third environment: the least recently used tenant's is retired
    assert wait_dead(int(str(first["pid"])))
    tenants = local.tenants(local.function("hello"))
    assert tenants is not None and tenants.tenants == ["b", "c"] and tenants.environments() == 2
    assert answer(local, "a")["pid"] != first["pid"]  # a comes back cold


def test_the_invoke_api_takes_the_tenant_header_and_refuses_a_bad_one(base: str) -> None:
    reply = requests.post(base, data=b"{}", headers={"X-Amz-Tenant-Id": "blue", "X-Amz-Log-Type": "Tail"},
                          timeout=30)
    assert reply.status_code == 200 and reply.json()["tenant"] == "blue"
    assert "\tTenant Id: blue" in base64.b64decode(reply.headers["X-Amz-Log-Result"]).decode()
    for bad in ("x" * 257, "semi;colon"):
        refused = requests.post(base, data=b"{}", headers={"X-Amz-Tenant-Id": bad}, timeout=30)
        assert refused.status_code == 400
        assert refused.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"
    event = requests.post(base, data=b"{}", headers={"X-Amz-Tenant-Id": "blue", "X-Amz-Invocation-Type": "Event"},
                          timeout=30)
    assert event.status_code == 202


def test_boto3_tenant_id(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    boto3 = pytest.importorskip("boto3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("lambda", endpoint_url=base.split("/2015-03-31")[0], region_name="us-east-1")
    blue = json.loads(client.invoke(FunctionName="hello", Payload=b"{}", TenantId="blue")["Payload"].read())
    green = json.loads(client.invoke(FunctionName="hello", Payload=b"{}", TenantId="green")["Payload"].read())
    assert (blue["tenant"], green["tenant"]) == ("blue", "green") and blue["pid"] != green["pid"]
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.invoke(FunctionName="hello", Payload=b"{}", TenantId="not;valid")


def test_json_records_carry_the_tenant_in_managed_instances(project: Path, local_lambda: Factory,
                                                            logs: LogCollector) -> None:
    local = local_lambda(project, max_concurrency=2)
    answer(local, "blue")
    records = [json.loads(line) for line in logs.text.splitlines() if line.startswith('{"time"')]
    assert {record["type"]: record["record"].get("tenantId") for record in records} == {
        "platform.start": "blue", "platform.report": "blue"}
