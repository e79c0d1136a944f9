"""Which function `scaffold conform` checks when none is named: the only one, or the first when all of them run
the same bootstrap (the templates' hello and web share one layer), else the user must name one."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime_scaffold.conformance import conformance_function
from runtime_scaffold.errors import ProjectError
from runtime_scaffold.project import load_project

from .conftest import REPO_ROOT, edit_config
from .emulator_fixtures import write_project


def test_the_templates_two_functions_share_a_bootstrap() -> None:
    for language in ("bash", "php"):
        project = load_project(REPO_ROOT / "examples" / language)
        assert list(project.functions) == ["hello", "web"]
        assert conformance_function(project, None).key == "hello"
        assert conformance_function(project, "web").key == "web"


def test_functions_on_different_bootstraps_must_be_named(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", functions=("one", "two"))
    edit_config(root, lambda config: config["functions"]["two"].update(layers=[]))
    project = load_project(root)
    with pytest.raises(ProjectError, match="declares several functions"):
        conformance_function(project, None)
    assert conformance_function(project, "two").key == "two"
