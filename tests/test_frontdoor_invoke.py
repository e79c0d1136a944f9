"""`scaffold invoke --env` and `--event-type api|http|url`: a real bootstrap receives the HTTP event the front
door builds, and the environment with the overrides, as `serverless invoke local` users expect."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from runtime_scaffold.cli import cli
from runtime_scaffold.errors import ExitCode

from .conftest import edit_config
from .emulator_fixtures import write_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    # The fixture bootstrap echoes an event it has no command for (an HTTP event), and answers {"env": true}
    # with its environment.
    root = write_project(tmp_path / "p", functions=("hello", "web"), environment={"GREETING": "Hello", "COLOR": "blue"})

    def add_routes(config: dict[str, Any]) -> None:
        config["functions"]["web"]["events"] = [{"httpApi": "GET /items/{id}"}, {"httpApi": "POST /items"},
                                                {"http": "POST forms/{name}"}]
        config["functions"]["web"]["url"] = True

    edit_config(root, add_routes)
    return root


def invoke(project: Path, *args: str) -> tuple[int, Any, str]:
    result = CliRunner().invoke(cli, ["invoke", *args, "--project", str(project)], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout) if result.exit_code == 0 else result.stdout, result.stderr


def test_env_sets_variables_over_the_functions_own(project: Path) -> None:
    code, out, _ = invoke(project, "web", "--env", "GREETING=Hi there", "-e", "EXTRA=a=b", "--data", '{"env": true}')
    assert code == 0, out
    assert (out["GREETING"], out["COLOR"], out["EXTRA"]) == ("Hi there", "blue", "a=b")
    code, out, _ = invoke(project, "web", "--data", '{"env": true}')
    assert out["GREETING"] == "Hello"  # nothing written back to the project
    code, out, _ = invoke(project, "web", "--event-type", "api", "--http-path", "/items/1", "--env", "GREETING=Hi")
    assert code == 0 and out["routeKey"] == "GET /items/{id}"  # --env and --event-type together


def test_http_api_event_from_the_shell(project: Path) -> None:
    code, event, err = invoke(project, "web", "--event-type", "api", "--http-path", "/items/7?q=a%20b&q=c",
                              "-H", "Cookie: s=1; t=2")
    assert code == 0, err
    assert (event["version"], event["routeKey"], event["rawPath"]) == ("2.0", "GET /items/{id}", "/items/7")
    assert event["pathParameters"] == {"id": "7"} and event["queryStringParameters"] == {"q": "a b,c"}
    assert event["cookies"] == ["s=1", "t=2"] and event["requestContext"]["http"]["method"] == "GET"
    assert event["headers"]["user-agent"] == "scaffold-invoke" and "body" not in event


def test_body_defaults_to_post_and_its_content_type_is_guessed(project: Path) -> None:
    code, event, _ = invoke(project, "web", "--event-type", "api", "--http-path", "/items", "--body", '{"a": 1}')
    assert code == 0
    assert event["routeKey"] == "POST /items" and event["headers"]["content-type"] == "application/json"
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)
    # A form, as a browser posts it, reaches an HTTP API base64-encoded (AWS's rule for non-text types).
    code, event, _ = invoke(project, "web", "--event-type", "api", "--http-path", "/items", "--body", "name=Ada")
    assert event["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"name=Ada"


def test_rest_api_event_with_or_without_the_stage(project: Path) -> None:
    for path in ("/forms/contact", "/dev/forms/contact"):
        code, event, err = invoke(project, "web", "--event-type", "http", "--http-path", path, "--body", "x=1",
                                  "--header", "Content-Type: text/plain")
        assert code == 0, err
        assert (event["resource"], event["path"], event["body"]) == ("/forms/{name}", "/forms/contact", "x=1")
        assert event["requestContext"]["path"] == "/dev/forms/contact"
        assert event["pathParameters"] == {"name": "contact"} and "version" not in event


def test_function_url_event_and_a_function_without_routes(project: Path) -> None:
    code, out, _ = invoke(project, "web", "--event-type", "url", "--http-path", "/any/where", "--method", "delete")
    assert code == 0
    assert out["requestContext"]["accountId"] == "anonymous"
    assert out["requestContext"]["http"]["method"] == "DELETE"
    # `hello` declares no HTTP events: it gets the catch-all its API would have.
    code, out, _ = invoke(project, "hello", "--event-type", "api", "--http-path", "/whatever")
    assert code == 0 and out["routeKey"] == "$default"
    code, out, _ = invoke(project, "hello", "--event-type", "http", "--http-path", "/a/b")
    assert code == 0 and out["resource"] == "/{proxy+}" and out["pathParameters"] == {
        "proxy": "a/b"}


@pytest.mark.parametrize(("args", "message"), [
    (["--method", "GET"], "--method describe an HTTP event: add --event-type api, http or url"),
    (["--event-type", "api", "--data", "{}"], "not both"),
    (["--event-type", "api", "--http-path", "/nope"],
     "GET /nope matches none of web's HTTP API routes (GET /items/{id}, POST /items)"),
    (["--event-type", "api", "--http-path", "items"], "must start with /"),
    (["--event-type", "api", "-H", "no colon"], "is not 'Name: value'"),
    (["--env", "NOEQUALS"], "is not KEY=VALUE"),
    (["--env", "1BAD=x"], "is not a valid variable name"),
    (["--env", "AWS_REGION=eu-west-1"], "Lambda sets AWS_REGION itself"),
])
def test_bad_options_are_one_line_errors(project: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["invoke", "web", *args, "--project", str(project)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
