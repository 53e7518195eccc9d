"""``tabloop demo``: the loop, as far as it exists, on the embedded treatment-outcome scenario.

Runs offline in a fresh workspace folder: generate the data, write ``tabloop.yaml``, profile,
infer the schema, split, and validate a deliberately broken batch of new cases. Later stages
(train, serve, monitor, retrain) join here as they land.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _tabloop_command() -> str:
    """How to call tabloop from any folder: the script beside this interpreter, if there."""
    script = Path(sys.executable).parent / "tabloop"
    return str(script.absolute()) if script.exists() else "tabloop"


def run_demo(
    directory: str | os.PathLike[str] = "tabloop-demo",
    *,
    n: int = 10_000,
    echo: Callable[[str], Any] = print,
) -> dict[str, Path]:
    """Run the demo in ``directory`` and return the paths of what it wrote.

    Examples
    --------
    >>> from tabloop import run_demo
    >>> paths = run_demo("/tmp/tabloop-demo", n=2_000, echo=lambda s: None)  # doctest: +SKIP
    """
    from tabloop.config import init_project, load_config, load_training_data
    from tabloop.data import infer_schema, profile, split, validate
    from tabloop.examples import treatment_outcomes

    root = Path(directory)
    (root / "data").mkdir(parents=True, exist_ok=True)
    reports = root / "reports"
    paths: dict[str, Path] = {}

    echo("[bold]1/5 data[/]: generating treatment_outcomes (situation 1)")
    paths["data"] = root / "data" / "treatment_outcomes.csv"
    treatment_outcomes(n=n).to_csv(paths["data"], index=False)
    echo(f"      {n:,} patients → {paths['data']}")

    echo("[bold]2/5 init[/]: writing the project file from the data")
    paths["config"] = init_project(
        paths["data"], target="unsuccessful_outcome", name="treatment", directory=root, force=True
    )
    config = load_config(paths["config"])
    echo(f"      task {config.task}, id {config.data.id!r} → {paths['config']}")

    echo("[bold]3/5 profile[/]: types, missing values, correlations, groups, leakage")
    df = load_training_data(config)
    result = profile(
        df,
        target=config.data.target,
        id=config.data.id,
        by=["gender"],
        title="Data profile: treatment outcomes",
    )
    saved = result.save(reports)
    paths.update(profile_html=saved["html"], profile_json=saved["json"])
    for w in result.warnings[:6]:
        echo(f"      • {w['message']}")
    echo(f"      → {saved['html']}")

    echo("[bold]4/5 schema and split[/]")
    schema = infer_schema(df, target=config.data.target, id=config.data.id)
    paths["schema"] = schema.save(reports / "schema.json")
    train, test = split(
        df,
        target=config.data.target,
        strategy=config.split_strategy,
        test_size=config.split.test_size,
        seed=config.split.seed,
    )
    rate = config.data.target
    echo(
        f"      {config.split_strategy} split: {len(train):,} train "
        f"({train[rate].mean():.1%} positive) / {len(test):,} test "
        f"({test[rate].mean():.1%} positive); schema → {paths['schema']}"
    )

    echo("[bold]5/5 validate[/]: a batch of new cases with three mistakes in it")
    batch = (
        test.drop(columns=[config.data.target]).head(5).astype({"age": object, "course": object})
    )
    batch.loc[batch.index[1], "age"] = "forty"
    batch.loc[batch.index[3], "course"] = "yoga"
    batch = batch.rename(columns={"sign_ins": "signins"})
    report = validate(batch, schema)
    paths["validation"] = reports / "validation.json"
    paths["validation"].write_text(json.dumps(report.to_dict(), indent=2, default=str))
    for problem in report.problems:
        echo(f"      • {problem.severity}: {problem.message}")

    echo("\n[bold green]Done.[/] Where to look:")
    echo(f"  profile report   {paths['profile_html']}  (open in a browser; works offline)")
    echo(f"  profile numbers  {paths['profile_json']}")
    echo(f"  project file     {paths['config']}")
    echo(f"  schema           {paths['schema']}")
    echo(f"  validation       {paths['validation']}")
    echo(
        f"Next: `cd {root} && {_tabloop_command()} profile` re-runs the profile from tabloop.yaml."
    )
    return paths
