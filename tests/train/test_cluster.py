"""fit_segments / segment_profiles, checked against the truth of make_blobs, sklearn and pandas."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, davies_bouldin_score, silhouette_score
from sklearn.mixture import GaussianMixture

from tabloop.exceptions import TrainError
from tabloop.train._cluster import fit_segments
from tabloop.train._segment_profiles import segment_profiles

CENTRES = [(-10, -10), (-10, 10), (10, -10), (10, 10)]  # far apart: no overlapping points


def blobs(n=600, seed=0):
    X, truth = make_blobs(n_samples=n, centers=CENTRES, cluster_std=1.0, random_state=seed)
    return pd.DataFrame(X, columns=["x1", "x2"]), truth


@pytest.fixture(scope="module")
def four_blobs():
    X, truth = blobs()
    return X, truth, fit_segments(X)


def test_kmeans_finds_the_four_centres_by_silhouette(four_blobs):
    X, truth, segments = four_blobs
    assert segments.k == 4 and segments.method == "kmeans"
    assert isinstance(segments.model_, KMeans)
    assert adjusted_rand_score(truth, segments.labels_) == 1.0
    assert sorted(segments.silhouette_by_k) == list(range(2, 9))
    assert max(segments.silhouette_by_k, key=segments.silhouette_by_k.get) == 4


def test_final_scores_equal_sklearn_on_all_rows(four_blobs):
    X, _, segments = four_blobs
    assert segments.silhouette_rows == len(X)  # no more rows than `sample`: all rows
    assert segments.silhouette == pytest.approx(silhouette_score(X, segments.labels_))
    assert segments.davies_bouldin == pytest.approx(davies_bouldin_score(X, segments.labels_))
    assert segments.silhouette == segments.silhouette_by_k[4]


def test_segments_are_numbered_by_size_and_predict_reproduces_labels(four_blobs):
    X, _, segments = four_blobs
    sizes = [segments.sizes[s] for s in range(segments.k)]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == len(X)
    assert sizes == np.bincount(segments.labels_).tolist()
    np.testing.assert_array_equal(segments.predict(X), segments.labels_)


def test_gmm_finds_the_four_centres():
    X, truth = blobs(seed=1)
    segments = fit_segments(X, method="gmm", k_range=(2, 6), seed=3)
    assert segments.k == 4 and isinstance(segments.model_, GaussianMixture)
    assert adjusted_rand_score(truth, segments.labels_) == 1.0
    assert segments.silhouette == pytest.approx(silhouette_score(X, segments.labels_))
    np.testing.assert_array_equal(segments.predict(X.to_numpy()), segments.labels_)


def test_a_fixed_k_is_used_as_given():
    X, _ = blobs()
    segments = fit_segments(X, k=3)
    assert segments.k == 3 and len(np.unique(segments.labels_)) == 3
    assert segments.silhouette_by_k == {3: segments.silhouette}


def test_large_data_computes_the_silhouette_on_a_subsample_and_says_so():
    X, truth = blobs(n=3_000)
    segments = fit_segments(X, k_range=(3, 5), sample=500)
    assert segments.k == 4 and adjusted_rand_score(truth, segments.labels_) == 1.0
    assert segments.silhouette_rows == 500
    assert any("subsample of 500 of 3,000 rows" in note for note in segments.notes)
    assert segments.silhouette == pytest.approx(silhouette_score(X, segments.labels_), abs=0.03)
    assert segments.davies_bouldin == pytest.approx(davies_bouldin_score(X, segments.labels_))


def test_k_range_is_narrowed_to_the_rows_available():
    X, _ = blobs(n=6)
    segments = fit_segments(X, k_range=(2, 8))
    assert sorted(segments.silhouette_by_k) == [2, 3, 4, 5]
    assert any("narrowed to (2, 5)" in note for note in segments.notes)


def test_to_dict_is_json_safe(four_blobs):
    data = four_blobs[2].to_dict()
    assert json.loads(json.dumps(data, allow_nan=False))["k"] == 4
    assert data["sizes"] == four_blobs[2].sizes


@pytest.fixture(scope="module")
def people():
    rng = np.random.default_rng(0)
    n = 400
    segment = rng.integers(0, 3, n)
    df = pd.DataFrame(
        {
            "age": rng.normal(30 + 15 * segment, 3),
            "income": rng.lognormal(10, 0.3, n),
            "city": np.where(segment == 2, "Oslo", rng.choice(["Rome", "Lima"], n)),
            "member": rng.random(n) < 0.5,
        }
    )
    df.loc[[3, 7], "income"] = np.nan
    return df, segment


def test_profiles_report_counts_means_and_top_values_like_pandas(people):
    df, segment = people
    profile = segment_profiles(df, segment)
    grouped = df.groupby(segment)
    assert profile.index.tolist() == [0, 1, 2]
    pd.testing.assert_series_equal(
        profile["count"], grouped.size(), check_names=False, check_index_type=False
    )
    assert profile["share"].sum() == pytest.approx(1.0)
    for col in ("age", "income"):
        np.testing.assert_allclose(profile[f"{col} mean"], grouped[col].mean())
    for s, rows in grouped:
        top = rows["city"].value_counts()
        assert profile.loc[s, "city top"] == top.index[0]
        assert profile.loc[s, "city top share"] == pytest.approx(top.iloc[0] / len(rows))
    assert profile.loc[2, "city top"] == "Oslo" and profile.loc[2, "city top share"] == 1.0


def test_profiles_name_the_most_distinguishing_columns_first(people):
    df, segment = people
    profile = segment_profiles(df, segment, distinguishing=2)
    age = df["age"]
    smd = (age[segment == 0].mean() - age[segment != 0].mean()) / age.std(ddof=0)
    assert profile.loc[0, "distinguishing"].startswith(f"age {smd:+.1f} sd")
    assert "city=Oslo 100% vs 0%" in profile.loc[2, "distinguishing"]
    assert all(text.count(",") == 1 for text in profile["distinguishing"])
    assert "income" not in profile.loc[0, "distinguishing"]


@pytest.mark.parametrize(
    ("X", "kwargs", "match"),
    [
        (pd.DataFrame({"a": [0.0, 1.0, 2.0]}), {"k": 3}, "X has 3 rows, fewer than k \\+ 1"),
        (pd.DataFrame({"a": [0.0, 1.0]}), {}, "fewer than the smallest k"),
        (pd.DataFrame({"a": [0.0, 1.0], "b": ["x", "y"]}), {}, r"column\(s\) \['b'\] are not"),
        (pd.DataFrame({"a": [0.0, np.nan, 1.0]}), {}, r"1 missing or infinite value.*\['a'\]"),
        (np.array([["a", "b"]]), {}, "numeric matrix"),
        (pd.DataFrame({"a": [0.0, 1.0, 2.0]}), {"k_range": (3, 2)}, "k_range must be"),
        (pd.DataFrame({"a": [0.0, 1.0, 2.0]}), {"k_range": (1, 4)}, "k_range must be"),
        (pd.DataFrame({"a": [0.0, 1.0, 2.0]}), {"k_range": "2-8"}, "k_range must be"),
        (pd.DataFrame({"a": [0.0, 1.0, 2.0]}), {"k": 1}, "k must be an integer of at least 2"),
        (pd.DataFrame({"a": [0.0, 1.0, 2.0]}), {"method": "dbscan"}, "method must be one of"),
        (pd.DataFrame({"a": [0.0, 1.0, 2.0]}), {"sample": 0}, "sample must be"),
        (pd.DataFrame({"a": []}, dtype=float), {}, "2-D matrix with rows"),
    ],
)
def test_bad_inputs_raise_train_error(X, kwargs, match):
    with pytest.raises(TrainError, match=match):
        fit_segments(X, **kwargs)


def test_predict_rejects_other_columns(four_blobs):
    X, _, segments = four_blobs
    with pytest.raises(TrainError, match=r"missing \['x2'\], unexpected \['y'\]"):
        segments.predict(X.rename(columns={"x2": "y"}))


def test_profiles_need_one_label_per_row(people):
    df, segment = people
    with pytest.raises(TrainError, match="df has 400 rows"):
        segment_profiles(df, segment[:-1])
    with pytest.raises(TrainError, match="1 missing value"):
        segment_profiles(df, np.r_[segment[:-1], np.nan])


def _independent_silhouettes(X, ks):
    """Silhouette of KMeans(n_init=10, random_state=0) at each k, computed with sklearn."""
    return {
        k: silhouette_score(X, KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(X))
        for k in ks
    }


def test_flat_silhouettes_of_one_gaussian_cloud_are_called_no_structure():
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(600, 4)))
    expected = _independent_silhouettes(X, range(2, 9))
    assert max(expected.values()) <= 0.25 and np.ptp(list(expected.values())) < 0.02
    structure = fit_segments(X).to_dict()["structure"]
    assert structure["strength"] == "none" and structure["flat"] and structure["warn"]
    low, high = min(expected.values()), max(expected.values())
    assert structure["message"] == (
        f"no substantial structure (silhouette {max(expected.values()):.3f} <= 0.25); "
        f"flat across k ({low:.3f}–{high:.3f} for k = 2..8): no k fits better than another; "
        "the segments cut a continuum rather than find groups"
    )


def test_well_separated_blobs_are_called_strong_structure(four_blobs):
    structure = four_blobs[2].to_dict()["structure"]
    assert structure == {
        "strength": "strong",
        "flat": False,
        "warn": False,
        "message": f"strong structure (silhouette {four_blobs[2].silhouette:.3f})",
    }


def test_clustering_summary_says_the_structure_and_has_no_empty_models_line(tmp_path):
    from tabloop.config import config_from_dict
    from tabloop.workflows import summary_lines, train_and_register

    df = pd.DataFrame(np.random.default_rng(0).normal(size=(600, 4)), columns=list("abcd"))
    cfg = config_from_dict(
        {"name": "c", "task": "clustering", "data": {"train": "(memory)"}, "evaluate": {}}
    )
    run = train_and_register(cfg, df=df, out_dir=tmp_path, register=False)
    lines = summary_lines(run)
    assert not any(line.startswith("models (cross-validated") for line in lines)
    start = next(i for i, line in enumerate(lines) if line.startswith("clusters: "))
    said = lines[start : start + 3]
    assert said[0].startswith("clusters: no substantial structure (silhouette 0.")
    assert said[1].startswith("  flat across k (") and said[1].endswith(
        "no k fits better than another"
    )
    assert said[2] == "  the segments cut a continuum rather than find groups"
    assert all(len(line) <= 80 for line in said)
    saved = json.loads((tmp_path / "evaluation.json").read_text())
    assert saved["charts"]["segments"]["structure"]["warn"] is True
    assert "Clusters: no substantial structure" in (tmp_path / "evaluation.html").read_text()
