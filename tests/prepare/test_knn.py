"""FastKNNImputer: the same output as scikit-learn's KNNImputer, computed faster."""

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.impute import KNNImputer
from sklearn.utils.estimator_checks import parametrize_with_checks

from tabloop.prepare._knn import TREE_MIN_ROWS, FastKNNImputer

TOLERANCE = 1e-9


def both(fit, X, **params):
    """scikit-learn's and tabloop's transform of ``X`` after fitting on ``fit``."""
    expected = KNNImputer(**params).fit(fit).transform(X)
    got = FastKNNImputer(**params).fit(fit).transform(X)
    return expected, got


def row_by_row(fit, X, **params):
    """scikit-learn's transform of each row of ``X`` alone, and tabloop's of all of ``X``.

    The reference where ties are likely: scikit-learn breaks a tie at the k-th distance by
    the rounding of its BLAS products, which depends on the rows transformed together."""
    reference = KNNImputer(**params).fit(fit)
    expected = np.vstack([reference.transform(X[i : i + 1]) for i in range(len(X))])
    return expected, FastKNNImputer(**params).fit(fit).transform(X)


def assert_same(expected, got):
    assert got.shape == expected.shape
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.nanmax(np.abs(got - expected), initial=0.0) <= TOLERANCE


def with_holes(rng, shape, share, scale=1.0, offset=0.0):
    values = rng.normal(size=shape) * scale + offset
    values[rng.random(shape) < share] = np.nan
    return values


@parametrize_with_checks([FastKNNImputer()])
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


@pytest.mark.parametrize("share", [0.05, 0.3, 0.6])
@pytest.mark.parametrize("n_neighbors", [1, 3, 5])
def test_equals_sklearn_on_random_patterns(share, n_neighbors):
    rng = np.random.default_rng(int(share * 100) + n_neighbors)
    scale = rng.uniform(0.1, 1_000, 7)  # unscaled columns: the trick's cancellation matters
    fit = with_holes(rng, (400, 7), share, scale, offset=5_000.0)
    X = with_holes(rng, (900, 7), share, scale, offset=5_000.0)
    assert_same(*both(fit, X, n_neighbors=n_neighbors))


def test_equals_sklearn_on_large_pattern_groups():
    # enough rows per missing-value pattern for the k-d tree path, plus the brute-force rest
    rng = np.random.default_rng(7)
    fit = with_holes(rng, (2_000, 5), 0.1, scale=3.0)
    X = with_holes(rng, (10 * TREE_MIN_ROWS, 5), 0.08, scale=3.0)
    assert_same(*both(fit, X))


def test_ties_are_broken_as_sklearn_does_for_the_row():
    # integer data: many donors at exactly the k-th distance, with different values
    rng = np.random.default_rng(3)
    fit = np.round(with_holes(rng, (1_500, 4), 0.1, scale=2.0))
    X = np.round(with_holes(rng, (30 * TREE_MIN_ROWS, 4), 0.15, scale=2.0))
    assert_same(*row_by_row(fit, X))


def test_duplicate_rows_of_the_training_data():
    rng = np.random.default_rng(4)
    fit = with_holes(rng, (300, 4), 0.2)
    X = fit[rng.integers(0, 300, 600)]
    assert_same(*row_by_row(fit, X, n_neighbors=4))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_fit=st.integers(1, 40),
    n=st.integers(1, 40),
    n_features=st.integers(1, 5),
    share=st.floats(0.0, 0.9),
    n_neighbors=st.integers(1, 6),
    keep_empty=st.booleans(),
    indicator=st.booleans(),
)
def test_equals_sklearn_on_any_small_table(
    seed, n_fit, n, n_features, share, n_neighbors, keep_empty, indicator
):
    rng = np.random.default_rng(seed)
    fit = np.round(with_holes(rng, (n_fit, n_features), share), 1)
    X = np.round(with_holes(rng, (n, n_features), share), 1)
    params = {
        "n_neighbors": n_neighbors,
        "keep_empty_features": keep_empty,
        "add_indicator": indicator,
    }
    assert_same(*row_by_row(fit, X, **params))


def test_rows_with_every_column_missing_get_the_training_mean():
    fit = np.array([[1.0, 10.0], [3.0, np.nan], [5.0, 30.0]])
    X = np.array([[np.nan, np.nan], [2.0, np.nan]])
    expected, got = both(fit, X, n_neighbors=2)
    assert_same(expected, got)
    np.testing.assert_allclose(got[0], [3.0, 20.0])


def test_no_shared_observed_column_gives_the_training_mean():
    # the receiver observes only column 0; donors with column 1 observed miss column 0
    fit = np.array([[np.nan, 10.0], [np.nan, 20.0], [1.0, np.nan]])
    X = np.array([[1.0, np.nan]])
    expected, got = both(fit, X)
    assert_same(expected, got)
    assert got[0, 1] == pytest.approx(15.0)


@pytest.mark.parametrize("keep_empty_features", [True, False])
def test_columns_never_observed_in_training(keep_empty_features):
    rng = np.random.default_rng(5)
    fit = with_holes(rng, (200, 4), 0.2)
    fit[:, 2] = np.nan
    X = with_holes(rng, (300, 4), 0.2)
    params = {"keep_empty_features": keep_empty_features, "add_indicator": True}
    assert_same(*both(fit, X, **params))


def test_fewer_donors_than_neighbours():
    fit = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 6.0]])
    X = np.array([[1.5, np.nan], [np.nan, 4.0]])
    assert_same(*both(fit, X, n_neighbors=5))


def test_other_settings_fall_back_to_sklearn():
    rng = np.random.default_rng(6)
    fit, X = with_holes(rng, (100, 3), 0.2), with_holes(rng, (50, 3), 0.2)
    assert_same(*both(fit, X, weights="distance"))
    fit0, X0 = np.nan_to_num(fit, nan=-1.0), np.nan_to_num(X, nan=-1.0)
    assert_same(*both(fit0, X0, missing_values=-1.0))


@pytest.mark.parametrize("name", ["titanic", "apartments_test"])
def test_equals_sklearn_on_a_real_dataset(load, name):
    # the shared datasets have no missing values: blank out 15% (seeded); their many
    # repeated values (fares, counts, years) make exact ties at the k-th distance common
    df = load(name).select_dtypes("number")
    values = df.to_numpy(dtype=float)
    rng = np.random.default_rng(11)
    values[rng.random(values.shape) < 0.15] = np.nan
    half = len(values) // 2
    assert_same(*row_by_row(values[:half], values[half : half + 1_500], n_neighbors=5))


def test_equals_sklearn_on_the_scaled_demo_columns():
    from sklearn.preprocessing import StandardScaler

    from tabloop.examples import treatment_outcomes

    df = treatment_outcomes(n=6_000, seed=2).select_dtypes("number").drop(columns="patient_id")
    values = df.drop(columns="unsuccessful_outcome").to_numpy(dtype=float)
    for X in (values, StandardScaler().fit_transform(values)):
        assert_same(*both(X[:2_000], X[2_000:], n_neighbors=5))


def test_a_pickled_sklearn_imputer_still_loads_and_matches():
    rng = np.random.default_rng(8)
    fit, X = with_holes(rng, (200, 3), 0.2), with_holes(rng, (100, 3), 0.2)
    old = pickle.loads(pickle.dumps(KNNImputer().fit(fit)))
    new = pickle.loads(pickle.dumps(FastKNNImputer().fit(fit)))
    assert_same(old.transform(X), new.transform(X))


def test_rows_get_bit_identical_values_whatever_rows_are_scored_with_them():
    # a chunk decides which search path a pattern takes; the values must not depend on it
    rng = np.random.default_rng(9)
    fit = np.round(with_holes(rng, (1_000, 5), 0.15, scale=3.0))  # with ties
    X = np.round(with_holes(rng, (3_000, 5), 0.15, scale=3.0))
    imputer = FastKNNImputer().fit(fit)
    whole = imputer.transform(X)
    pieces = np.vstack([imputer.transform(X[i : i + 37]) for i in range(0, len(X), 37)])
    assert np.array_equal(whole, pieces)


def test_refitting_forgets_the_search_trees_of_the_earlier_fit():
    rng = np.random.default_rng(10)
    X = with_holes(rng, (20 * TREE_MIN_ROWS, 3), 0.2)
    imputer = FastKNNImputer()
    for fit in (with_holes(rng, (300, 3), 0.2), with_holes(rng, (300, 3), 0.2, offset=5.0)):
        got = imputer.fit(fit).transform(X)
        assert_same(KNNImputer().fit(fit).transform(X), got)
