"""Issue 10's end-to-end test: each example project (PHP, bash) exactly as `scaffold new` writes it, behind
`scaffold serve --watch`, opened in a real headless Chromium. The page shows the form, the form posts back and the
handler's answer is on the page; then the handler file is edited and the page, reloaded, shows the edit with no
restart of serve."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .browser import Chromium
from .conftest import REPO_ROOT, require_tool
from .test_frontdoor_watch import Serve

pytestmark = pytest.mark.slow

HANDLERS = {"php": "src/web.php", "bash": "web.sh"}


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    with Chromium(tmp_path_factory.mktemp("chromium") / "profile") as browser:
        yield browser


@pytest.mark.parametrize("language", ["php", "bash"])
def test_the_page_in_a_browser_then_an_edit_with_no_restart(language: str, chromium: Chromium,
                                                            tmp_path: Path) -> None:
    if language == "php":
        require_tool("php")
    project = Path(shutil.copytree(REPO_ROOT / "examples" / language, tmp_path / language, symlinks=True))
    serve = Serve(project, tmp_path / "serve.err", "--watch")
    try:
        page = chromium.new_page()
        page.goto(f"{serve.base}/")
        assert page.evaluate("document.title") == f"hello-{language}"
        assert page.text(".greeting") is None  # the form, no greeting yet
        page.evaluate("document.querySelector('#name').value = 'Zoë <b>'")
        page.navigating("document.querySelector('button[type=submit]').click()")
        assert page.text(".greeting") == "Hello, Zoë <b>!"  # the handler's answer, escaped: no <b> element
        assert page.evaluate("document.querySelector('.greeting b')") is None

        handler = project / HANDLERS[language]
        mark = len(serve.log_text())
        handler.write_text(handler.read_text().replace("Hello, ", "Welcome back, "))
        line = serve.wait_for_log(f"{HANDLERS[language]} changed", after=mark)
        assert "1 environment recycled" in line, line
        page.goto(f"{serve.base}/")
        page.evaluate("document.querySelector('#name').value = 'Ada'")
        page.navigating("document.querySelector('button[type=submit]').click()")
        assert page.text(".greeting") == "Welcome back, Ada!"
        assert serve.process.poll() is None  # the same serve all along
    finally:
        serve.close()
