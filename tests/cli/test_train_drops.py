"""`tabloop train` says on the terminal which columns an automatic step dropped, and why."""

import json
import re

from tabloop.examples import customer_spend
from tests.cli.test_cli import run


def test_every_automatic_drop_is_one_terminal_line_with_its_reason(tmp_path):
    df = customer_spend(600, seed=5).assign(note="same for everyone")
    df.to_csv(tmp_path / "spend.csv", index=False)
    (tmp_path / "tabloop.yaml").write_text(
        "name: spend\n"
        "data: {train: spend.csv, target: next_month_spend, id: customer_id}\n"
        "features: {drop: [city]}\n"
        "train: {models: [linear], folds: 2, learning_curve: false}\n"
        "evaluate: {bootstrap: 50}\n"
    )
    done = run("train", "--no-register", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    dropped = json.loads((tmp_path / "reports" / "evaluation.json").read_text())["model"]["dropped"]
    lines = {
        m[1]: line for line in done.stdout.splitlines() if (m := re.match(r"dropped '(.+?)'", line))
    }
    automatic = {c for c, r in dropped.items() if not r.startswith("listed in features.drop")}
    assert automatic and set(lines) == automatic  # city and customer_id: the user's decision
    assert lines["note"] == "dropped 'note': constant"
    assert all(len(line) <= 80 for line in lines.values())
    # a correlation drop names its partner and the |Spearman| pandas computes on the training rows
    month, partner, rho = next(
        (c, m[1], float(m[2]))
        for c, line in lines.items()
        if (m := re.search(r"correlated with '(.+?)' \(\|Spearman\| ([0-9.]+)\)", line))
    )
    assert abs(df[month].corr(df[partner], method="spearman") - rho) < 0.02
