"""Shared fixtures: fixture projects and a LocalLambda whose logs are collected instead of printed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtime_scaffold.emulator import LocalLambda
from runtime_scaffold.project import load_project


class LogCollector:
    """A log sink that keeps everything for assertions and can wait for a line."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._changed = threading.Condition()

    def __call__(self, data: bytes) -> None:
        with self._changed:
            self._data += data
            self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return self._data.decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: needle in self._data.decode("utf-8", "replace"), timeout)


@pytest.fixture
def logs() -> LogCollector:
    return LogCollector()


@pytest.fixture
def local_lambda(logs: LogCollector) -> Iterator[Callable[..., LocalLambda]]:
    """A factory: local_lambda(project_root, **options) -> an open LocalLambda, closed after the test."""
    opened: list[LocalLambda] = []

    def make(root: Path, **options: object) -> LocalLambda:
        local = LocalLambda(load_project(root), log_sink=logs, **options)  # type: ignore[arg-type]
        opened.append(local)
        return local

    yield make
    for local in opened:
        local.close()
