import pytest

from tabloop.config import load_config
from tabloop.data import load_training_data
from tabloop.examples import traffic_stops, treatment_outcomes
from tabloop.exceptions import ColumnNotFoundError, ConfigError, EmptyDataError
from tabloop.workflows import init_project


def test_init_writes_a_commented_config_that_loads(in_tmp):
    treatment_outcomes(n=1_000).to_csv(in_tmp / "cases.csv", index=False)
    path = init_project("cases.csv", target="unsuccessful_outcome")
    text = path.read_text()
    assert text.startswith("# tabloop project file")
    assert "# binary, positive class '1'" in text
    cfg = load_config()
    assert (cfg.name, cfg.task, cfg.data.id, cfg.data.train) == (
        "cases",
        "binary",
        "patient_id",
        "cases.csv",
    )
    assert cfg.split_strategy == "stratified"
    assert len(load_training_data(cfg)) == 1_000


def test_init_finds_time_column_and_suggests_log_transforms(in_tmp):
    df = traffic_stops(1_000)
    df["date"] = df["date"].dt.strftime("%Y-%m-%d")
    df.to_csv(in_tmp / "stops.csv", index=False)
    init_project("stops.csv", target="searched", name="stops")
    cfg = load_config()
    assert cfg.data.time == "date" and cfg.split_strategy == "time"
    assert cfg.data.id == "stop_id"
    assert "vehicle_age" not in cfg.features.log  # skew about 1.2
    assert cfg.task == "binary"


def test_init_infers_regression_and_multiclass(in_tmp, datasets):
    init_project(datasets / "apartments.csv", target="m2_price", directory="apt")
    assert load_config("apt").task == "regression"
    init_project(datasets / "hr.csv", target="status", directory="hr")
    assert load_config("hr").task == "multiclass"
    assert load_config("hr").data.id == "Unnamed: 0"


def test_data_outside_the_project_is_referenced_by_absolute_path(in_tmp, datasets):
    cfg = load_config(init_project(datasets / "titanic.csv", target="survived", directory="p"))
    assert cfg.data.train == str((datasets / "titanic.csv").resolve())


def test_without_target_the_task_is_clustering(in_tmp, datasets):
    cfg = load_config(init_project(datasets / "hr.csv", target=None))
    assert cfg.task == "clustering" and cfg.data.target is None


def test_existing_config_is_kept_unless_forced(in_tmp, datasets):
    init_project(datasets / "titanic.csv", target="survived")
    with pytest.raises(ConfigError, match="already exists; pass --force"):
        init_project(datasets / "titanic.csv", target="survived")
    init_project(datasets / "titanic.csv", target="survived", name="again", force=True)
    assert load_config().name == "again"


def test_init_with_absent_target_lists_close_matches(in_tmp, datasets):
    with pytest.raises(
        ColumnNotFoundError, match="Target column 'survive'.*Did you mean 'survived'"
    ):
        init_project(datasets / "titanic.csv", target="survive")
    assert not (in_tmp / "tabloop.yaml").exists()


def test_init_on_header_only_file_fails_cleanly(in_tmp):
    (in_tmp / "h.csv").write_text("a,b\n")
    with pytest.raises(EmptyDataError):
        init_project("h.csv", target="a")


def test_init_reads_likely_codes_as_missing_before_judging_skew(in_tmp, load):
    """999s in 'age' made it look skewed (log: [age]) and the codes went undeclared: init
    now judges skew with the codes left out and writes the prepare.missing_values line
    that tabloop profile would suggest, so profile flags nothing more right after."""
    import json

    from scipy.stats import skew

    from tests.cli.test_cli import run

    df = load("german_credit")
    df.loc[df.index[::40], "age"] = 999
    real = df["age"][df["age"] != 999]
    assert skew(df["age"]) > 2 > skew(real)  # the codes alone make it look skewed
    df.to_csv(in_tmp / "credit.csv", index=False)

    text = init_project("credit.csv", target="risk").read_text()
    cfg = load_config()
    assert "age" not in cfg.features.log
    assert cfg.prepare.missing_values == {
        "saving_accounts": ["not_known"],  # 183 rows of the file, as profile finds them
        "checking_account": ["not_known"],
        "age": [999],
    }
    assert "    # 999: 25 rows (2.5%), far outside the other values" in text
    prepare = text[text.index("prepare:") :].splitlines()
    assert max(map(len, prepare)) <= 80

    out = in_tmp / "profile"
    done = run("profile", "--out", out, cwd=in_tmp)
    assert done.returncode == 0, done.stderr
    warnings = json.loads((out / "profile.json").read_text())["warnings"]
    assert not [w for w in warnings if w["kind"] == "missing_code"]
