import re

import pytest

from tabloop.config import config_from_dict, load_config
from tabloop.data import load_training_data
from tabloop.exceptions import (
    ColumnNotFoundError,
    ConfigError,
    ConfigNotFoundError,
    DataSourceError,
)

MINIMAL = {"name": "credit", "data": {"train": "credit.csv", "target": "risk"}}


def write(tmp_path, text):
    path = tmp_path / "tabloop.yaml"
    path.write_text(text)
    return path


def test_minimal_config_gets_defaults():
    cfg = config_from_dict(MINIMAL)
    assert cfg.task is None and cfg.split.test_size == 0.2 and cfg.split_strategy == "stratified"
    assert cfg.features.drop == [] and cfg.profile.leakage_cutoff == 0.9


def test_time_column_makes_the_default_split_time_based():
    cfg = config_from_dict({**MINIMAL, "data": {**MINIMAL["data"], "time": "date"}})
    assert cfg.split_strategy == "time"


def test_full_config_parses_into_typed_sections(tmp_path):
    path = write(
        tmp_path,
        """
name: treatment
data:
  train: data/cases.parquet
  target: unsuccessful_outcome
  id: patient_id
task: binary
features:
  drop: [gender]
  log: [engagement_min]
  derive:
    weighted_age: "to_assessment * 0.01 * age"
  categorical: [alcohol_scale]
profile:
  by: course
split: {strategy: group, group: patient_id, test_size: 0.25, seed: 7}
prepare:
train:
evaluate: {}
""",
    )
    cfg = load_config(path)
    assert cfg.features.derive == {"weighted_age": "to_assessment * 0.01 * age"}
    assert cfg.profile.by == ["course"]
    assert (cfg.split.strategy, cfg.split.group, cfg.split.test_size) == (
        "group",
        "patient_id",
        0.25,
    )
    assert cfg.resolve(cfg.data.train) == tmp_path / "data" / "cases.parquet"
    assert cfg.source == path.resolve()


def test_config_is_found_in_the_working_directory(in_tmp):
    write(in_tmp, "name: x\ndata: {train: a.csv, target: y}\n")
    assert load_config().name == "x"


def test_config_file_name_can_come_from_the_environment(in_tmp, monkeypatch):
    (in_tmp / "other.yaml").write_text("name: other\ndata: {train: a.csv}\n")
    monkeypatch.setenv("TABLOOP_CONFIG", "other.yaml")
    assert load_config().name == "other"


def test_missing_config_says_how_to_create_one(in_tmp):
    with pytest.raises(ConfigNotFoundError, match="tabloop init --data FILE --target COLUMN"):
        load_config()


def test_unknown_key_is_an_error_with_allowed_keys_and_suggestion():
    with pytest.raises(ConfigError) as info:
        config_from_dict({**MINIMAL, "data": {**MINIMAL["data"], "tagret": "x"}})
    message = str(info.value)
    assert "data.tagret: unknown key" in message
    assert "Allowed keys here: train, sql, target, id, time" in message
    assert "Did you mean 'target'?" in message


def test_an_unknown_key_inside_a_named_entry_lists_the_entrys_keys():
    """features.lags.<column> is a mapping of the user's names to sections: a typo inside
    one is answered with that section's keys, not 'takes no keys'."""
    lags = {"spend": {"by": "customer_id", "order": "month", "lag": [1]}}
    with pytest.raises(ConfigError) as info:
        config_from_dict({**MINIMAL, "features": {"lags": lags}})
    message = str(info.value)
    assert "features.lags.spend.lag: unknown key. Allowed keys here: by, order, lags," in message
    assert "Did you mean 'lags'?" in message


def test_a_wrong_type_for_a_section_names_no_internal_class():
    with pytest.raises(ConfigError, match=r"prepare.text: input should be a valid dictionary; "
                       r"got 'no'\.$") as info:  # fmt: skip
        config_from_dict({**MINIMAL, "prepare": {"text": "no"}})
    assert "Config" not in str(info.value).removeprefix("tabloop.yaml")


def test_unknown_top_level_section_is_an_error():
    with pytest.raises(ConfigError, match=r"servee: unknown key.*Did you mean 'serve'"):
        config_from_dict({**MINIMAL, "servee": {}})


def test_monitor_and_retrain_sections_name_the_bad_key_and_value():
    with pytest.raises(
        ConfigError, match=r"monitor.window: unknown key. Allowed keys here: chunk,"
    ):
        config_from_dict({**MINIMAL, "monitor": {"window": "1d"}})
    with pytest.raises(ConfigError, match=r"monitor.chunk: .*'1 fortnight'"):
        config_from_dict({**MINIMAL, "monitor": {"chunk": "1 fortnight"}})
    with pytest.raises(ConfigError, match=r"monitor.alert_webhook: .*https\?://"):
        config_from_dict({**MINIMAL, "monitor": {"alert_webhook": "ftp://x"}})
    with pytest.raises(ConfigError, match=r"unknown metric 'precison'.*Did you mean 'precision'"):
        config_from_dict(
            {**MINIMAL, "task": "binary", "monitor": {"requirements": ["precison > 0.5"]}}
        )
    with pytest.raises(ConfigError, match=r"retrain.filter: .*'searched ==== 1'.*syntax"):
        config_from_dict({**MINIMAL, "retrain": {"filter": "searched ==== 1"}})
    with pytest.raises(ConfigError, match=r"retrain.metric: unknown metric 'auc'"):
        config_from_dict({**MINIMAL, "retrain": {"metric": "auc"}})
    with pytest.raises(ConfigError, match=r"retrain.holdout: .*less than 1"):
        config_from_dict({**MINIMAL, "retrain": {"holdout": 1.5}})
    ok = config_from_dict(
        {
            **MINIMAL,
            "task": "binary",
            "monitor": {
                "chunk": "1w",
                "requirements": ["estimated.precision >= 0.5", "drift.share_drifted_columns < 0.3"],
            },
        }
    )
    assert ok.monitor.chunk == "1w" and ok.retrain.holdout == 0.3


def test_misspelt_serve_key_names_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"serve.variant: unknown key.*Did you mean 'variants'"):
        config_from_dict({**MINIMAL, "serve": {"variant": {"A": "models:/x@champion"}}})


@pytest.mark.parametrize(
    ("serve", "message"),
    [
        ({"traffic": {"A": 1}}, "'traffic' needs 'variants'"),
        (
            {"variants": {"A": "m"}, "traffic": {"A": -0.2}},
            "share of variant 'A' must be a number >= 0",
        ),
        (
            {"variants": {"A": "m"}, "traffic": {"A": 0}},
            "at least one variant needs a share above 0",
        ),
        ({"variants": {"A b": "m"}}, "variant name 'A b'"),
        ({"keys": {"ops": {"roles": ["admin"]}}}, "exactly one of 'env'"),
        ({"keys": {"ops": {"env": "X", "roles": ["root"]}}}, "'predict', 'feedback' or 'admin'"),
        ({"port": 0}, "serve.port"),
        ({"log": {"durability": "fsync"}}, "serve.log.durability"),
        ({"log": {"max_backlog": 0}}, "serve.log.max_backlog"),
        (
            {"max_rows": 500, "log": {"max_backlog": 100}},
            "log.max_backlog (100) must be at least max_rows (500)",
        ),
    ],
)
def test_serve_section_errors_name_the_key(serve, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from_dict({**MINIMAL, "serve": serve})


def test_wrong_value_lists_allowed_values():
    with pytest.raises(
        ConfigError,
        match="task: input should be 'binary', 'multiclass', 'regression' "
        "or 'clustering'; got 'binry'",
    ):
        config_from_dict({**MINIMAL, "task": "binry"})


def test_wrong_type_gives_the_key_path():
    with pytest.raises(
        ConfigError, match="split.test_size: input should be a valid number.*got 'big'"
    ):
        config_from_dict({**MINIMAL, "split": {"test_size": "big"}})
    with pytest.raises(ConfigError, match=r"split.test_size: input should be less than 1; got 1.5"):
        config_from_dict({**MINIMAL, "split": {"test_size": 1.5}})
    with pytest.raises(ConfigError, match="features.drop: input should be a valid list"):
        config_from_dict({**MINIMAL, "features": {"drop": "gender"}})


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError, match="2 problems: .*task.*split.seed"):
        config_from_dict({**MINIMAL, "task": "x", "split": {"seed": "y"}})


def test_contradictions_are_rejected():
    with pytest.raises(ConfigError, match="give exactly one of 'train'"):
        config_from_dict({"name": "x", "data": {"target": "y"}})
    with pytest.raises(ConfigError, match="column 'a' is in both 'categorical' and 'numeric'"):
        config_from_dict({**MINIMAL, "features": {"categorical": ["a"], "numeric": ["a"]}})
    with pytest.raises(ConfigError, match="task 'clustering' takes no data.target"):
        config_from_dict({**MINIMAL, "task": "clustering"})
    with pytest.raises(ConfigError, match="strategy 'group' needs 'group'"):
        config_from_dict({**MINIMAL, "split": {"strategy": "group"}})


def test_missing_required_keys_are_named():
    with pytest.raises(ConfigError, match="name: required key is missing"):
        config_from_dict({"data": {"train": "a.csv"}})


def test_bad_project_name_is_rejected():
    with pytest.raises(ConfigError, match="name: string should match pattern"):
        config_from_dict({**MINIMAL, "name": "my project!"})


def test_malformed_yaml_gives_the_line(tmp_path):
    path = write(tmp_path, "name: x\ndata:\n  train: [a.csv\n  target: y\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(path)


def test_empty_or_scalar_file_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="it is empty"):
        load_config(write(tmp_path, ""))
    with pytest.raises(ConfigError, match="it is a str"):
        load_config(write(tmp_path, "just text"))


def test_training_data_is_loaded_relative_to_the_config(tmp_path, load):
    (tmp_path / "data").mkdir()
    load("german_credit").to_csv(tmp_path / "data" / "credit.csv", index=False)
    path = write(tmp_path, "name: credit\ndata: {train: data/credit.csv, target: risk}\n")
    assert load_training_data(load_config(path)).shape == (1000, 10)


def test_target_absent_from_the_data_lists_close_matches(tmp_path, load):
    load("german_credit").to_csv(tmp_path / "credit.csv", index=False)
    path = write(tmp_path, "name: credit\ndata: {train: credit.csv, target: risks}\n")
    with pytest.raises(
        ColumnNotFoundError,
        match="data.target column 'risks' is not in the data. Did you mean 'risk'",
    ):
        load_training_data(load_config(path))


def test_feature_lists_naming_absent_columns_are_errors(tmp_path, load):
    load("german_credit").to_csv(tmp_path / "credit.csv", index=False)
    path = write(
        tmp_path, "name: c\ndata: {train: credit.csv, target: risk}\nfeatures: {drop: [agee]}\n"
    )
    with pytest.raises(ColumnNotFoundError, match="features.drop column 'agee'.*'age'"):
        load_training_data(load_config(path))


def test_sql_source_that_cannot_connect_is_reported(tmp_path):
    path = write(
        tmp_path,
        """name: db
data:
  sql: {query: "SELECT * FROM cases", url: "postgresql+psycopg://u:pw@127.0.0.1:1/none"}
  target: y
""",
    )
    with pytest.raises(
        DataSourceError, match="Cannot connect to database 'postgresql\\+psycopg://u:\\*\\*\\*@"
    ):
        load_training_data(load_config(path))


def test_sql_source_loads_from_sqlite(tmp_path, load):
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    load("titanic").to_sql("passengers", engine, index=False)
    engine.dispose()
    path = write(
        tmp_path,
        f"""name: db
data:
  sql: {{query: "SELECT * FROM passengers", url: "sqlite:///{tmp_path / "c.db"}"}}
  target: survived
""",
    )
    assert len(load_training_data(load_config(path))) == len(load("titanic"))
