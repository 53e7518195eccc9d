"""Fixtures of the training tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest


@pytest.fixture
def user_module(tmp_path, monkeypatch) -> Iterator[Callable[[str, str], ModuleType]]:
    """``make(name, source)``: a fresh importable module of the user's (``train.models:
    [name:Class]``), written to ``tmp_path`` and forgotten after the test."""
    names: list[str] = []

    def make(name: str, source: str) -> ModuleType:
        import importlib

        (tmp_path / f"{name}.py").write_text(source)
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.delitem(sys.modules, name, raising=False)
        names.append(name)
        return importlib.import_module(name)

    yield make
    for name in names:
        sys.modules.pop(name, None)
