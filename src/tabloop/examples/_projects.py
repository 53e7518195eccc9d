"""Whole example projects shipped with tabloop: a team's own model module, its
``tabloop.yaml`` files and generated data, ready for ``tabloop train``.

The files live once, as package data under ``projects/<name>/``; the repository's
``examples/<name>/`` folder links to them, and ``tabloop demo`` writes them with
:func:`example_project`, so the example a user reads is the code the demo runs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: The shipped projects: name -> (the data file tabloop.yaml reads, rows by default, fewest
#: rows the generator accepts).
PROJECTS = {"customer_spend": ("data/customer_spend.csv", 2_000, 10)}


def example_project(
    name: str, folder: str | os.PathLike[str], *, rows: int | None = None, seed: int = 0
) -> Path:
    """Write the example project ``name`` into ``folder`` (created if missing): its files
    (model module, ``tabloop.yaml``, ``challenger.yaml``) and its data, ``rows`` rows drawn
    with ``seed`` (``None``: the project's default). Returns the folder; ``cd`` there and
    run ``tabloop train``. An unknown ``name`` or too few ``rows`` raise ``ValueError``
    before anything is written.

    Examples
    --------
    >>> from tabloop.examples import example_project
    >>> root = example_project("customer_spend", "/tmp/spend", rows=500)  # doctest: +SKIP
    >>> sorted(p.name for p in root.iterdir())  # doctest: +SKIP
    ['challenger.yaml', 'data', 'spendmodels.py', 'tabloop.yaml']
    """
    from importlib.resources import as_file, files

    from tabloop.examples._common import check_size
    from tabloop.examples._spend import customer_spend

    if name not in PROJECTS:
        raise ValueError(
            f"name must be one of the example projects {sorted(PROJECTS)}; got {name!r}."
        )
    data, default_rows, fewest = PROJECTS[name]
    if rows is not None:
        check_size("rows", rows, fewest)
    frame = customer_spend(default_rows if rows is None else rows, seed=seed)
    root = Path(folder)
    (root / data).parent.mkdir(parents=True, exist_ok=True)
    with as_file(files("tabloop.examples") / "projects" / name) as shipped:
        for file in sorted(Path(shipped).iterdir()):
            if file.is_file() and file.suffix in (".py", ".yaml"):
                shutil.copyfile(file, root / file.name)
    frame.to_csv(root / data, index=False)
    return root
