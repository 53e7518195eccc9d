"""The service's Prometheus metrics in process: per-variant score histograms checked against
the probabilities the service answered, the model-info gauge, process metrics, and the
buckets chosen for a regression's scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tabloop.serve import create_app
from tabloop.serve._metrics import PROBABILITY_BUCKETS, REGRESSION_QUANTILES, score_buckets
from tests.serve.conftest import AB
from tests.serve.test_app import rows_of


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition text, by name and label set."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped[(name, frozenset(labels.items()))]


def test_score_histogram_per_variant_counts_the_answered_probabilities(make_config, registered):
    rows = rows_of(registered["df"], 300)
    with TestClient(create_app(make_config(**AB))) as http:
        answers = http.post("/predict", json={"records": rows}).json()["predictions"]
        scraped = samples(http.get("/metrics").text)
    for name in ("A", "B"):
        probabilities = np.array([a["probability"] for a in answers if a["variant"] == name])
        assert len(probabilities) > 50  # a fair split of 300 rows
        assert value(scraped, "tabloop_score_count", variant=name) == len(probabilities)
        assert value(scraped, "tabloop_score_sum", variant=name) == pytest.approx(
            probabilities.sum()
        )
        for bound in (0.05, 0.25, 0.5, 0.75, 0.95):
            assert value(scraped, "tabloop_score_bucket", variant=name, le=str(bound)) == (
                int((probabilities <= bound).sum())
            )
        version = {"A": "1", "B": "2"}[name]
        assert value(scraped, "tabloop_predictions_total", variant=name, model_version=version) == (
            len(probabilities)
        )
        assert value(scraped, "tabloop_model_info", variant=name, model="titanic", version=version)
    assert value(scraped, "process_resident_memory_bytes") > 0
    assert value(scraped, "process_start_time_seconds") > 0


def test_model_info_follows_a_reload_to_the_new_version(make_config, registered):
    from mlflow import MlflowClient

    from tabloop.registry import promote

    with TestClient(create_app(make_config())) as http:
        config = http.app.state.serve.config
        before = samples(http.get("/metrics").text)
        try:
            promote(2, config)
            http.post("/admin/reload")
            after = samples(http.get("/metrics").text)
        finally:  # put the aliases back as the other tests expect them
            promote(1, config)
            MlflowClient(registered["uri"]).set_registered_model_alias("titanic", "challenger", "2")
    info = {k: v for k, v in before.items() if k[0] == "tabloop_model_info"}
    labels = {"variant": "champion", "model": "titanic", "version": "1"}
    assert info == {("tabloop_model_info", frozenset(labels.items())): 1.0}
    info = {k: v for k, v in after.items() if k[0] == "tabloop_model_info"}
    labels["version"] = "2"
    assert info == {("tabloop_model_info", frozenset(labels.items())): 1.0}


def test_classifier_scores_use_probability_buckets_and_a_regression_its_target_quantiles():
    assert score_buckets("binary") == score_buckets("multiclass") == PROBABILITY_BUCKETS
    assert PROBABILITY_BUCKETS[0] == 0.05 and PROBABILITY_BUCKETS[-1] == 1.0
    assert len(PROBABILITY_BUCKETS) == 20
    spend = np.random.default_rng(0).lognormal(4, 1, size=5000)
    expected = [float(f"{q:.4g}") for q in np.quantile(spend, REGRESSION_QUANTILES)]
    assert list(score_buckets("regression", np.append(spend, np.nan))) == expected
    # no training target known: prometheus_client's default buckets
    assert score_buckets("regression")[:3] == (0.005, 0.01, 0.025)


def test_a_served_regression_buckets_its_scores_at_the_training_target_quantiles(tmp_path, load):
    from tabloop.config import config_from_dict
    from tabloop.registry import load_package, register
    from tabloop.train import train

    target = "m2_price"
    df = load("apartments").rename(columns={"Unnamed: 0": "apartment"})
    raw = {
        "name": "prices",
        "data": {"train": "(memory)", "target": target, "id": "apartment"},
        "train": {"models": ["linear"], "folds": 3, "learning_curve": False, "ensemble": False},
        "evaluate": {"bootstrap": 0, "importance": False},
        "registry": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
        "serve": {"store_url": f"sqlite:///{tmp_path / 'log.db'}"},
    }
    config = config_from_dict(raw)
    config._root = tmp_path
    register(train(df, config=config), config=config)
    reference = load_package("models:/prices/1", config=config).reference_sample()
    known = reference[target].to_numpy(dtype=float)
    edges = [float(f"{q:.4g}") for q in np.quantile(known, REGRESSION_QUANTILES)]
    assert edges[0] < edges[-1]
    rows = json.loads(df.drop(columns=target).head(100).to_json(orient="records"))
    with TestClient(create_app(config)) as http:
        answers = http.post("/predict", json={"records": rows}).json()["predictions"]
        scraped = samples(http.get("/metrics").text)
    predicted = np.array([a["prediction"] for a in answers])
    buckets = {
        float(dict(k[1])["le"]): v
        for k, v in scraped.items()
        if k[0] == "tabloop_score_bucket" and ("variant", "champion") in k[1]
    }
    assert sorted(buckets) == [*edges, float("inf")]
    for edge in edges:
        assert buckets[edge] == int((predicted <= edge).sum())
    assert value(scraped, "tabloop_score_sum", variant="champion") == pytest.approx(predicted.sum())
