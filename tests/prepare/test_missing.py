"""prepare.missing_values: declared codes are missing in training, batch scoring and serving."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tabloop.config import config_from_dict
from tabloop.exceptions import ConfigError
from tabloop.prepare import MissingValues
from tabloop.train import train

CODES = {"saving_accounts": ["not_known"], "checking_account": "not_known", "age": [-1, 999]}


def test_codes_become_missing_by_column_and_for_every_column():
    X = pd.DataFrame(
        {
            "job": pd.Categorical(["clerk", "not_known", "?", "clerk"]),
            "city": ["Bonn", "?", "-1", None],
            "age": [31, 999, -1, 40],
            "score": [-1.0, 0.5, 2.0, 999.0],
        }
    )
    codes = {"job": ["not_known"], "age": [-1, 999], "*": ["?", -1]}
    out = MissingValues(codes=codes).fit_transform(X)
    assert out["job"].isna().tolist() == [False, True, True, False]
    assert "not_known" not in out["job"].cat.categories  # no empty category left behind
    assert out["city"].isna().tolist() == [False, True, True, True]  # -1 spelled as text
    assert out["age"].isna().tolist() == [False, True, True, False]
    # '*' gives -1 to every column, 999 only to age
    assert out["score"].isna().tolist() == [True, False, False, False]
    assert X["age"].tolist() == [31, 999, -1, 40]  # the input is left alone


def test_a_missing_column_or_a_code_that_cannot_match_is_a_config_error():
    X = pd.DataFrame({"age": [31, 999], "job": ["a", "b"]})
    with pytest.raises(ConfigError, match=r"names column\(s\) \['agee'\]"):
        MissingValues(codes={"agee": [999]}).fit(X)
    with pytest.raises(ConfigError, match=r"missing_values.age: 'unknown' is text"):
        MissingValues(codes={"age": ["unknown"]}).fit(X)


def test_the_config_takes_a_list_for_every_column_or_a_mapping():
    def parsed(value):
        raw = {"name": "t", "data": {"train": "t.csv", "target": "y"}}
        return config_from_dict({**raw, "prepare": {"missing_values": value}}).prepare

    assert parsed(["not_known", "?"]).missing_values == {"*": ["not_known", "?"]}
    assert parsed({"age": -1, "job": ["n/a"]}).missing_values == {"age": [-1], "job": ["n/a"]}
    with pytest.raises(ConfigError, match="missing_values"):
        parsed({"age": [[1]]})


def test_codes_on_the_target_are_refused_with_what_to_do(tmp_path, load):
    """Codes on data.target are not applied (a row with an unknown target cannot be trained
    on, and tabloop drops no rows on its own): the config says so, naming the key, instead
    of calling the target a column the data does not have."""
    from tests.cli.test_cli import assert_one_line_error, run

    raw = {"name": "t", "data": {"train": "t.csv", "target": "risk"}}
    with pytest.raises(ConfigError, match=r"missing_values.risk: 'risk' is data.target") as err:
        config_from_dict({**raw, "prepare": {"missing_values": {"risk": [0], "age": [999]}}})
    assert "Remove those rows from the data" in str(err.value)
    assert "does not have" not in str(err.value)
    # '*' codes apply to the features only: accepted, and the target keeps its values
    config = config_from_dict({**raw, "prepare": {"missing_values": [0]}})
    assert config.prepare.missing_values == {"*": [0]}
    # on the terminal: one line naming the key, exit 2, before any training
    load("german_credit").to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "tabloop.yaml").write_text(
        "name: t\ndata: {train: t.csv, target: risk}\nprepare: {missing_values: {risk: [0]}}\n"
    )
    result = run("train", cwd=tmp_path)
    assert_one_line_error(result, "prepare.missing_values.risk: 'risk' is data.target")
    assert not (tmp_path / "mlruns").exists()


def _config(codes):
    prepare = {"missing_values": codes} if codes else {}
    return config_from_dict(
        {
            "name": "german",
            "data": {"train": "(memory)", "target": "risk"},
            "prepare": prepare,
            "train": {"models": ["linear"], "folds": 3, "learning_curve": False},
            "evaluate": {"bootstrap": 0, "importance": False},
        }
    )


@pytest.fixture(scope="module")
def german(load):
    df = load("german_credit")
    df.loc[[3, 10, 50], "age"] = 999
    return df


@pytest.fixture(scope="module")
def coded(german):
    return train(german, config=_config(CODES))


def test_a_model_with_codes_equals_one_trained_on_cleaned_data(german, coded):
    """The independent reference: the codes replaced by NaN with pandas before training."""
    cleaned = german.copy()
    cleaned[["saving_accounts", "checking_account"]] = cleaned[
        ["saving_accounts", "checking_account"]
    ].replace("not_known", np.nan)
    cleaned["age"] = cleaned["age"].where(~cleaned["age"].isin([-1, 999]))
    reference = train(cleaned, config=_config(None))
    test = cleaned.loc[coded.test.index].drop(columns="risk")
    np.testing.assert_allclose(
        coded.model.predict_scores(coded.test.drop(columns="risk")),
        reference.model.predict_scores(test),
        atol=1e-9,
    )
    assert "not_known" not in str(coded.model.predict_frame(coded.test.head()).columns)


def test_batch_scoring_and_the_service_read_a_code_as_missing(coded, german, tmp_path):
    from fastapi.testclient import TestClient

    from tabloop.registry import register
    from tabloop.serve import create_app

    row = german.drop(columns="risk").iloc[[0]]
    assert row["saving_accounts"].item() == "not_known"
    gap = row.assign(saving_accounts=None, age=np.nan)
    code = row.assign(age=999)
    batch = coded.model.predict_scores(pd.concat([code, gap]))
    assert batch[0] == pytest.approx(batch[1], abs=1e-12)

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    raw = _config(CODES).model_dump()
    raw["registry"] = {"tracking_uri": uri}
    raw["serve"] = {"store_url": f"sqlite:///{tmp_path / 'log.db'}"}
    config = config_from_dict(raw)
    config._root = tmp_path
    register(coded, config=config)
    records = json.loads(pd.concat([code, gap]).to_json(orient="records"))
    with TestClient(create_app(config)) as http:
        answer = http.post("/predict", json={"records": records})
    assert answer.status_code == 200, answer.text
    served = [p["probability"] for p in answer.json()["predictions"]]
    np.testing.assert_allclose(served, batch, atol=1e-9)
