"""The command line as a user runs it: the installed script in a subprocess."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import mean_squared_error, precision_score, roc_auc_score

from tabloop.examples import treatment_outcomes
from tabloop.store import Store

TABLOOP = [sys.executable, "-m", "tabloop"]


#: Only a guard against a hung process: the demo takes ~3 min on 2 idle cores and several
#: times that on a loaded CI machine, which must not fail the suite.
HUNG_AFTER_S = 2400


def run(
    *args: str, cwd: Path | None = None, columns: int = 200, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``tabloop *args`` in a subprocess, in a terminal ``columns`` wide, with ``env`` added
    to the environment."""
    return subprocess.run(
        [*TABLOOP, *map(str, args)],
        cwd=cwd,
        env={**os.environ, "COLUMNS": str(columns), "TABLOOP_PROGRESS": "0", **(env or {})},
        capture_output=True,
        text=True,
        timeout=HUNG_AFTER_S,
    )


def unwrap(text: str) -> str:
    """``text`` with every run of whitespace as one space: what a message reads as before
    the console wrapped it at spaces to the terminal's width (a word split across lines
    would read as two words)."""
    return " ".join(text.split())


def one_message(stderr: str) -> str:
    """The one message ``stderr`` holds, unwrapped; fails when a line after the first opens
    a message of its own (a message longer than the terminal wraps at spaces onto more
    lines, which only continue it)."""
    lines = stderr.strip().splitlines()
    assert lines, "nothing on stderr"
    opening = re.compile(r"(error|warning|note|internal error|Traceback)\b")
    assert not any(opening.match(line) for line in lines[1:]), stderr
    return unwrap(stderr)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """A failure with exit status 2 and one message on stderr that starts ``error:`` and
    names every fragment."""
    assert result.returncode == 2, result.stderr
    message = one_message(result.stderr)
    assert message.startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert unwrap(fragment) in message, result.stderr


def test_help_lists_the_verbs():
    result = run("--help")
    assert result.returncode == 0
    for verb in ("init", "profile", "schema", "validate", "train", "models", "predict", "demo"):
        assert verb in result.stdout


def test_version():
    import tabloop

    assert run("--version").stdout.strip() == f"tabloop {tabloop.__version__}"


def test_profile_writes_html_and_json_whose_missing_counts_equal_pandas(tmp_path, datasets):
    result = run("profile", datasets / "titanic.csv", "--target", "survived", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "profile.json").read_text())
    expected = pd.read_csv(datasets / "titanic.csv").isna().sum().to_dict()
    assert {m["column"]: m["count"] for m in data["missing"]} == expected
    assert (tmp_path / "profile.html").stat().st_size > 100_000
    assert str(tmp_path / "profile.html") in result.stdout


def test_profile_of_data_with_gaps_counts_them_like_pandas(tmp_path):
    df = treatment_outcomes(n=2_000)
    df.to_csv(tmp_path / "t.csv", index=False)
    result = run(
        "profile",
        tmp_path / "t.csv",
        "--target",
        "unsuccessful_outcome",
        "--by",
        "gender",
        "--out",
        tmp_path / "r",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "r" / "profile.json").read_text())
    assert {m["column"]: m["count"] for m in data["missing"]} == df.isna().sum().to_dict()
    assert {g["by"] for g in data["groups"]} == {"gender"}


def test_init_then_every_command_works_with_no_flags(tmp_path):
    treatment_outcomes(n=1_500).to_csv(tmp_path / "cases.csv", index=False)
    init = run(
        "init",
        "--data",
        "cases.csv",
        "--target",
        "unsuccessful_outcome",
        "--name",
        "t",
        cwd=tmp_path,
    )
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "tabloop.yaml").exists()
    profile = run("profile", cwd=tmp_path)
    assert profile.returncode == 0, profile.stderr
    assert json.loads((tmp_path / "reports" / "profile.json").read_text())["shape"]["rows"] == 1_500
    schema = run("schema", "--out", "schema.json", cwd=tmp_path)
    assert schema.returncode == 0, schema.stderr
    assert json.loads((tmp_path / "schema.json").read_text())["id"] == "patient_id"
    ok = run("validate", "cases.csv", cwd=tmp_path)
    assert ok.returncode == 0 and "OK" in ok.stdout


def test_validate_exits_1_and_lists_problems(tmp_path, datasets):
    df = pd.read_csv(datasets / "german_credit.csv").head(20)
    df.loc[3, "purpose"] = "spaceship"
    df.to_csv(tmp_path / "new.csv", index=False)
    run("schema", datasets / "german_credit.csv", "--out", tmp_path / "s.json")
    result = run("validate", tmp_path / "new.csv", "--schema", tmp_path / "s.json", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [(p["kind"], p["column"], p["first_row"]) for p in report["problems"]] == [
        ("unseen_category", "purpose", 3)
    ]


def test_missing_file_is_one_line_and_exit_2(tmp_path):
    assert_one_line_error(run("profile", tmp_path / "nope.csv"), "nope.csv' does not exist")


def test_empty_file_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "e.csv").write_text("")
    assert_one_line_error(run("profile", tmp_path / "e.csv"), "is empty")


def test_header_only_file_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "h.csv").write_text("a,b\n")
    assert_one_line_error(run("profile", tmp_path / "h.csv"), "header (2 columns) but no rows")


def test_absent_target_lists_close_matches(datasets):
    assert_one_line_error(
        run("profile", datasets / "titanic.csv", "--target", "survive"),
        "'survive' is not in the data",
        "Did you mean 'survived'",
    )


def test_target_with_missing_values_is_reported_in_the_profile(tmp_path, datasets):
    df = pd.read_csv(datasets / "titanic.csv")
    df.loc[[5, 8], "survived"] = None
    df.to_csv(tmp_path / "t.csv", index=False)
    result = run("profile", tmp_path / "t.csv", "--target", "survived", "--out", tmp_path)
    assert result.returncode == 0
    assert "missing in 2 row(s) (first: 5, 8)" in result.stdout


def test_config_with_unknown_key_is_one_line(tmp_path):
    (tmp_path / "tabloop.yaml").write_text("name: x\ndata: {train: a.csv, tagret: y}\n")
    assert_one_line_error(
        run("profile", cwd=tmp_path), "data.tagret: unknown key", "Did you mean 'target'?"
    )


def test_config_with_wrong_type_is_one_line(tmp_path):
    (tmp_path / "tabloop.yaml").write_text(
        "name: x\ndata: {train: a.csv}\nsplit: {test_size: big}\n"
    )
    assert_one_line_error(
        run("schema", cwd=tmp_path), "split.test_size: input should be a valid number"
    )


def test_no_config_says_how_to_create_one(tmp_path):
    assert_one_line_error(run("profile", cwd=tmp_path), "tabloop init --data FILE --target COLUMN")


def test_sql_url_that_cannot_connect_is_one_line(tmp_path):
    (tmp_path / "tabloop.yaml").write_text(
        'name: db\ndata:\n  sql: {query: "SELECT 1", url: "postgresql+psycopg://u:pw@127.0.0.1:1/x"}\n'
    )
    result = run("profile", cwd=tmp_path)
    assert_one_line_error(result, "Cannot connect to database")
    assert ":pw@" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = run("--debug", "profile", tmp_path / "nope.csv")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_usage_error_exits_2():
    result = run("profile", "--no-such-flag")
    assert result.returncode == 2 and "No such option" in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(HUNG_AFTER_S + 60)
def test_demo_runs_the_loop_and_says_where_to_look(tmp_path):
    """The demo, read in a terminal 80 columns wide (as every verb: test_terminal_80)."""
    from tests.cli.test_terminal_80 import assert_reads_at_80

    result = run("demo", "--dir", tmp_path / "ws", columns=80)
    assert result.returncode == 0, result.stderr
    assert_reads_at_80(result.stdout)
    assert_reads_at_80(result.stderr)
    said = unwrap(result.stdout)
    reports = tmp_path / "ws" / "reports"
    for name in ("profile.html", "profile.json", "schema.json", "validation.json",
                 "evaluation.html", "evaluation.json", "predictions.csv"):  # fmt: skip
        assert (reports / name).exists()
        assert name in said
    evaluation = json.loads((reports / "evaluation.json").read_text())
    assert evaluation["metrics"]["roc_auc"]["value"] > 0.75
    assert set(evaluation["ensemble"]) <= {"linear", "lightgbm", "catboost"}
    assert [r["model"] for r in evaluation["cv"]] == ["dummy", "linear", "lightgbm", "catboost"]
    assert any(c["strategy"] == "knn" for c in evaluation["charts"]["imputation"])
    predictions = pd.read_csv(reports / "predictions.csv")
    assert set(predictions["model_version"]) == {"models:/treatment/1"}
    validation = json.loads((tmp_path / "ws" / "reports" / "validation.json").read_text())
    assert {p["kind"] for p in validation["problems"]} == {
        "missing_column",
        "extra_column",
        "unseen_category",
        "wrong_type",
    }
    again = run("profile", cwd=tmp_path / "ws")
    assert again.returncode == 0, again.stderr

    # the A/B step: 2,000 test rows served by two variants, every outcome uploaded in two
    # batches; the report's numbers agree with sklearn on the log the service wrote
    report = json.loads((reports / "ab_report.json").read_text())
    by_name = {v["name"]: v for v in report["variants"]}
    assert sum(v["predictions"] for v in by_name.values()) == 2000
    assert all(v["labelled"] == v["predictions"] > 0 for v in by_name.values())
    assert all(len(v["batches"]) == 2 for v in by_name.values())
    store = Store(f"sqlite:///{tmp_path / 'ws' / '.tabloop' / 'log.db'}")
    log = store.predictions()
    store.close()
    a = log[log["variant"] == "A"]
    assert set(a["model_version"]) == {"1"}
    assert by_name["A"]["metrics"]["roc_auc"]["value"] == pytest.approx(
        roc_auc_score(a["outcome"].astype(int), a["score"])
    )
    assert "verdict:" in said and "ab_report.json" in said

    # situation 2: two teams' own models (spendmodels.py) registered and served as an A/B
    # test sticky by customer; the report agrees with sklearn on the service's log
    spend = tmp_path / "ws" / "spend"
    assert (spend / "spendmodels.py").exists()
    trend = json.loads((spend / "reports" / "evaluation.json").read_text())
    session = json.loads((spend / "reports" / "challenger" / "evaluation.json").read_text())
    assert list(trend["ensemble"]) == ["spendmodels:TrendModel"]
    assert list(session["ensemble"]) == ["spendmodels:SessionModel"]
    for ev in (trend, session):
        assert ev["metrics"]["rmse"]["value"] < 0.5 * ev["baseline"]["rmse"]["value"]
    spend_ab = json.loads((spend / "reports" / "ab_report.json").read_text())
    store = Store(f"sqlite:///{spend / '.tabloop' / 'log.db'}")
    log = store.predictions()
    store.close()
    n_test = trend["n_test"]
    assert len(log) == n_test + 100 and log["outcome"].notna().sum() == n_test
    assert (log.groupby("entity_id")["variant"].nunique() == 1).all()  # sticky by customer
    assert "100 of 100 asking again got the same variant" in said
    for v in spend_ab["variants"]:
        rows = log[(log["variant"] == v["name"]) & log["outcome"].notna()]
        assert v["labelled"] == len(rows) > 0 and len(v["batches"]) == 2
        assert v["metrics"][spend_ab["metric"]]["value"] == pytest.approx(
            mean_squared_error(rows["outcome"].astype(float), rows["prediction"].astype(float))
        )
    assert spend_ab["metric"] == "mse"

    # situation 3: the production stream was monitored, a challenger retrained and promoted
    stops = tmp_path / "ws" / "stops"
    monitor = json.loads((stops / "reports" / "monitor.json").read_text())
    assert monitor["window"]["rows"] == 6000
    store = Store(f"sqlite:///{stops / '.tabloop' / 'log.db'}")
    log = store.predictions(period="all")
    store.close()
    assert len(log) == 6000 and monitor["window"]["labelled"] == log["outcome"].notna().sum()
    labelled = log[log["outcome"].notna()]
    precision = monitor["performance"]["metrics"]["precision"]["value"]
    assert precision == pytest.approx(
        precision_score(labelled["outcome"].astype(bool), labelled["prediction"].astype(bool))
    )
    # production reaches the suspicious stops: fewer unsearched ('N') ones than in training
    shares = {r["value"]: r for r in monitor["drift"]["population"]["search_authorization"]}
    assert shares["N"]["current_share"] < shares["N"]["reference_share"] - 0.05
    assert "search_authorization (training → production): N" in said
    assert monitor["fairness"]["human"] is not None
    retrain = json.loads((stops / "reports" / "retrain.json").read_text())
    assert retrain["data"]["holdout"] > 0 and retrain["data"]["production_train"] > 0
    for name in ("monitor.html", "retrain.html", "monitoring report", "retraining report"):
        assert name in said
    # seeded data: the searched-stops challenger is proven better and served after a reload
    assert retrain["decision"]["promoted"] is True
    assert "now the champion" in said and "champion → version 2" in said
    # its train step shows the summary up to the first test metric, then the registration
    stops_evaluation = json.loads((stops / "reports" / "evaluation.json").read_text())
    first, entry = next(iter(stops_evaluation["metrics"].items()))
    assert f"  {first:<18} {entry['value']:.4f}" in result.stdout
    assert "registered models:/stops/1 as champion" in said
    # one count over the three situations: 1/15 ... 15/15
    steps = re.findall(r"^(\d+)/(\d+) ", result.stdout, flags=re.MULTILINE)
    assert steps == [(str(i), "15") for i in range(1, 16)]


@pytest.fixture(scope="module")
def trained_project(tmp_path_factory, datasets):
    """A titanic project trained once by `tabloop train` (fast settings)."""
    root = tmp_path_factory.mktemp("project")
    pd.read_csv(datasets / "titanic.csv").to_csv(root / "titanic.csv", index=False)
    (root / "tabloop.yaml").write_text(
        "name: titanic\n"
        "data: {train: titanic.csv, target: survived}\n"
        "train: {models: [linear], folds: 3, learning_curve: false}\n"
        "evaluate: {bootstrap: 200, requirements: ['roc_auc >= 0.99']}\n"
    )
    first = run("train", cwd=root)
    return root, first


def test_train_writes_reports_registers_and_exits_1_on_a_failed_requirement(trained_project):
    root, result = trained_project
    assert result.returncode == 1, result.stderr
    assert "requirement roc_auc >= 0.99: FAILED" in result.stdout
    assert "Registered models:/titanic/1 as champion" in result.stdout
    data = json.loads((root / "reports" / "evaluation.json").read_text())
    assert data["requirements"][0]["passed"] is False
    assert (root / ".tabloop" / "mlflow.db").exists()


def test_models_promote_rollback_and_predict_from_the_command_line(trained_project):
    root, _ = trained_project
    assert run("train", "--no-register", cwd=root).returncode == 1
    again = run("train", cwd=root)
    assert "as challenger" in again.stdout
    listing = run("models", cwd=root)
    assert (
        listing.returncode == 0 and "champion" in listing.stdout and "challenger" in listing.stdout
    )
    assert "is now the champion" in run("promote", "2", cwd=root).stdout
    assert "models:/titanic/1 is the champion again" in run("rollback", cwd=root).stdout
    scored = run("predict", "titanic.csv", "-o", "scored.csv", cwd=root)
    assert scored.returncode == 0, scored.stderr
    out = pd.read_csv(root / "scored.csv")
    assert len(out) == 2207 and {"prediction", "probability", "model_version"} <= set(out.columns)
    assert set(out["model_version"]) == {"models:/titanic/1"}


def test_promote_an_unknown_version_is_one_line(trained_project):
    root, _ = trained_project
    assert_one_line_error(run("promote", "99", cwd=root), "no version 99")


def test_predict_a_file_with_a_wrong_type_is_one_line_naming_the_value(trained_project, tmp_path):
    root, _ = trained_project
    bad = pd.read_csv(root / "titanic.csv").head(10).astype({"age": object})
    bad.loc[3, "age"] = "forty"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    result = run("predict", tmp_path / "bad.csv", "-o", tmp_path / "o.csv", cwd=root)
    assert_one_line_error(result, "'age'", "'forty'")
    assert not (tmp_path / "o.csv").exists()


def test_train_with_an_unknown_requirement_metric_is_one_line(tmp_path, datasets):
    pd.read_csv(datasets / "titanic.csv").to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "tabloop.yaml").write_text(
        "name: t\ndata: {train: t.csv, target: survived}\ntask: binary\n"
        "evaluate: {requirements: ['auc >= 0.8']}\n"
    )
    assert_one_line_error(run("train", cwd=tmp_path), "unknown metric 'auc'")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("", "is empty (0 bytes); expected a header and rows"), ("\n\n", "has no header and no rows")],
)
def test_predict_an_empty_file_is_one_line_naming_it(trained_project, tmp_path, content, fragment):
    root, _ = trained_project
    (tmp_path / "empty.csv").write_text(content)
    result = run("predict", tmp_path / "empty.csv", "-o", tmp_path / "o.csv", cwd=root)
    assert_one_line_error(result, "empty.csv'", fragment)
    assert list(tmp_path.iterdir()) == [tmp_path / "empty.csv"]


def test_predict_into_a_missing_folder_is_one_line_naming_it(trained_project, tmp_path):
    root, _ = trained_project
    result = run("predict", "titanic.csv", "-o", tmp_path / "nodir" / "out.csv", cwd=root)
    assert_one_line_error(result, f"Output folder '{tmp_path / 'nodir'}' does not exist")


def test_predict_refuses_an_unknown_output_suffix_before_loading_the_model(
    trained_project, tmp_path
):
    root, _ = trained_project
    for model in ("models:/titanic@champion", "models:/titanic/99"):  # 99: never loaded
        result = run("predict", "titanic.csv", "-o", tmp_path / "out.xlsx", "--model", model,
                     cwd=root)  # fmt: skip
        assert_one_line_error(
            result, "out.xlsx' has suffix '.xlsx'; predictions are written as .csv or .parquet"
        )
    assert not list(tmp_path.iterdir())


def test_train_on_a_single_class_target_names_the_target_and_its_value(tmp_path):
    rows = "".join(f"{i},{i % 3},yes\n" for i in range(30))
    (tmp_path / "one.csv").write_text("age,visits,churned\n" + rows)
    (tmp_path / "tabloop.yaml").write_text(
        "name: one\ndata: {train: one.csv, target: churned}\ntask: binary\n"
        "train: {models: [linear], folds: 3, learning_curve: false}\n"
    )
    assert_one_line_error(
        run("train", cwd=tmp_path), "Target 'churned' has 1 distinct value, 'yes', in all 30 rows"
    )


def test_store_status_and_the_registry_verbs_of_a_new_project_create_nothing(tmp_path, datasets):
    """A status or a lookup changes nothing: no .tabloop/log.db, no empty MLflow store."""
    pd.read_csv(datasets / "titanic.csv").to_csv(tmp_path / "titanic.csv", index=False)
    (tmp_path / "tabloop.yaml").write_text(
        "name: titanic\ndata: {train: titanic.csv, target: survived}\n"
    )
    status = run("store", "status", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    log = tmp_path / ".tabloop" / "log.db"
    assert unwrap(status.stdout) == (
        f"sqlite:///{log}: no log yet — missing (tabloop serve creates it at revision "
        f"{Store('sqlite:////x.db').head()}); nothing was created."
    )
    store = tmp_path / ".tabloop" / "mlflow.db"
    for verb in (["models"], ["promote", "1"], ["rollback"], ["models", "--json"]):
        assert_one_line_error(
            run(*verb, cwd=tmp_path),
            f"No MLflow store at {store}: nothing was registered for project 'titanic' yet",
            "Nothing was created.",
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tabloop.yaml", "titanic.csv"]
