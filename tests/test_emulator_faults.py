"""Review findings on the emulator's failure paths: cut-off posts, shutdown mid-invocation, the REPORT line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime_scaffold.emulator import LocalLambda

from .emulator_fixtures import write_project

Factory = Callable[..., LocalLambda]


@pytest.mark.parametrize("cut", ["length", "chunked"])
def test_a_cut_off_response_is_not_a_success(tmp_path: Path, local_lambda: Factory, logs: object,
                                             cut: str) -> None:
    local = local_lambda(write_project(tmp_path / "p", timeout=10))
    result = local.invoke(None, json.dumps({"cut": cut}).encode())
    assert result.error_type == "Runtime.ExitError", result.payload
    assert "cut post: HTTP/1.1 400" in logs.text  # type: ignore[attr-defined]
