"""README's promises on A/B routing, checked over HTTP: a sticky entity keeps its variant on
every app instance and after a restart (a fresh process), the shares hold within binomial
bounds, and a share change moves only the entities it must (none from B back to A)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scipy.stats import binom

from tabloop.serve import create_app
from tests.serve.conftest import TARGET

N_ENTITIES = 3000
LEVEL = 0.999  # the binomial interval each share must fall in
VARIANTS = {"A": "models:/titanic@champion", "B": "models:/titanic@challenger"}
REPO = Path(__file__).resolve().parents[2]


def entity_rows(df, n: int = N_ENTITIES) -> list[dict[str, Any]]:
    """``n`` rows, titanic's passengers cycled, each under its own entity id."""
    features = df.drop(columns=[TARGET, "passenger"])
    part = features.iloc[[i % len(features) for i in range(n)]].reset_index(drop=True)
    part.insert(0, "passenger", [f"e{i}" for i in range(n)])
    return json.loads(part.to_json(orient="records"))


def routes(http: TestClient, rows: list[dict[str, Any]]) -> dict[str, str]:
    answer = http.post("/predict", json={"records": rows})
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    return {row["passenger"]: p["variant"] for row, p in zip(rows, predictions, strict=True)}


def within_binomial(count: int, n: int, p: float) -> bool:
    low, high = binom.interval(LEVEL, n, p)
    return low <= count <= high


@pytest.fixture
def routed(make_config, registered, tmp_path):
    """``routed(traffic, log=name)``: entity → variant for every row, over a fresh app."""
    rows = entity_rows(registered["df"])

    def route(traffic: dict[str, float], log: str = "log.db") -> dict[str, str]:
        config = make_config(
            variants=VARIANTS,
            traffic=traffic,
            sticky_by="passenger",
            store_url=f"sqlite:///{tmp_path / log}",
        )
        with TestClient(create_app(config)) as http:
            return routes(http, rows)

    return route


def test_sticky_routing_is_identical_on_two_instances_and_after_a_restart(
    make_config, registered, tmp_path
):
    rows = entity_rows(registered["df"])
    traffic = {"A": 0.9, "B": 0.1}
    config = make_config(variants=VARIANTS, traffic=traffic, sticky_by="passenger")
    other = make_config(
        variants=VARIANTS,
        traffic=traffic,
        sticky_by="passenger",
        store_url=f"sqlite:///{tmp_path / 'other.db'}",
    )
    # two instances at once (two workers), the rows sent in opposite orders
    with TestClient(create_app(config)) as one, TestClient(create_app(other)) as two:
        first = routes(one, rows)
        second = routes(two, rows[::-1])
        again = routes(one, rows[1000:1500])
    assert first == second
    assert again == {k: first[k] for k in again}
    # a restart: a new process (its own hash seed) builds the app from the same config
    script = (
        "import json, sys\n"
        "from fastapi.testclient import TestClient\n"
        "from tabloop.serve import create_app\n"
        "from tests.serve.conftest import project_config\n"
        "uri, root, rows = json.load(sys.stdin)\n"
        f"config = project_config(uri, __import__('pathlib').Path(root), variants={VARIANTS!r},"
        f" traffic={traffic!r}, sticky_by='passenger', store_url=f'sqlite:///{{root}}/restart.db')\n"
        "with TestClient(create_app(config)) as http:\n"
        "    answer = http.post('/predict', json={'records': rows}).json()\n"
        "print(json.dumps([p['variant'] for p in answer['predictions']]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps([registered["uri"], str(tmp_path), rows]),
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    restarted = json.loads(done.stdout.strip().splitlines()[-1])
    assert dict(zip([r["passenger"] for r in rows], restarted, strict=True)) == first


def test_sticky_shares_of_90_10_are_within_binomial_bounds(routed):
    variants = routed({"A": 0.9, "B": 0.1})
    n_b = sum(v == "B" for v in variants.values())
    assert set(variants.values()) == {"A", "B"}
    assert within_binomial(n_b, N_ENTITIES, 0.1), (n_b, binom.interval(LEVEL, N_ENTITIES, 0.1))


def test_a_share_change_moves_only_the_entities_it_must(routed):
    before = routed({"A": 0.9, "B": 0.1}, log="before.db")
    after = routed({"A": 0.8, "B": 0.2}, log="after.db")
    b_before = {k for k, v in before.items() if v == "B"}
    b_after = {k for k, v in after.items() if v == "B"}
    moved_to_a = b_before - b_after
    moved_to_b = b_after - b_before
    assert not moved_to_a  # nobody leaves B when B grows
    # exactly the entities needed: B's growth, about 10% of all, within binomial bounds
    assert len(moved_to_b) == len(b_after) - len(b_before)
    assert within_binomial(len(moved_to_b), N_ENTITIES, 0.1), len(moved_to_b)
    assert within_binomial(len(b_after), N_ENTITIES, 0.2), len(b_after)


def test_traffic_shares_are_normalised(routed):
    # README: "traffic: shares, normalised" -- 9:1 routes every entity as 0.9/0.1 does
    assert routed({"A": 9, "B": 1}, log="counts.db") == routed({"A": 0.9, "B": 0.1})
