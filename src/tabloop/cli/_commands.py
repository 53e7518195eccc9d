"""The verbs: init, profile, schema, validate, demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tabloop.cli._app import app
from tabloop.cli._output import console, print_profile_summary, print_validation

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="Project file (default: ./tabloop.yaml).")
]


@app.command()
def init(
    data: Annotated[Path, typer.Option("--data", help="CSV or Parquet file of historical cases.")],
    target: Annotated[
        str | None, typer.Option("--target", help="Column to predict (omit for clustering).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Project name.")] = None,
    directory: Annotated[Path, typer.Option("--dir", help="Where to write tabloop.yaml.")] = Path(
        "."
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented tabloop.yaml inferred from DATA."""
    from tabloop.config import init_project, load_config

    path = init_project(data, target=target, name=name, directory=directory, force=force)
    config = load_config(path)
    console.print(
        f"Wrote [bold]{path}[/] (project {config.name!r}, task {config.task}). "
        "Commands run in that folder now use it."
    )


@app.command()
def profile(
    data: Annotated[
        Path | None, typer.Argument(help="CSV/Parquet file (default: the project's data).")
    ] = None,
    target: Annotated[str | None, typer.Option("--target", help="Column to predict.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the reports.")] = None,
    by: Annotated[list[str] | None, typer.Option("--by", help="Group column (repeatable).")] = None,
    leakage_cutoff: Annotated[
        float | None,
        typer.Option(help="Flag a column whose ROC-AUC (R² for regression) alone reaches this."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Profile a table: types, missing values, target, correlations, groups, leakage.

    Writes profile.html (self-contained, opens offline) and profile.json (the same numbers).
    """
    from tabloop.config import ProfileConfig, load_config, load_training_data
    from tabloop.data import load_data
    from tabloop.data import profile as run_profile

    settings = ProfileConfig()
    id_column = None
    categorical: list[str] = []
    numeric: list[str] = []
    root = Path(".")
    if data is None:
        project = load_config(config)
        df = load_training_data(project)
        target = target or project.data.target
        id_column = project.data.id
        settings = project.profile
        categorical, numeric = project.features.categorical, project.features.numeric
        root = project.root
        title = f"Data profile: {project.name}"
    else:
        df = load_data(data)
        title = f"Data profile: {data.name}"
    result = run_profile(
        df,
        target=target,
        id=id_column,
        by=by or settings.by,
        categorical=categorical,
        numeric=numeric,
        leakage_cutoff=leakage_cutoff if leakage_cutoff is not None else settings.leakage_cutoff,
        correlation_threshold=settings.correlation_threshold,
        pure_segment_share=settings.pure_segment_share,
        min_segment_rows=settings.min_segment_rows,
        title=title,
    )
    paths = result.save(out or root / "reports")
    print_profile_summary(result.data)
    console.print(f"Report: [bold]{paths['html']}[/]\nJSON:   [bold]{paths['json']}[/]")


@app.command()
def schema(
    data: Annotated[
        Path | None, typer.Argument(help="CSV/Parquet file (default: the project's data).")
    ] = None,
    target: Annotated[str | None, typer.Option("--target", help="Target column.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the schema as JSON here.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Infer and show the schema of a table (kinds, missing values, categories, ranges)."""
    from tabloop.cli._output import print_schema

    inferred = _project_schema(data, target, config)
    if out:
        inferred.save(out)
        console.print(f"Schema written to [bold]{out}[/]")
    print_schema(inferred)


@app.command()
def validate(
    data: Annotated[Path, typer.Argument(help="CSV/Parquet file to check.")],
    schema_file: Annotated[
        Path | None,
        typer.Option("--schema", help="Schema JSON (default: inferred from the project's data)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Check a table against a schema; exit 1 when it has errors."""
    from tabloop.data import Schema, load_data
    from tabloop.data import validate as run_validate

    reference = Schema.load(schema_file) if schema_file else _project_schema(None, None, config)
    report = run_validate(load_data(data), reference, require_target=False)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print_validation(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Workspace folder.")] = Path(
        "tabloop-demo"
    ),
) -> None:
    """Run the loop on the embedded treatment-outcome scenario and say where to look."""
    from tabloop.demo import run_demo

    run_demo(directory, echo=console.print)


def _project_schema(data: Path | None, target: str | None, config: Path | None):
    from tabloop.config import load_config, load_training_data
    from tabloop.data import infer_schema, load_data

    if data is not None:
        return infer_schema(load_data(data), target=target)
    project = load_config(config)
    return infer_schema(
        load_training_data(project),
        target=target or project.data.target,
        id=project.data.id,
        time=project.data.time,
        categorical=project.features.categorical,
        numeric=project.features.numeric,
    )
