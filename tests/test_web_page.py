"""Each template's `web` function serves its page: the real bootstrap answers the HTTP API event a browser's
request becomes, and the front door turns the answer into the page the browser shows (GET: the form; POST: the
greeting, escaped). The examples are exactly what `scaffold new` writes (test_examples.py)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from runtime_scaffold.cli import cli
from runtime_scaffold.frontdoor.responses import function_response
from runtime_scaffold.frontdoor.routes import read_routes
from runtime_scaffold.project import load_project

from .conftest import LANGUAGES, NPM_LANGUAGES, REPO_ROOT, interpreter_environment, require_tool

FORM = '<form method="post">'


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """A copy of the committed example of a language, with its interpreter at hand: the machine's php, or for Bun,
    Deno and Node (whose layer is not built in the example) the pinned binaries on PATH, as for a user who has
    them installed."""
    def copy(language: str) -> Path:
        if language == "php":
            require_tool("php")
        if language in NPM_LANGUAGES:
            monkeypatch.setenv("PATH", interpreter_environment(language)["PATH"])
        return Path(shutil.copytree(REPO_ROOT / "examples" / language, tmp_path / language, symlinks=True))
    return copy


def page(project: Path, *args: str) -> tuple[int, str, str]:
    """Invoke `web` with an HTTP API event; the page as the browser would get it: status, content type, HTML."""
    result = CliRunner().invoke(cli, ["invoke", "web", "--event-type", "api", *args, "--project", str(project)])
    assert result.exit_code == 0, result.output
    route = next(r for r in read_routes(load_project(project)).http_api if r.function == "web")
    response = function_response(route, result.stdout_bytes)
    return response.status, response.header("content-type") or "", response.body.decode()


@pytest.mark.parametrize("language", LANGUAGES)
def test_get_shows_the_form(language: str, example: Callable[[str], Path]) -> None:
    status, content_type, html = page(example(language))
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    assert FORM in html and 'name="name"' in html and "greeting" not in html.split("</style>")[1]
    assert f"the {language} custom" in html


@pytest.mark.parametrize("language", LANGUAGES)
def test_post_greets_the_name_escaped(language: str, example: Callable[[str], Path]) -> None:
    project = example(language)
    # What a browser posts for "Zoë <script>&'$&": a form body, which API Gateway hands over base64-encoded
    # (`$&` is what a JavaScript replacement string would turn into the matched text).
    status, _, html = page(project, "--body", "name=Zo%C3%AB+%3Cscript%3E%26%27%24%26")
    assert status == 200
    assert '<p class="greeting">Hello, Zoë &lt;script&gt;&amp;&#39;$&amp;!</p>' in html.replace("&#039;", "&#39;")
    assert "<script>" not in html and FORM in html


@pytest.mark.parametrize("language", ["bash", "php"])
def test_the_form_works_behind_a_function_url_too(language: str, example: Callable[[str], Path]) -> None:
    """Behind a URL (or a $default route) the route key is `$default` for every method: the handler must tell a
    post by requestContext.http.method."""
    project = example(language)
    config = project / "serverless.yml"
    config.write_text(config.read_text().replace("\n  web:\n", "\n  web:\n    url: true\n"))
    result = CliRunner().invoke(cli, ["invoke", "web", "--event-type", "url", "--body", "name=Ada",
                                      "--project", str(project)])
    assert result.exit_code == 0, result.output
    route = read_routes(load_project(project)).urls["web"]
    assert '<p class="greeting">Hello, Ada!</p>' in function_response(route, result.stdout_bytes).body.decode()


def test_routes_of_the_templates() -> None:
    for language in LANGUAGES:
        routes = read_routes(load_project(REPO_ROOT / "examples" / language))
        assert [(r.route_key, r.function, r.payload_version) for r in routes.http_api] == [
            ("GET /", "web", "2.0"), ("POST /", "web", "2.0")]
        assert not routes.rest_api and not routes.urls and not routes.skipped


@pytest.mark.parametrize("language", LANGUAGES)
def test_hello_is_unchanged_beside_web(language: str, example: Callable[[str], Path]) -> None:
    project = example(language)
    result = CliRunner().invoke(cli, ["invoke", "hello", "--data", '{"name": "Ada"}', "--project", str(project)])
    assert result.exit_code == 0 and json.loads(result.stdout) == {"message": "Hello, Ada!"}
