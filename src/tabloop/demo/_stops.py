"""The demo's closing loop: situation 3 (contraband searches) from training to promotion.

Train on all stops, serve the champion, send the production stream (stops drawn toward the
suspicious ones), upload outcomes for the searched half, monitor (precision shift, the
population shift of the search authorization code, per-department fairness gaps with the
officers' own decisions as a baseline), retrain on searched stops plus the labelled
production rows, promote only if proven better, and have the running service pick the new
champion up without a restart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Columns a request carries: the stop's id, what the model reads, and the context logged.
CONTEXT = ["department", "race", "ethnicity", "sex", "searched", "search_authorization"]


def run_stops_loop(
    root: Path,
    *,
    n: int,
    n_production: int,
    echo: Callable[[str], Any],
    step: Callable[[str], str],
) -> dict[str, Path]:
    """Run the loop in ``root`` (a project folder of its own); return the report paths."""
    from tabloop.config import load_config
    from tabloop.demo._service import call, predict_rows, registered, running_service
    from tabloop.examples import scenario_config, traffic_stops
    from tabloop.monitor import monitor
    from tabloop.retrain import retrain
    from tabloop.workflows import summary_sections, train_and_register

    reports = root / "reports"
    (root / "data").mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}

    echo(step("stops data") + f": {n:,} traffic stops for training, {n_production:,} later ones")
    stops = traffic_stops(n)
    stops["found"] = stops["contraband"].fillna(False).astype(bool)
    stops.to_csv(root / "data" / "stops.csv", index=False)
    production = traffic_stops(n_production, production=True)
    (root / "tabloop.yaml").write_text(scenario_config("stops"), encoding="utf-8")
    config = load_config(root / "tabloop.yaml")
    echo(
        f"      searched {stops['searched'].mean():.0%} of training stops, "
        f"{production['searched'].mean():.0%} of production stops (suspicious ones reach it)"
    )

    echo(step("train") + ": all stops, target 'contraband found' (false when not searched)")
    run = train_and_register(config, df=stops, out_dir=reports)
    for line in first_lines(summary_sections(run)):
        echo(f"      {line}")
    version = registered(run)
    echo(f"      registered {version.uri} as {', '.join(version.aliases)}")

    echo(step("serve") + ": the champion answers the production stream; context is logged")
    features = list(run.result.model.inputs)
    request = production[["stop_id", *features, *CONTEXT]]
    with running_service(root, echo=echo, log_name="service.log") as base:
        rows = json.loads(request.to_json(orient="records"))
        answers = predict_rows(base, rows)
        searched = production["searched"].to_numpy()
        truth = production["contraband"].to_numpy()
        items = [
            {"prediction_id": a["prediction_id"], "value": bool(truth[i])}
            for i, a in enumerate(answers)
            if searched[i]
        ]
        call(base, "/outcomes", {"outcomes": items})
        echo(
            f"      {len(answers):,} stops predicted; outcomes uploaded for the {len(items):,} "
            "searched ones (contraband is only known after a search)"
        )

        echo(step("monitor") + ": production vs test, population, fairness, requirements")
        report = monitor(config, chunk="1000")
        paths.update({f"monitor_{k}": v for k, v in report.save(reports).items()})
        for line in monitor_lines(report.to_dict()):
            echo(f"      {line}")

        echo(step("retrain") + ": searched stops + labelled production rows, held-out newest 30%")
        result = retrain(config, promote_if_better=True, out_dir=reports)
        data = result.data
        counts = data["data"]
        echo(
            f"      {counts['original_kept']:,} searched training stops + "
            f"{counts['production_train']:,} labelled production stops; "
            f"{counts['holdout']:,} newest labelled ones held out"
        )
        diff = data["comparison"]["difference"]
        echo(
            f"      {diff['metric']} on the held-out rows: champion {diff['value_a']:.3f}, "
            f"challenger {diff['value_b']:.3f} (paired 95% CI of the difference "
            f"[{diff['ci_low']:+.3f}, {diff['ci_high']:+.3f}])"
        )
        echo(f"      {data['decision']['reason']}")
        paths["retrain_html"] = reports / "retrain.html"
        paths["retrain_json"] = reports / "retrain.json"
        served = call(base, "/admin/reload", {})
        versions = ", ".join(
            f"{v['name']} → version {v['model_version']}" for v in served["variants"]
        )
        echo(f"      the running service reloaded its aliases: {versions}")
    return paths


def first_lines(sections: dict[str, list[str]]) -> list[str]:
    """The training summary up to its first test metric: the models, the columns dropped
    and why, the ensemble and the threshold, so none of them scrolls out of sight."""
    shown: list[str] = []
    for name, lines in sections.items():
        if name == "metrics":
            return shown + lines[:1]
        shown += lines
    return shown


def monitor_lines(data: dict[str, Any]) -> list[str]:
    """The monitor's findings the demo shows: precision shift, population, fairness."""
    lines = []
    for row in data["performance"]["comparison"]:
        if row["metric"] in ("precision", "recall", "roc_auc") and row["production"] is not None:
            lines.append(
                f"{row['metric']}: test {row['test']:.3f} → production {row['production']:.3f} "
                f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
            )
    population = data["drift"]["population"].get("search_authorization") or []
    shares = ", ".join(
        f"{r['value']} {r['reference_share']:.0%}→{r['current_share']:.0%}" for r in population
    )
    if shares:
        lines.append(f"search_authorization (training → production): {shares}")
    lines.append(f"drifted columns: {', '.join(data['drift']['drifted_columns']) or 'none'}")
    fairness = data.get("fairness")
    if fairness:
        gaps = [
            g for g in fairness["model"]["gaps"] if g["segment"] != "(all)" and g["gap"] is not None
        ]
        for g in sorted(gaps, key=lambda g: -g["gap"])[:3]:
            lines.append(
                f"precision gap by race in {g['segment']}: {g['gap']:.3f} "
                f"[{g['ci_low']:.3f}, {g['ci_high']:.3f}] → {g['verdict']}"
            )
        human = fairness.get("human")
        if human:
            lines.append(
                f"fairness verdict: model {fairness['model']['verdict']}, officers' "
                f"own searches {human['verdict']}"
            )
    for r in data["requirements"]:
        value = "n/a" if r.get("value") is None else f"{r['value']:.3f}"
        lines.append(f"requirement {r['expression']}: {value} → {r['status']}")
    return lines
