"""The demo's situation 2: two teams' own models behind one interface, served as an A/B test.

A project folder of its own (``spend/``) gets the shipped example project
(:func:`tabloop.examples.example_project`: ``spendmodels.py``, ``tabloop.yaml``,
``challenger.yaml`` and the customer-spend data). Team A's per-customer trend is trained
and registered as champion, team B's session-feature model as challenger; a real
``tabloop serve`` splits the test customers 50/50, sticky by ``customer_id``; each
customer asks again the next day (same variant, by stickiness), the true spend comes back
in two batches, and the A/B report is read from ``/report``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Customers asking a second time: stickiness must send each to the variant of the first.
REPEATS = 100


def run_spend_ab(
    root: Path, *, n: int, echo: Callable[[str], Any], step: Callable[[str], str]
) -> dict[str, Path]:
    """Run situation 2 in ``root``; return the paths of its reports."""
    from tabloop.config import load_config
    from tabloop.demo._service import (
        call,
        predict_rows,
        registered,
        report_lines,
        running_service,
    )
    from tabloop.examples import example_project
    from tabloop.workflows import train_and_register

    reports = root / "reports"
    paths: dict[str, Path] = {}
    echo(step("own models") + f": spendmodels.py and two project files, {n:,} customers")
    example_project("customer_spend", root, rows=n)
    echo(f"      {root / 'spendmodels.py'}: TrendModel (team A), SessionModel (team B)")

    trained = {}
    for team, file, out in (("A", "tabloop.yaml", reports), ("B", "challenger.yaml", None)):
        config = load_config(root / file)
        run = train_and_register(config, out_dir=out or reports / "challenger")
        version = registered(run)
        trained[team] = run
        m, dummy = run.evaluation.metrics["rmse"], run.evaluation.baseline["rmse"]["value"]
        model = config.train.models[0].partition(":")[2]
        echo(
            f"      {team} {model}: test RMSE {m['value']:.1f} [{m['ci_low']:.1f}, "
            f"{m['ci_high']:.1f}] (the mean: {dummy:.1f})"
        )
        echo(f"        registered {version.uri} as {', '.join(version.aliases)}")
    paths["spend_evaluation_json"] = trained["A"].reports["json"]
    paths["spend_challenger_json"] = trained["B"].reports["json"]

    echo(step("A/B of own models") + ": 50/50, sticky by customer_id; outcomes in 2 batches")
    test = trained["A"].result.test
    target = trained["A"].result.config.data.target
    with running_service(root, echo=echo, log_name="service.log") as base:
        rows = json.loads(test.drop(columns=target).to_json(orient="records"))
        answers = predict_rows(base, rows)
        again = predict_rows(base, rows[:REPEATS])
        kept = sum(a["variant"] == b["variant"] for a, b in zip(answers, again, strict=False))
        echo(
            f"      {len(answers):,} customers predicted; {kept} of {len(again)} asking again "
            "got the same variant"
        )
        truth = test[target].tolist()
        half = len(answers) // 2
        for part in (slice(0, half), slice(half, None)):
            items = [
                {"prediction_id": a["prediction_id"], "value": float(t)}
                for a, t in zip(answers[part], truth[part], strict=True)
            ]
            call(base, "/outcomes", {"outcomes": items})
        report = call(base, "/report")
    paths["spend_ab_report"] = reports / "ab_report.json"
    paths["spend_ab_report"].write_text(json.dumps(report, indent=2))
    for line in report_lines(report):
        echo(f"      {line}")
    return paths
