"""The committed example projects are exactly what `scaffold new` produces with default answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import LANGUAGES, REPO_ROOT, render
from .test_new import tree


@pytest.mark.parametrize("language", LANGUAGES)
def test_example_matches_a_fresh_render(tmp_path: Path, language: str) -> None:
    example = REPO_ROOT / "examples" / language
    fresh = render(language, tmp_path)
    committed = {name: value for name, value in tree(example).items() if not name.startswith(".serverless/")}
    assert committed == tree(fresh), f"examples/{language} is stale: run examples/regenerate.sh"
