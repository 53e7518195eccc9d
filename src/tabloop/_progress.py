"""Progress bars for long steps: drawn on a terminal, silent in logs, pipes and tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

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
