"""`scaffold serve` as a user runs it: the routes it prints at start-up, and `--watch` applying real edits (code:
the environment is recycled and the next request cold-starts; serverless.yml: routes come and go; a broken one is
refused and the previous configuration keeps serving), each said in one log line. Every wait has a deadline."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from .conftest import edit_config, read_until
from .test_frontdoor_serve import routed_project

DEADLINE_S = 30.0


class Serve:
    """`scaffold serve` in a process group of its own, its start-up lines read, its log in a file."""

    def __init__(self, project: Path, log: Path, *args: str) -> None:
        self.log = log
        with open(log, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "runtime_scaffold", "serve", "--project", str(project), "--port", "0",
                 *args], stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        self.banner = read_until(self.process, rb"(?s)Local Lambda.*Press Ctrl-C to stop\.", timeout=60)
        self.base = re.findall(r"listening on (http://\S+)", self.banner)[0]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, needle: str, *, after: int = 0) -> str:
        """The first log line holding ``needle`` after the first ``after`` characters of the log."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            for line in self.log_text()[after:].splitlines():
                if needle in line:
                    return line
            time.sleep(0.05)
        pytest.fail(f"no log line with {needle!r} within {DEADLINE_S:.0f} s:\n{self.log_text()}")

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = routed_project(tmp_path / "p")
    # The bootstrap reads a file at init, as a handler is loaded once per environment: a change shows only
    # after the environment is recycled.
    bootstrap = root / "runtime" / "bootstrap"
    text = bootstrap.read_text().replace(
        "while True:", 'version = open("version.txt").read().strip()\nwhile True:', 1).replace(
        '"headers": {"content-type": "application/json"}', '"headers": {"x-version": version}')
    bootstrap.write_text(text)
    (root / "version.txt").write_text("one\n")
    return root


@pytest.fixture
def serve(project: Path, tmp_path: Path) -> Iterator[Serve]:
    server = Serve(project, tmp_path / "serve.err", "--watch")
    try:
        yield server
    finally:
        server.close()


def test_serve_prints_each_route_and_what_it_does_not_serve(serve: Serve) -> None:
    base = serve.base
    assert f"GET     {base}/pets/{{id}}  ->  pets (HTTP API, payload 2.0)" in serve.banner
    assert f"ANY     {base}/pets  ->  pets (HTTP API, payload 2.0)" in serve.banner
    assert f"POST    {base}/dev/items/{{name}}  ->  items (REST API, payload 1.0)" in serve.banner
    url = re.findall(r"URL     (http://\S+)  ->  site \(function URL, payload 2.0\)", serve.banner)
    assert url and url[0] != f"{base}/"
    assert "not served: items: http event GET /legacy uses the 'lambda' integration" in serve.banner
    assert f"POST {base}/2015-03-31/functions/pets/invocations" in serve.banner  # the Invoke API as before
    assert "Watching " in serve.banner
    assert requests.get(f"{url[0]}x", timeout=DEADLINE_S).status_code == 200


def version_of(serve: Serve, path: str = "/pets/1") -> str:
    reply = requests.get(f"{serve.base}{path}", timeout=DEADLINE_S)
    assert reply.status_code == 200, reply.text
    return reply.headers["x-version"]


def test_a_code_change_recycles_the_environment(serve: Serve, project: Path) -> None:
    assert version_of(serve) == "one"
    mark = len(serve.log_text())
    (project / "version.txt").write_text("two\n")
    line = serve.wait_for_log("version.txt changed", after=mark)
    assert line == "scaffold: version.txt changed: 1 environment recycled; the next invocation starts cold"
    assert version_of(serve) == "two"  # no restart


def test_a_configuration_change_brings_new_routes_and_a_broken_one_is_refused(serve: Serve, project: Path) -> None:
    assert requests.get(f"{serve.base}/cats", timeout=DEADLINE_S).status_code == 404

    def add_cats(config: dict[str, Any]) -> None:
        config["functions"]["pets"]["events"].append({"httpApi": "GET /cats"})

    mark = len(serve.log_text())
    edit_config(project, add_cats)
    line = serve.wait_for_log("serverless.yml changed", after=mark)
    assert "configuration re-read; route added: GET /cats" in line, line
    assert version_of(serve, "/cats") == "one"

    mark = len(serve.log_text())
    (project / "serverless.yml").write_text((project / "serverless.yml").read_text() + "  bad: [unclosed\n")
    line = serve.wait_for_log("serverless.yml changed", after=mark)
    assert "but the configuration does not load" in line and "still serving the previous one" in line, line
    assert version_of(serve, "/cats") == "one"  # the previous configuration serves on

    def greedy_mid_path(config: dict[str, Any]) -> None:
        config["functions"]["pets"]["events"] = [{"httpApi": "GET /{proxy+}/tail"}]

    (project / "serverless.yml").write_text(routed_project_text(project))
    mark = len(serve.log_text())
    edit_config(project, greedy_mid_path)
    line = serve.wait_for_log("does not load", after=mark)
    assert "greedy variable" in line, line
    assert version_of(serve, "/cats") == "one"


def routed_project_text(project: Path) -> str:
    """serverless.yml without the broken last line."""
    text = (project / "serverless.yml").read_text()
    return text.replace("  bad: [unclosed\n", "")
