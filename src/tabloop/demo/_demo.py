"""``tabloop demo``: the loop, as far as it exists, on the embedded treatment-outcome scenario.

Runs offline in a fresh workspace folder: generate the data, write the situation-1
``tabloop.yaml``, profile, reject a deliberately broken batch, train and evaluate (KNN
imputation, three derived features, logistic regression + LightGBM + CatBoost), register
the champion in the embedded MLflow store, register a LightGBM-only challenger, predict new
patients, then serve champion and challenger as an A/B test: the test rows go through
``/predict``, their outcomes come back in two batches, and the A/B report is printed.
Situation 2 follows in a project of its own (:mod:`tabloop.demo._spend`): two teams' own
models (``spendmodels.py``) trained, registered and served as an A/B test sticky by
customer. Then situation 3 closes the loop in a third project (:mod:`tabloop.demo._stops`):
train on traffic stops, serve, monitor the production stream, retrain and promote.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SERVE_SECTION = """
# Added by `tabloop demo` once the challenger was registered: the A/B test it served.
serve:
  variants:
    A: models:/treatment@champion
    B: models:/treatment@challenger
  traffic: {A: 0.5, B: 0.5}
  sticky_by: patient_id
"""


def _tabloop_command() -> str:
    """How to call tabloop from any folder: the script beside this interpreter, if there."""
    script = Path(sys.executable).parent / "tabloop"
    return str(script.absolute()) if script.exists() else "tabloop"


def run_demo(
    directory: str | os.PathLike[str] = "tabloop-demo",
    *,
    n: int = 10_000,
    spend_n: int = 1_500,
    stops_n: int = 20_000,
    stops_production: int = 6_000,
    echo: Callable[[str], Any] = print,
) -> dict[str, Path]:
    """Run the demo in ``directory`` and return the paths of what it wrote.

    Examples
    --------
    >>> from tabloop import run_demo
    >>> paths = run_demo("/tmp/tabloop-demo", n=2_000, echo=lambda s: None)  # doctest: +SKIP
    """
    from tabloop.config import load_config
    from tabloop.data import infer_schema, load_training_data, profile, validate
    from tabloop.examples import scenario_config, treatment_outcomes

    root = Path(directory)
    (root / "data").mkdir(parents=True, exist_ok=True)
    reports = root / "reports"
    paths: dict[str, Path] = {}
    first, later = 8, 2 + 5  # situation 1's steps; situation 2's, then situation 3's
    steps = first + later

    echo(f"[bold]1/{steps} data[/]: generating treatment_outcomes (situation 1)")
    paths["data"] = root / "data" / "treatment_outcomes.csv"
    everyone = treatment_outcomes(n=n + 20)
    everyone.iloc[:n].to_csv(paths["data"], index=False)
    new_patients = everyone.iloc[n:].drop(columns="unsuccessful_outcome")
    echo(f"      {n:,} patients → {paths['data']}")

    echo(f"[bold]2/{steps} project[/]: the situation-1 tabloop.yaml (KNN imputation, 3 formulas)")
    paths["config"] = root / "tabloop.yaml"
    paths["config"].write_text(scenario_config("treatment"), encoding="utf-8")
    config = load_config(paths["config"])
    echo(f"      task {config.task or 'inferred'}, models {', '.join(config.train.models)}")

    echo(f"[bold]3/{steps} profile[/]: types, missing values, correlations, groups, leakage")
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

    echo(f"[bold]4/{steps} schema[/]: a batch of new cases with mistakes in it is rejected")
    schema = infer_schema(df, target=config.data.target, id=config.data.id)
    paths["schema"] = schema.save(reports / "schema.json")
    batch = new_patients.head(5).astype({"age": object, "course": object})
    batch.loc[batch.index[1], "age"] = "forty"
    batch.loc[batch.index[3], "course"] = "yoga"
    batch = batch.rename(columns={"sign_ins": "signins"})
    report = validate(batch, schema)
    paths["validation"] = reports / "validation.json"
    paths["validation"].write_text(json.dumps(report.to_dict(), indent=2, default=str))
    for problem in report.problems:
        echo(f"      • {problem.severity}: {problem.message}")

    echo(f"[bold]5/{steps} train[/]: 5-fold CV on 80%, evaluate on the untouched 20%, register")
    from tabloop.demo._service import registered
    from tabloop.workflows import summary_lines, train_and_register

    run = train_and_register(config, df=df, out_dir=reports)
    for line in summary_lines(run):
        echo(f"      {line}")
    paths.update(evaluation_html=run.reports["html"], evaluation_json=run.reports["json"])
    version = registered(run)
    echo(f"      registered {version.uri} as {', '.join(version.aliases)}")

    echo(f"[bold]6/{steps} challenger[/]: LightGBM alone, registered beside the champion")
    challenger = config.model_copy(
        update={"train": config.train.model_copy(update={"models": ["lightgbm"]})}
    )
    second = train_and_register(challenger, df=df, out_dir=reports / "challenger")
    version = registered(second)
    echo(f"      registered {version.uri} as {', '.join(version.aliases)}")

    echo(f"[bold]7/{steps} predict[/]: new patients scored by the champion")
    from tabloop.registry import predict

    scored = predict(new_patients, config=config)
    paths["predictions"] = reports / "predictions.csv"
    scored.to_csv(paths["predictions"], index=False)
    shown = scored[["patient_id", "prediction", "probability"]].head(3)
    for row in shown.itertuples(index=False):
        echo(f"      patient {row[0]}: prediction {row[1]}, probability {row[2]:.3f}")

    echo(f"[bold]8/{steps} serve[/]: champion (A) vs challenger (B), 50/50 by patient_id")
    from tabloop.demo._service import report_lines, run_ab_test

    with paths["config"].open("a", encoding="utf-8") as file:
        file.write(SERVE_SECTION)
    assert config.data.target is not None  # the demo's project names its target
    ab = run_ab_test(root, run.result.test, target=config.data.target, echo=echo)
    paths["ab_report"] = reports / "ab_report.json"
    paths["ab_report"].write_text(json.dumps(ab, indent=2))
    for line in report_lines(ab):
        echo(f"      {line}")

    stops_root, spend_root = root / "stops", root / "spend"
    counter = iter(range(first + 1, steps + 1))

    def step(name: str) -> str:
        return f"[bold]{next(counter)}/{steps} {name}[/]"

    echo("\n[bold]Situation 2, two teams' own models[/] (a project in " + str(spend_root) + ")")
    from tabloop.demo._spend import run_spend_ab

    paths.update(run_spend_ab(spend_root, n=spend_n, echo=echo, step=step))

    echo("\n[bold]Situation 3, the whole loop[/] (a third project in " + str(stops_root) + ")")
    from tabloop.demo._stops import run_stops_loop

    paths.update(
        run_stops_loop(stops_root, n=stops_n, n_production=stops_production, echo=echo, step=step)
    )

    echo("\n[bold green]Done.[/] Where to look:")
    echo(f"  evaluation report  {paths['evaluation_html']}  (open in a browser; works offline)")
    echo(f"  evaluation numbers {paths['evaluation_json']}")
    echo(f"  profile report     {paths['profile_html']}")
    echo(f"  profile numbers    {paths['profile_json']}")
    echo(f"  predictions        {paths['predictions']}")
    echo(f"  A/B report         {paths['ab_report']}  (service log: {reports / 'service.log'})")
    echo(f"  own models A/B     {paths['spend_ab_report']}  (two teams' spendmodels.py)")
    echo(f"  project file       {paths['config']}")
    echo(f"  schema             {paths['schema']}")
    echo(f"  validation         {paths['validation']}")
    echo(f"  MLflow store       {(root / '.tabloop' / 'mlflow.db')}")
    echo(f"  prediction log     {(root / '.tabloop' / 'log.db')}")
    echo(f"  monitoring report  {paths['monitor_html']}  (+ {paths['monitor_json'].name})")
    echo(f"  retraining report  {paths['retrain_html']}  (+ {paths['retrain_json'].name})")
    cli = _tabloop_command()
    echo(
        f"Next: `cd {root} && {cli} models` lists the registered versions; "
        f"`{cli} predict data/treatment_outcomes.csv -o scored.csv` scores a file; "
        f"`{cli} serve` starts the A/B service again (dashboard at /dashboard). "
        f"In {stops_root}: `{cli} models` shows the promoted champion; "
        f"`{cli} monitor --model models:/stops/1 --chunk 1000` monitors the first one's "
        "production rows again (the new champion has served none yet)."
    )
    return paths
