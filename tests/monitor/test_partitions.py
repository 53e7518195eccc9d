"""Map -> merge -> statistics: partitions of a window give the whole frame's figures.

Exact statistics (counts, chi-squared, Jensen-Shannon, PSI, confusion metrics, ROC-AUC,
fairness values and gaps) equal scipy's and sklearn's on the whole frame to 1e-9 whether the
rows come in 1, 3 or 7 partitions; KS and Wasserstein come from KLL sketches and stay within
the error bound the report states.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from tabloop.data import ReferenceProfile
from tabloop.evaluate import MAX_CELLS, merge_cells, realised_from_cells, score_bins
from tabloop.evaluate._cells import SCORE_BINS
from tabloop.monitor import monitor
from tabloop.monitor._column_stats import KLL_K, column_stats
from tabloop.monitor._drift import PSI_EPSILON, drift_from_stats
from tabloop.monitor._estimated import estimated_from_cells, estimated_performance
from tabloop.monitor._fairness import fairness_cells, fairness_from_cells
from tabloop.monitor._performance import cells
from tests.monitor.test_monitor import project  # noqa: F401  (the fixture)

KINDS = {"x": "numeric", "k": "numeric", "plan": "categorical", "flag": "boolean"}
PARTS = [1, 3, 7]


def _frame(n: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x": rng.gamma(2.0, 1.0 + shift, n),
            "k": rng.poisson(3 + shift, n).astype(float),
            "plan": rng.choice(["basic", "plus", "pro", "max"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "flag": rng.random(n) < 0.3 + shift / 5,
        }
    )
    df.loc[df.index[::41], "x"] = np.nan
    df.loc[df.index[::31], "plan"] = None
    return df


def _split(frame: pd.DataFrame, parts: int) -> list[pd.DataFrame]:
    """Unequal, contiguous partitions."""
    cuts = np.sort(np.random.default_rng(parts).choice(np.arange(1, len(frame)), parts - 1, False))
    bounds = [0, *cuts.tolist(), len(frame)]
    return [
        frame.iloc[a:b].reset_index(drop=True) for a, b in zip(bounds, bounds[1:], strict=False)
    ]


def _merged_columns(profile: ReferenceProfile, frame: pd.DataFrame, parts: int) -> dict:
    per_part = [{c: column_stats(profile[c], p[c]) for c in KINDS} for p in _split(frame, parts)]
    return {c: reduce(lambda a, b: a.merge(b), [s[c] for s in per_part]) for c in KINDS}


@pytest.fixture(scope="module")
def drift_data() -> tuple[ReferenceProfile, pd.DataFrame, pd.DataFrame]:
    reference = _frame(6000, 0)
    current = _frame(30_000, 1, shift=0.15)  # more than KLL_K values: the sketch estimates
    return ReferenceProfile.from_frame(reference, kinds=KINDS), reference, current


@pytest.mark.parametrize("parts", PARTS)
def test_categorical_counts_chi2_js_and_psi_equal_scipy_for_any_partitioning(drift_data, parts):
    profile, reference, current = drift_data
    merged = _merged_columns(profile, current, parts)
    report = drift_from_stats(profile, merged, columns=list(KINDS), n_current=len(current))
    found = report.column("plan")
    ref_counts = reference["plan"].value_counts()
    cur_counts = current["plan"].value_counts()
    keys = sorted(ref_counts.index)
    table = np.array([[ref_counts[k] for k in keys], [cur_counts[k] for k in keys]])
    chi2 = stats.chi2_contingency(table)
    assert found.statistic == pytest.approx(chi2.statistic, rel=1e-9)
    assert found.p_value == pytest.approx(chi2.pvalue, rel=1e-9, abs=1e-300)
    shares = table / table.sum(axis=1, keepdims=True)
    assert found.effect == pytest.approx(jensenshannon(shares[0], shares[1], base=2), rel=1e-9)
    psi = np.sum((shares[1] - shares[0]) * np.log(shares[1] / shares[0]))
    assert found.psi == pytest.approx(psi, rel=1e-9)
    population = {r["value"]: r["current_count"] for r in found.population}
    assert population == {**cur_counts.to_dict(), "(missing)": current["plan"].isna().sum()}
    assert found.missing_current == current["plan"].isna().mean()


@pytest.mark.parametrize("parts", PARTS)
def test_numeric_psi_is_exact_and_ks_wasserstein_within_the_sketch_bound(drift_data, parts):
    profile, reference, current = drift_data
    merged = _merged_columns(profile, current, parts)
    found = drift_from_stats(profile, merged, columns=["x"], n_current=len(current)).column("x")
    a, b = reference["x"].dropna().to_numpy(), current["x"].dropna().to_numpy()
    assert profile["x"].exact  # the reference is lossless: any error is the sketch's
    assert not found.sketch["exact"] and found.sketch["k"] == KLL_K
    ks = stats.ks_2samp(a, b).statistic
    assert abs(found.statistic - ks) <= found.sketch["ks_error"]
    w1 = stats.wasserstein_distance(a, b) / a.std()
    assert abs(found.effect - w1) <= found.sketch["effect_error"]
    assert found.drifted  # the verdict of the exact figures: a material, detectable shift
    edges = np.quantile(a, np.arange(1, 10) / 10, method="inverted_cdf")
    bins = np.searchsorted(np.unique(edges), b, side="left")
    ref_bins = np.searchsorted(np.unique(edges), a, side="left")
    cur = np.bincount(bins, minlength=len(np.unique(edges)) + 1) / len(b)
    ref = np.bincount(ref_bins, minlength=len(np.unique(edges)) + 1) / len(a)
    cur, ref = np.where(cur > 0, cur, PSI_EPSILON), np.where(ref > 0, ref, PSI_EPSILON)
    assert found.psi == pytest.approx(np.sum((cur - ref) * np.log(cur / ref)), rel=1e-9)
    assert found.missing_current == current["x"].isna().mean()


def test_a_small_window_is_exact_in_the_sketch_too(drift_data):
    profile, reference, current = drift_data
    small = current.head(KLL_K // 2)
    merged = _merged_columns(profile, small, 3)
    found = drift_from_stats(profile, merged, columns=["x"], n_current=len(small)).column("x")
    a, b = reference["x"].dropna().to_numpy(), small["x"].dropna().to_numpy()
    assert found.sketch["exact"] and found.sketch["ks_error"] == 0
    assert found.statistic == pytest.approx(stats.ks_2samp(a, b).statistic, rel=1e-12)
    w1 = stats.wasserstein_distance(a, b) / a.std()
    assert found.effect == pytest.approx(w1, rel=1e-9)


def _scored(n: int, seed: int, decimals: int | None = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.beta(2, 3, n)
    score = score if decimals is None else score.round(decimals)  # ties, as real scores have
    truth = rng.random(n) < score
    labelled = rng.random(n) < 0.6
    return pd.DataFrame(
        {
            "prediction": np.where(score >= 0.4, "yes", "no"),
            "score": score,
            "outcome": pd.Series(np.where(truth, "yes", "no"), dtype=object).where(labelled),
            "race": rng.choice(["a", "b", "c", None], n, p=[0.5, 0.3, 0.15, 0.05]),
            "department": rng.choice(["north", "south"], n),
            "searched": rng.random(n) < 0.7,
        }
    )


@pytest.mark.parametrize("parts", PARTS)
def test_realised_metrics_from_merged_cells_equal_sklearn(parts):
    frame = _scored(20_000, 3)
    classes = ["no", "yes"]
    table = merge_cells([cells(p, task="binary", classes=classes) for p in _split(frame, parts)])
    out = realised_from_cells(table, task="binary", classes=classes, n_boot=100, seed=1)
    rows = frame[frame["outcome"].notna()]
    y, pred = (rows["outcome"] == "yes").to_numpy(), (rows["prediction"] == "yes").to_numpy()
    metrics = out["metrics"]
    assert out["labelled"] == len(rows)
    expected = {
        "accuracy": accuracy_score(y, pred),
        "balanced_accuracy": balanced_accuracy_score(y, pred),
        "precision": precision_score(y, pred),
        "recall": recall_score(y, pred),
        "f1": f1_score(y, pred),
        "roc_auc": roc_auc_score(y, rows["score"]),
    }
    for name, value in expected.items():
        assert metrics[name]["value"] == pytest.approx(value, rel=1e-9, abs=1e-12)
        assert metrics[name]["ci_low"] <= value <= metrics[name]["ci_high"]
    # the Poisson bootstrap is drawn on the merged counts: the same for any partitioning
    whole = realised_from_cells(
        cells(frame, task="binary", classes=classes),
        task="binary",
        classes=classes,
        n_boot=100,
        seed=1,
    )
    assert out["metrics"] == whole["metrics"]
    matrix = pd.crosstab(y, pred).to_numpy().tolist()
    assert out["confusion_matrix"]["matrix"] == matrix


@pytest.fixture(scope="module")
def many_scores() -> pd.DataFrame:
    """More distinct scores than a table of counts keeps (``MAX_CELLS``)."""
    return _scored(MAX_CELLS + 60_000, 13, decimals=None)


@pytest.mark.parametrize("parts", PARTS)
def test_a_window_with_many_scores_is_pooled_the_same_way_whatever_its_partitions(
    many_scores, parts
):
    classes = ["no", "yes"]
    pieces = _split(many_scores, parts)
    assert all(len(p) < MAX_CELLS for p in pieces) or parts == 1  # the merge decides
    table = merge_cells([cells(p, task="binary", classes=classes) for p in pieces])
    whole = cells(many_scores, task="binary", classes=classes)
    assert score_bins(table) == score_bins(whole) == SCORE_BINS[0]
    assert len(table) <= 5 * SCORE_BINS[0]  # (outcome, prediction) pairs and unlabelled, per bin
    pd.testing.assert_frame_equal(table, whole)

    out = realised_from_cells(table, task="binary", classes=classes, n_boot=50, seed=1)
    rows = many_scores[many_scores["outcome"].notna()]
    y, pred = (rows["outcome"] == "yes").to_numpy(), (rows["prediction"] == "yes").to_numpy()
    metrics = out["metrics"]
    for name, exact in {
        "accuracy": accuracy_score(y, pred),
        "precision": precision_score(y, pred),
        "recall": recall_score(y, pred),
        "f1": f1_score(y, pred),
    }.items():  # the bins keep every score on its side of the threshold
        assert metrics[name]["value"] == pytest.approx(exact, rel=1e-9, abs=1e-12)
    auc = metrics["roc_auc"]
    exact_auc = roc_auc_score(y, rows["score"])
    assert 0 < auc["error_bound"] < 1e-3
    assert abs(auc["value"] - exact_auc) <= auc["error_bound"]
    brier = np.mean((rows["score"].to_numpy() - y) ** 2)
    assert abs(metrics["brier"]["value"] - brier) <= 1 / SCORE_BINS[0]


@pytest.mark.parametrize("parts", [1, 4])
def test_many_small_chunks_pool_coarser_until_the_table_fits(parts):
    """Chunks of a few thousand rows keep most of their scores apart even in 4,096 bins:
    the table goes to the next level, the same one for any partitioning."""
    classes, chunks, per_chunk = ["no", "yes"], 200, 3000
    frame = _scored(chunks * per_chunk, 17, decimals=None)
    by = np.repeat(np.arange(chunks), per_chunk)
    pieces = np.array_split(np.arange(len(frame)), parts)
    tables = [
        cells(frame.iloc[i], task="binary", classes=classes, by={"chunk": by[i]}) for i in pieces
    ]
    table = merge_cells(tables)
    assert score_bins(table) == SCORE_BINS[1] and len(table) <= MAX_CELLS
    whole = cells(frame, task="binary", classes=classes, by={"chunk": by})
    pd.testing.assert_frame_equal(table, whole)
    first = frame.iloc[:per_chunk]
    labelled = first[first["outcome"].notna()]
    out = realised_from_cells(
        table[table["chunk"] == 0], task="binary", classes=classes, n_boot=0, seed=1
    )
    y = (labelled["outcome"] == "yes").to_numpy()
    auc = out["metrics"]["roc_auc"]
    assert abs(auc["value"] - roc_auc_score(y, labelled["score"])) <= auc["error_bound"]
    pred = (labelled["prediction"] == "yes").to_numpy()
    assert out["metrics"]["precision"]["value"] == pytest.approx(precision_score(y, pred))


def test_a_table_without_scores_is_never_called_pooled():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"prediction": rng.normal(size=300), "outcome": rng.normal(size=300)})
    table = cells(frame, task="regression", classes=[], max_cells=100)
    assert score_bins(table) is None and len(table) == 300
    assert score_bins(merge_cells([table, table], max_cells=100)) is None


def test_a_window_below_the_cell_limit_keeps_every_score(many_scores):
    classes = ["no", "yes"]
    few = many_scores.iloc[: MAX_CELLS // 2]
    table = cells(few, task="binary", classes=classes)
    assert score_bins(table) is None
    assert sorted(table["score"].unique()) == sorted(few["score"].unique())


@pytest.mark.parametrize("parts", PARTS)
def test_cbpe_from_merged_cells_equals_the_estimate_on_the_rows(parts):
    frame = _scored(8000, 5)
    classes = ["no", "yes"]
    table = merge_cells([cells(p, task="binary", classes=classes) for p in _split(frame, parts)])
    found = estimated_from_cells(table, threshold=0.4)
    y = frame["outcome"].map({"yes": 1.0, "no": 0.0})
    expected = estimated_performance(frame["score"], threshold=0.4, y_true=y)
    assert found is not None
    for name, entry in expected["estimated"]["metrics"].items():
        for key, value in entry.items():
            assert found["estimated"]["metrics"][name][key] == pytest.approx(value, rel=1e-9)
    assert found["labelled"]["realised"] == expected["labelled"]["realised"]
    for key in ("brier", "ece", "brier_if_calibrated"):
        assert found["calibration"][key] == pytest.approx(expected["calibration"][key], rel=1e-9)


class _Fairness:
    protected = ("race",)
    segment = "department"
    metric = "precision"
    min_group_size = 30
    max_gap = 0.05
    intersections = True
    human_decision = "searched"


@pytest.mark.parametrize("parts", PARTS)
def test_fairness_from_merged_counts_equals_groupby_precision_and_the_gap(parts):
    frame = _scored(12_000, 7)
    settings = _Fairness()
    tables = [fairness_cells(p, settings, classes=["no", "yes"]) for p in _split(frame, parts)]
    audit, note = fairness_from_cells(merge_cells(tables), settings, n_boot=200, seed=0)
    assert note is None and audit is not None
    rows = frame[frame["outcome"].notna()].assign(race=lambda d: d["race"].fillna("(missing)"))
    positive = rows[rows["prediction"] == "yes"]
    precision = positive.groupby("race")["outcome"].apply(lambda s: (s == "yes").mean())
    by_group = {
        r["group"]: r["value"] for r in audit["model"]["by_group"] if r["segment"] == "(all)"
    }
    for race, value in precision.items():
        assert by_group[race] == pytest.approx(value, rel=1e-9)
    gap = next(g for g in audit["model"]["gaps"] if g["segment"] == "(all)")
    counted = positive["race"].value_counts()
    values = precision[counted[counted >= 30].index]
    assert gap["gap"] == pytest.approx(values.max() - values.min(), rel=1e-9)
    # identical for any partitioning: intervals too (they depend on the counts only)
    whole, _ = fairness_from_cells(
        fairness_cells(frame, settings, classes=["no", "yes"]), settings, n_boot=200, seed=0
    )
    assert audit == whole


def _pooled_map(func: Any, items: Any) -> list[Any]:
    with ProcessPoolExecutor(max_workers=2) as pool:
        return list(pool.map(func, items))


def _without_sample_dependent(report: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in report.items() if k not in ("generated_at", "source")}
    out["drift"] = {k: v for k, v in report["drift"].items() if k != "multivariate"}
    out["window"] = {k: v for k, v in report["window"].items() if k != "partitions"}
    out["requirements"] = [
        r for r in report["requirements"] if "multivariate" not in r["expression"]
    ]
    return out


def test_a_process_pool_map_over_partitions_gives_the_whole_frame_report(
    project,  # noqa: F811 - the fixture imported above
    stops_model,
):
    from tabloop.examples import traffic_stops

    config = project(
        segment="search_authorization",
        chunk="2d",
        min_chunk_rows=30,
        fairness={"protected": ["race"], "segment": "department", "min_group_size": 10},
    )
    production = traffic_stops(1200, seed=5, production=True)
    scored = stops_model["result"].model.predict_frame(production, validate=False)
    scored["created_at"] = pd.Timestamp("2025-03-01", tz="UTC") + pd.to_timedelta(
        np.arange(len(scored)) * 7, unit="min"
    )
    scored = scored.rename(columns={"contraband": "outcome"})
    whole = monitor(config, data=scored).to_dict()
    loaders = [part for part in _split(scored, 7)]
    split = monitor(config, partitions=loaders, map=_pooled_map).to_dict()
    assert split["window"]["partitions"] == 7 and whole["window"]["partitions"] == 1
    assert "7 partition(s)" in split["drift"]["multivariate"]["sample"]
    assert _without_sample_dependent(split) == _without_sample_dependent(whole)
    rows = monitor(config, partitions=loaders, chunk="100").to_dict()["chunks"]
    assert [c["rows"] for c in rows] == [100] * 12


@pytest.mark.parametrize("parts", PARTS)
def test_a_numeric_column_with_few_values_keeps_exact_counts_beyond_the_sketch(drift_data, parts):
    profile, reference, current = drift_data
    merged = _merged_columns(profile, current, parts)
    found = drift_from_stats(profile, merged, columns=["k"], n_current=len(current)).column("k")
    a, b = reference["k"].to_numpy(), current["k"].to_numpy()
    assert len(b) > KLL_K and found.sketch["exact"] and found.sketch["ks_error"] == 0
    assert found.statistic == pytest.approx(stats.ks_2samp(a, b).statistic, rel=1e-12)
    w1 = stats.wasserstein_distance(a, b) / a.std()
    assert found.effect == pytest.approx(w1, rel=1e-9)


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_a_file_read_in_partitions_gives_the_whole_frame_report(
    project,  # noqa: F811 - the fixture imported above
    stops_model,
    tmp_path,
    suffix,
):
    from tabloop.examples import traffic_stops
    from tabloop.monitor._partition import file_partitions

    config = project(chunk="150")
    production = traffic_stops(1000, seed=9, production=True)
    scored = stops_model["result"].model.predict_frame(production, validate=False)
    scored = scored.rename(columns={"contraband": "outcome", "date": "created_at"})
    path = tmp_path / f"production.{suffix}"
    if suffix == "parquet":
        scored.to_parquet(path, row_group_size=100)
    else:
        scored.to_csv(path, index=False)
    pieces = list(file_partitions(path, rows=250))
    assert (
        [len(p() if callable(p) else p) for p in pieces] == [300, 300, 300, 100]
        if (suffix == "parquet")
        else [250] * 4
    )
    # a Parquet piece is a loader a worker calls; a CSV file is read here, chunk by chunk
    assert all(callable(p) for p in pieces) == (suffix == "parquet")
    whole = monitor(config, data=path).to_dict()
    split = monitor(config, partitions=file_partitions(path, rows=250)).to_dict()
    assert split["window"]["partitions"] == 4
    assert _without_sample_dependent(split) == _without_sample_dependent(whole)
    assert [c["rows"] for c in split["chunks"]] == [150] * 6 + [100]


def test_the_log_read_in_time_ranges_gives_the_whole_window_report(
    project,  # noqa: F811 - the fixture imported above
    stops_model,
):
    from tabloop.examples import traffic_stops
    from tabloop.monitor._monitor import _plan, _report, map_partitions
    from tabloop.monitor._partition import LogPiece, log_partitions
    from tabloop.registry import load_package
    from tests.stops import fill_log

    config = project(chunk="1d", segment="search_authorization")
    rows = traffic_stops(900, seed=11, production=True)
    fill_log(config.serve.store_url, stops_model["result"].model, rows, labels=rows["contraband"])
    package = load_package(None, config=config)
    profile = package.reference_profile()
    plan = _plan(config, package, profile, "1d", None, None, False, 0, "the log")
    url = config.serve.store_url
    ranges = log_partitions(url, since=None, until=None, variant=None, rows=200)
    assert len(ranges) >= 4 and all(isinstance(r, LogPiece) for r in ranges)
    reports = []
    for items in (log_partitions(url, since=None, until=None, variant=None), ranges):
        stats = map_partitions(plan, items)
        reports.append(_report(stats, plan, package, config, "log", None, None, lambda _: None))
    whole, split = (_without_sample_dependent(r) for r in reports)
    assert split == whole and whole["window"]["rows"] == 900
    assert monitor(config, chunk="1d").to_dict()["performance"] == whole["performance"]


def test_the_report_says_when_the_chunks_scores_are_pooled(project, stops_model):  # noqa: F811
    """README "At scale": pooling is never silent. 120,000 rows with continuous scores fill
    the table per chunk past CHUNK_CELLS but leave the window's below MAX_CELLS."""
    from tabloop.evaluate import CHUNK_CELLS
    from tabloop.examples import traffic_stops

    rows = CHUNK_CELLS + 20_000
    scored = stops_model["result"].model.predict_frame(
        traffic_stops(rows, seed=9, production=True), validate=False
    )
    scored["probability"] = np.random.default_rng(9).random(rows)  # one distinct score per row
    scored["prediction"] = scored["probability"] >= 0.5
    scored["created_at"] = pd.Timestamp("2025-03-01", tz="UTC") + pd.to_timedelta(
        np.arange(rows) * 5, unit="min"
    )
    report = monitor(project(chunk="7d"), data=scored.rename(columns={"contraband": "outcome"}))
    report = report.to_dict()
    pooled = [n for n in report["notes"] if "pooled" in n]
    assert len(pooled) == 1 and pooled[0].startswith("the table per chunk holds more than")
    assert "error_bound" not in report["performance"]["metrics"]["roc_auc"]
    judged = [c for c in report["chunks"] if "roc_auc" in c["metrics"]]
    assert judged and all("error_bound" in c["metrics"]["roc_auc"] for c in judged)
