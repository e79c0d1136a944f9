"""GetFunction, GetFunctionConfiguration and ListFunctions through scaffold serve's Invoke API, as boto3 and the
JavaScript SDK (@aws-sdk/client-lambda, installed by .ci/run into tests/support/lambda-sdk) call and parse them."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from runtime_scaffold.emulator import LocalLambda, start_invoke_server

from .conftest import REPO_ROOT
from .emulator_fixtures import write_project

Factory = Callable[..., LocalLambda]
SDK = REPO_ROOT / "tests" / "support" / "lambda-sdk"
ACCOUNT = "123456789012"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "p", functions={"c": "c.handler", "a": "a.handler", "b": "b.handler"},
                         environment={"GREETING": "hi"}, timeout=9,
                         extra_files={"a.sh": "echo a\n", "notes.txt": "left out by package.patterns\n"})
    config = root / "serverless.yml"
    config.write_text(config.read_text() + "package:\n  patterns:\n    - '!notes.txt'\n"
                      "  individually: false\n")
    return root


@pytest.fixture
def endpoint(project: Path, local_lambda: Factory) -> Iterator[str]:
    server = start_invoke_server(local_lambda(project), host="127.0.0.1", port=0)
    yield f"http://{server.address}"
    server.close()


@pytest.fixture
def client(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> object:
    boto3 = pytest.importorskip("boto3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1")


def test_configuration_is_the_project_and_its_package(client: object, project: Path) -> None:
    configuration = client.get_function_configuration(FunctionName="a")  # type: ignore[attr-defined]
    configuration.pop("ResponseMetadata")
    assert {key: configuration[key] for key in (
        "FunctionName", "FunctionArn", "Runtime", "Handler", "MemorySize", "Timeout", "Environment", "Version",
        "State", "LastUpdateStatus", "PackageType", "Architectures", "Layers")} == {
        "FunctionName": "fixture-dev-a",
        "FunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fixture-dev-a",
        "Runtime": "provided.al2023", "Handler": "a.handler", "MemorySize": 256, "Timeout": 9,
        "Environment": {"Variables": {"GREETING": "hi"}}, "Version": "$LATEST", "State": "Active",
        "LastUpdateStatus": "Successful", "PackageType": "Zip", "Architectures": ["x86_64"],
        "Layers": [{"Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:runtime:1",
                    "CodeSize": configuration["Layers"][0]["CodeSize"]}],
    }
    # CodeSize and CodeSha256 are the zip's: what package.patterns leaves out does not count.
    code = (configuration["CodeSize"], configuration["CodeSha256"])
    assert code == _zip_of(project, ["a.sh"])
    assert configuration["Layers"][0]["CodeSize"] == _zip_of(project / "runtime", ["bootstrap"])[0]
    (project / "notes.txt").write_text("changed, still left out\n")
    assert _code(client, "a") == code
    (project / "a.sh").write_text("echo a, changed\n")
    assert _code(client, "a") == _zip_of(project, ["a.sh"]) != code


def _zip_of(root: Path, names: list[str]) -> tuple[int, str]:
    """A zip of the named files, as the test's independent measure of what the function zip holds."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(names):
            entry = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            entry.external_attr = ((root / name).stat().st_mode & 0o777 | 0o100000) << 16
            archive.writestr(entry, (root / name).read_bytes(), compress_type=zipfile.ZIP_DEFLATED)
    data = buffer.getvalue()
    return len(data), base64.b64encode(hashlib.sha256(data).digest()).decode()


def _code(client: object, name: str) -> tuple[int, str]:
    configuration = client.get_function_configuration(FunctionName=name)  # type: ignore[attr-defined]
    return configuration["CodeSize"], configuration["CodeSha256"]


def test_boto3_get_function_and_its_errors(client: object) -> None:
    described = client.get_function(FunctionName=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fixture-dev-b",  # type: ignore[attr-defined]
                                    Qualifier="$LATEST")
    assert described["Configuration"]["FunctionName"] == "fixture-dev-b"
    assert described["Code"]["RepositoryType"] == "S3"
    errors = client.exceptions  # type: ignore[attr-defined]
    with pytest.raises(errors.ResourceNotFoundException, match=r"function:nope$"):
        client.get_function(FunctionName="nope")  # type: ignore[attr-defined]
    with pytest.raises(errors.ResourceNotFoundException, match="function:fixture-dev-b:prod"):
        client.get_function_configuration(FunctionName="b", Qualifier="prod")  # type: ignore[attr-defined]


def test_boto3_lists_every_function_a_page_at_a_time(client: object) -> None:
    paginator = client.get_paginator("list_functions")  # type: ignore[attr-defined]
    pages = [[item["FunctionName"] for item in page["Functions"]]
             for page in paginator.paginate(PaginationConfig={"PageSize": 2})]
    assert pages == [["fixture-dev-a", "fixture-dev-b"], ["fixture-dev-c"]]
    first = client.list_functions(MaxItems=1)  # type: ignore[attr-defined]
    assert [item["FunctionName"] for item in first["Functions"]] == ["fixture-dev-a"]
    rest = client.list_functions(Marker=first["NextMarker"])  # type: ignore[attr-defined]
    assert [item["FunctionName"] for item in rest["Functions"]] == ["fixture-dev-b", "fixture-dev-c"]
    assert "NextMarker" not in rest
    assert all(item["State"] == "Active" for item in rest["Functions"])


def test_list_functions_refuses_a_bad_page_size_or_marker(endpoint: str) -> None:
    url = f"{endpoint}/2015-03-31/functions/"
    too_many = requests.get(url, params={"MaxItems": "10001"}, timeout=30)
    assert (too_many.status_code, too_many.headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert "'maxItems' failed to satisfy constraint: Member must have value less than or equal to 10000" in (
        too_many.json()["Message"])
    marker = requests.get(url, params={"Marker": "not a marker"}, timeout=30)
    assert (marker.status_code, marker.headers["x-amzn-ErrorType"]) == (400, "InvalidParameterValueException")
    assert requests.get(url.rstrip("/"), timeout=30).json()["Functions"][0]["FunctionName"] == "fixture-dev-a"


def test_the_javascript_sdk_parses_them(endpoint: str) -> None:
    script = SDK / "describe.mjs"
    if not (SDK / "node_modules" / "@aws-sdk" / "client-lambda").is_dir() or not shutil.which("node"):
        pytest.skip("@aws-sdk/client-lambda is not installed in tests/support/lambda-sdk (.ci/run installs it)")
    done = subprocess.run(["node", str(script), endpoint, "c"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["pages"] == [["fixture-dev-a", "fixture-dev-b"], ["fixture-dev-c"]]
    configuration = seen["configuration"]
    assert (configuration["FunctionName"], configuration["Handler"], configuration["Timeout"]) == (
        "fixture-dev-c", "c.handler", 9)
    assert configuration["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert configuration["Layers"][0]["Arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:runtime:1"
    assert seen["function"]["Configuration"] == configuration
    assert seen["missing"]["name"] == "ResourceNotFoundException" and seen["missing"]["status"] == 404
    assert seen["alias"]["message"] == (
        f"Function not found: arn:aws:lambda:us-east-1:{ACCOUNT}:function:fixture-dev-c:prod")
