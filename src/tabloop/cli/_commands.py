"""The verbs: init, profile, schema, validate, train, models, promote, rollback, predict, demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tabloop.cli._app import app
from tabloop.cli._output import console, err_console, print_profile_summary, print_validation

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="Project file (default: ./tabloop.yaml).")
]
ClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="Run on Dask: 'local:N' (N worker processes) or a scheduler 'tcp://host:8786' "
        "(default: scale.cluster, TABLOOP_CLUSTER, else this process).",
    ),
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
    from tabloop.config import load_config
    from tabloop.workflows import init_project

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
    from tabloop.config import ProfileConfig, load_config
    from tabloop.data import load_data, load_training_data
    from tabloop.data import profile as run_profile

    settings = ProfileConfig()
    id_column = None
    categorical: list[str] = []
    numeric: list[str] = []
    text: list[str] = []
    root = Path(".")
    if data is None:
        project = load_config(config)
        df = load_training_data(project)
        target = target or project.data.target
        from tabloop.prepare import missing_values_step

        missing = missing_values_step(project)
        if missing is not None:  # the declared codes are missing, as in training
            features = df.drop(columns=[target]) if target in df.columns else df
            df = df.assign(**missing.fit_transform(features))
        id_column = project.data.id
        settings = project.profile
        categorical, numeric = project.features.categorical, project.features.numeric
        text = project.features.text
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
        text=text,
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
    """Run the loop on the embedded scenarios (situations 1, 2, 3); say where to look."""
    from tabloop.demo import run_demo

    run_demo(directory, echo=console.print)


def _project_schema(data: Path | None, target: str | None, config: Path | None):
    from tabloop.config import load_config
    from tabloop.data import infer_schema, load_data, load_training_data

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
        text=project.features.text,
    )


@app.command()
def train(
    config: ConfigOption = None,
    time_budget: Annotated[
        float | None, typer.Option("--time-budget", help="Seconds for the whole run.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the reports.")] = None,
    no_register: Annotated[
        bool, typer.Option("--no-register", help="Evaluate only; do not log to MLflow.")
    ] = False,
    compare_imputation: Annotated[
        bool,
        typer.Option("--compare-imputation", help="Score every imputation strategy by CV."),
    ] = False,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="Train on Dask ('local:N' or 'tcp://host:8786'; sets train.engine: dask): "
            "the workers read data.train and fit LightGBM/XGBoost on every training row.",
        ),
    ] = None,
) -> None:
    """Train, evaluate on the held-out test split, and register the model in MLflow.

    With --cluster (or train.engine: dask) the workers read data.train, the models are
    cross-validated on a sample, and LightGBM/XGBoost is fitted on every training row
    across the workers.

    Exits 1 (after writing the reports) when a requirement of evaluate.requirements fails,
    or when no model beats the dummy baseline in cross-validation; such a model is
    registered without an alias and the last line on stderr says why. A model the time
    budget skipped is a warning on stderr.
    """
    from tabloop.config import load_config
    from tabloop.workflows import failure_line, summary_lines, train_and_register, warning_lines

    project = load_config(config)
    run = train_and_register(
        project,
        time_budget=time_budget,
        out_dir=out,
        register=not no_register,
        compare_imputation=compare_imputation,
        cluster=cluster,
    )
    for line in summary_lines(run):
        console.print(line, markup=False)
    console.print(f"Report: [bold]{run.reports['html']}[/]\nJSON:   [bold]{run.reports['json']}[/]")
    if run.version is not None and run.version.aliases:
        console.print(f"Registered [bold]{run.version.uri}[/] as {', '.join(run.version.aliases)}.")
    for line in warning_lines(run):
        err_console.print(line, markup=False, style="yellow")
    failure = failure_line(run)
    if failure is not None:
        err_console.print(failure, markup=False, style="bold red")
    if failure is not None or not run.evaluation.passed:
        raise typer.Exit(1)


@app.command()
def models(
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            metavar="NAMES",
            help="'all', or test metrics separated by commas (default: the selection "
            "metric, train.metric).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every version with all its metrics as JSON.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """List the registered versions of the project's model: aliases, the selection metric
    on the test split with its 95% interval, and when each was created."""
    from tabloop.cli._output import print_models
    from tabloop.config import load_config
    from tabloop.registry import list_versions

    project = load_config(config)
    versions = list_versions(project)
    selection: str | None = project.train.metric or next(
        (v["selection_metric"] for v in versions if v["selection_metric"]), None
    )
    if as_json:
        typer.echo(
            json.dumps(
                {"model": project.model_name, "selection_metric": selection, "versions": versions},
                indent=2,
            )
        )
        return
    known: list[str] = sorted({k for v in versions for k in v["metrics"]})
    first = [selection] if selection is not None else known[:1]
    shown: list[str]
    if metrics is None:
        shown = first
    elif metrics.strip() == "all":
        shown = first + [k for k in known if k not in first]
    else:
        shown = [m.strip() for m in metrics.split(",") if m.strip()]
        unknown = [m for m in shown if m not in known]
        if unknown or not shown:
            raise typer.BadParameter(
                f"{', '.join(map(repr, unknown)) or repr(metrics)} is not a test metric of "
                f"these versions; they have {', '.join(known)} (or 'all').",
                param_hint="--metrics",
            )
    print_models(project.model_name, versions, shown)


@app.command()
def promote(
    version: Annotated[int, typer.Argument(help="Model version to make the champion.")],
    config: ConfigOption = None,
) -> None:
    """Make VERSION the champion (the previous champion is kept for rollback)."""
    from tabloop.config import load_config
    from tabloop.registry import promote as run_promote

    project = load_config(config)
    info = run_promote(version, project)
    console.print(f"[bold]{info.uri}[/] is now the champion.")


@app.command()
def rollback(config: ConfigOption = None) -> None:
    """Give the champion alias back to the version that held it before the last promotion."""
    from tabloop.config import load_config
    from tabloop.registry import rollback as run_rollback

    project = load_config(config)
    info = run_rollback(project)
    console.print(f"[bold]{info.uri}[/] is the champion again.")


@app.command()
def predict(
    data: Annotated[
        str,
        typer.Argument(
            metavar="DATA", help="CSV/Parquet file, a folder of them, or a glob ('in/*.csv')."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="OUT",
            help="A .csv or .parquet file, or a folder (no suffix) of Parquet parts.",
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option("--model", help="models:/NAME@ALIAS or /VERSION (default: the champion)."),
    ] = None,
    config: ConfigOption = None,
    cluster: ClusterOption = None,
) -> None:
    """Append predictions to DATA and write OUT, in chunks (bounded memory), in this
    process or on a Dask cluster."""
    from tabloop.config import load_config
    from tabloop.registry import predict_file

    project = load_config(config) if model is None or config is not None else None
    done = predict_file(data, out, model=model, config=project, cluster=cluster)
    workers = f"{done['workers']} worker{'s' if done['workers'] != 1 else ''}"
    where = f" on {done['cluster']} ({workers})" if done["cluster"] else ""
    console.print(
        f"{done['rows']:,} rows predicted with {done['model']}{where} → [bold]{done['out']}[/]"
    )
    if done["without_history"]:  # features.lags read nothing for these rows
        err_console.print(
            f"warning: {done['without_history']:,} of {done['rows']:,} rows have no history "
            "for features.lags (every lag and window missing: an entity new to the model, or "
            "a period before its first row); they are forecast from the other features alone.",
            markup=False,
            style="yellow",
        )
