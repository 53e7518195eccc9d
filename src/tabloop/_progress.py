"""Progress bars for long steps: drawn on a terminal, silent in logs, pipes and tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def track(items: Iterable[T], description: str, *, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a Rich progress bar when stderr is an interactive terminal."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from tabloop._settings import get_settings

    console = Console(stderr=True)
    if not (console.is_terminal and get_settings().progress):
        yield from items
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        yield from progress.track(items, total=total, description=description)


class Bars:
    """Several named progress bars at once (models, folds, trials); silent off a terminal.

    Use as a context manager; ``add`` returns a bar id, ``advance``/``update`` move it.
    """

    def __init__(self) -> None:
        from rich.console import Console

        from tabloop._settings import get_settings

        console = Console(stderr=True)
        self._progress: Any = None
        if console.is_terminal and get_settings().progress:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            )

    def __enter__(self) -> Bars:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def add(self, description: str, total: float | None) -> int:
        return self._progress.add_task(description, total=total) if self._progress else 0

    def advance(self, bar: int, step: float = 1) -> None:
        if self._progress is not None:
            self._progress.advance(bar, step)

    def update(self, bar: int, **fields: Any) -> None:
        if self._progress is not None:
            self._progress.update(bar, **fields)
