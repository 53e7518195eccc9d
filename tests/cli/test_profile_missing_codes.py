"""`tabloop profile` in a project: declared missing-value codes are missing, as in training."""

import json
import shutil

import pandas as pd

from tests.cli.test_cli import run, unwrap


def test_a_projects_profile_counts_declared_codes_as_missing_and_stops_flagging_them(
    tmp_path, datasets
):
    shutil.copy(datasets / "german_credit.csv", tmp_path / "credit.csv")
    (tmp_path / "tabloop.yaml").write_text(
        "name: credit\n"
        "data: {train: credit.csv, target: risk}\n"
        "prepare:\n  missing_values: {saving_accounts: [not_known]}\n",
        encoding="utf-8",
    )
    done = run("profile", "--out", tmp_path / "r", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "r" / "profile.json").read_text())
    df = pd.read_csv(datasets / "german_credit.csv")
    missing = {m["column"]: m["count"] for m in data["missing"]}
    assert missing["saving_accounts"] == int((df["saving_accounts"] == "not_known").sum())
    flagged = {w["column"] for w in data["warnings"] if w["kind"] == "missing_code"}
    assert flagged == {"checking_account"}  # declared: no longer a suggestion
    assert "prepare.missing_values: {checking_account: [not_known]}" in unwrap(done.stdout)
