"""Every shell file a template produces passes shellcheck, and every PHP file passes `php -l`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import LANGUAGES, render, require_tool

SHEBANGS = (b"#!/bin/bash", b"#!/bin/sh", b"#!/usr/bin/env bash")


def shell_files(project: Path) -> list[Path]:
    return [p for p in project.rglob("*")
            if p.is_file() and (p.suffix == ".sh" or p.read_bytes().startswith(SHEBANGS))]


@pytest.mark.parametrize("language", LANGUAGES)
def test_shell_files_pass_shellcheck(tmp_path: Path, language: str) -> None:
    project = render(language, tmp_path)
    files = shell_files(project)
    assert files, "every template has at least one shell script (bootstrap or build script)"
    result = subprocess.run([require_tool("shellcheck"), "--severity=style", *map(str, files)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_php_files_pass_php_lint(tmp_path: Path) -> None:
    project = render("php", tmp_path)
    php = require_tool("php")
    files = [p for p in project.rglob("*") if p.is_file() and (p.suffix == ".php" or p.name == "bootstrap")]
    assert len(files) >= 2
    for path in files:
        result = subprocess.run([php, "-l", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, f"{path}: {result.stdout}{result.stderr}"
