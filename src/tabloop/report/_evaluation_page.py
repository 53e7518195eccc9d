"""Turn an evaluation (``Evaluation.to_dict()``) into a report page."""

from __future__ import annotations

from typing import Any

from tabloop.report import _charts as charts
from tabloop.report._page import Chart, Page, Section, Table, Text, render_page
from tabloop.report._page import fmt as _fmt

_TONES = {"bad": "bad", "warn": "warn", "info": "info", "ok": "ok"}


def render_evaluation(data: dict[str, Any]) -> str:
    return render_page(build_evaluation_page(data))


def build_evaluation_page(data: dict[str, Any]) -> Page:
    model = data["model"]
    subtitle = (
        f"{data['task']} · target {model['target']!r} · {model['n_train']:,} training rows, "
        f"{data['n_test']:,} test rows · models: "
        + ", ".join(f"{k} {w:.0%}" for k, w in data["ensemble"].items())
    )
    page = Page(title=f"Evaluation: {model['project']}", subtitle=subtitle)
    if data["task"] == "clustering":
        page.subtitle = f"clustering · {model['n_train']:,} rows"
        page.sections += [_summary(data), _metrics(data), _segments(data["charts"])]
        return page
    page.sections.append(_summary(data))
    page.sections.append(_metrics(data))
    if data["threshold"]:
        page.sections.append(_threshold(data))
    page.sections.append(_curves(data))
    page.sections.append(_models(data))
    if data["charts"].get("importance"):
        page.sections.append(_importance(data["charts"]))
    if data["charts"].get("imputation") or data["charts"].get("imputation_comparison"):
        page.sections.append(_imputation(data["charts"]))
    if data["fairness"]:
        page.sections.append(_fairness(data["fairness"]))
    return page


def _summary(data: dict[str, Any]) -> Section:
    s = Section("Summary")
    for r in data["requirements"]:
        tone = "ok" if r["passed"] else "bad"
        extra = (
            ""
            if r["passed"] and r.get("certain")
            else (" (the confidence interval crosses the target)" if r["passed"] else "")
        )
        s.blocks.append(
            Text(
                f"Requirement {r['expression']}: measured {_fmt(r['value'])} — "
                f"{'passed' if r['passed'] else 'FAILED'}{extra}",
                tone=tone,
            )
        )
    for d in data["diagnostics"]:
        s.blocks.append(Text(d["message"], tone=_TONES.get(d["severity"], "info")))
    if not data["requirements"] and not data["diagnostics"]:
        s.blocks.append(Text("No requirements configured and no diagnostics raised.", tone="ok"))
    dropped = data["model"].get("dropped") or {}
    if dropped:
        s.blocks.append(
            Table(
                ["column", "dropped because"],
                [[c, r] for c, r in dropped.items()],
                caption="Feature selection",
            )
        )
    return s


def _metrics(data: dict[str, Any]) -> Section:
    s = Section("Metrics on the test split")
    rows = []
    for name, m in data["metrics"].items():
        if not isinstance(m, dict) or "value" not in m:
            continue
        base = (data["baseline"].get(name) or {}).get("value")
        value = m["reason"] if m.get("reason") else _fmt(m["value"])  # hidden, with why
        rows.append([name, value, _fmt(m["ci_low"]), _fmt(m["ci_high"]), _fmt(base)])
    s.blocks.append(
        Table(
            ["metric", "value", "95% CI low", "95% CI high", "dummy baseline"],
            rows,
            caption="Bootstrap percentile intervals over test rows",
        )
    )
    cm = data["metrics"].get("confusion_matrix")
    if cm:
        labels = [str(v) for v in data["model"]["classes"]]
        s.blocks.append(
            Chart(
                {
                    "data": [
                        {
                            "type": "heatmap",
                            "z": cm["matrix"],
                            "x": labels,
                            "y": labels,
                            "colorscale": "Blues",
                            "reversescale": True,  # plotly's Blues runs dark to light
                            "texttemplate": "%{z}",
                            "hovertemplate": "true %{y}, predicted %{x}: %{z}<extra></extra>",
                        }
                    ],
                    "layout": {
                        "title": {"text": "Confusion matrix", "x": 0},
                        "xaxis": {"title": {"text": "predicted"}, "type": "category"},
                        "yaxis": {
                            "title": {"text": "true"},
                            "type": "category",
                            "autorange": "reversed",
                        },
                    },
                }
            )
        )
    return s


def _threshold(data: dict[str, Any]) -> Section:
    t = data["threshold"]
    s = Section("Decision threshold")
    tone = "ok" if t.get("met", True) else "warn"
    s.blocks.append(
        Text(t.get("message") or f"Threshold {t['threshold']:.4f} ({t['objective']}).", tone=tone)
    )
    test = t.get("test")
    if test:  # a cost threshold on the test split, beside the policies that need no model
        names = {"threshold": f"threshold {t['threshold']:.4g}", "saving": "saving"}
        rows = [
            [
                names.get(k, k.replace("_", " ")),
                _fmt(test[k]["value"]),
                _fmt(test[k]["ci_low"]),
                _fmt(test[k]["ci_high"]),
            ]
            for k in ("threshold", "all_positive", "all_negative", "saving")
        ]
        rows[-1][0] = f"saving vs {test['saving']['against'].replace('_', ' ')}"
        s.blocks.append(
            Table(
                ["policy", "cost per test row", "95% CI low", "95% CI high"],
                rows,
                caption=f"On {test['n_test']:,} test rows (out-of-fold cost at the "
                f"threshold: {_fmt(t['value'])}); costs {test['costs']}",
            )
        )
    curve = data["charts"].get("threshold_curve")
    if curve:
        x = curve["threshold"]
        s.blocks.append(
            Chart(
                charts.lines(
                    {k: (x, curve[k]) for k in ("precision", "recall", "f1") if k in curve},
                    title="Out-of-fold precision, recall and F1 by threshold",
                    x_title="threshold",
                )
            )
        )
    return s


def _curves(data: dict[str, Any]) -> Section:
    c = data["charts"]
    s = Section("Curves")
    if c.get("roc"):
        s.blocks.append(
            Chart(
                charts.lines(
                    {"model": (c["roc"]["fpr"], c["roc"]["tpr"])},
                    title="ROC (test)",
                    x_title="false positive rate",
                    y_title="true positive rate",
                    diagonal=True,
                )
            )
        )
    if c.get("pr"):
        s.blocks.append(
            Chart(
                charts.lines(
                    {"model": (c["pr"]["recall"], c["pr"]["precision"])},
                    title="Precision-recall (test)",
                    x_title="recall",
                    y_title="precision",
                )
            )
        )
    if c.get("calibration"):
        cal = c["calibration"]
        s.blocks.append(
            Chart(
                charts.lines(
                    {"model": (cal["predicted"], cal["observed"])},
                    title="Calibration (test, deciles)",
                    x_title="mean predicted probability",
                    y_title="observed share positive",
                    diagonal=True,
                    markers=True,
                )
            )
        )
    if c.get("residuals"):
        r = c["residuals"]
        s.blocks.append(
            Chart(
                charts.scatter(
                    r["actual"],
                    r["predicted"],
                    title="Predicted vs actual (test)",
                    x_title="actual",
                    y_title="predicted",
                )
            )
        )
    lc = c.get("learning_curve")
    if lc and lc.get("verdict"):
        s.blocks.append(Text(lc["verdict"]["message"], tone="info"))
    if lc:
        low = [m - sd for m, sd in zip(lc["val_mean"], lc["val_std"], strict=True)]
        high = [m + sd for m, sd in zip(lc["val_mean"], lc["val_std"], strict=True)]
        s.blocks.append(
            Chart(
                charts.lines(
                    {
                        "validation": (lc["sizes"], lc["val_mean"]),
                        **(
                            {"training": (lc["sizes"], lc["train_mean"])}
                            if lc.get("train_mean")
                            else {}
                        ),
                    },
                    band={"validation": (low, high)},
                    markers=True,
                    title=f"Learning curve of {lc['model']} ({lc['metric']} ± 1 sd over folds)",
                    x_title="training rows",
                    y_title=lc["metric"],
                )
            )
        )
    return s


def _models(data: dict[str, Any]) -> Section:
    s = Section("Models compared by cross-validation")
    metric = data["model"]["metric"]
    s.blocks.append(
        Table(
            ["model", f"mean {metric}", "sd", "seconds", "ensemble weight", "params"],
            [
                [
                    r["model"],
                    _fmt(abs(r["mean"])),
                    _fmt(r["std"]),
                    r["seconds"],
                    f"{r['weight']:.2f}",
                    ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "defaults",
                ]
                for r in data["cv"]
            ],
            caption="Scores per fold of the training split (test rows never seen)",
        )
    )
    s.blocks.append(
        Chart(
            charts.box(
                {r["model"]: [abs(v) for v in r["folds"]] for r in data["cv"]},
                title="Cross-validation scores per model",
                y_title=metric,
            )
        )
    )
    return s


def _importance(c: dict[str, Any]) -> Section:
    s = Section("Feature importance")
    imp = c["importance"]
    s.blocks.append(
        Chart(
            charts.bar(
                [r["column"] for r in imp],
                [r["mean"] for r in imp],
                title="Permutation importance on the test split (drop in the metric, 95% CI)",
                horizontal=True,
                reference=0.0,
                interval=(
                    ([r["ci_low"] for r in imp], [r["ci_high"] for r in imp])
                    if all("ci_low" in r for r in imp)
                    else None
                ),
            )
        )
    )
    if imp and "verdict" in imp[0]:  # irrelevant only when the interval excludes ±material
        s.blocks.append(
            Table(
                ["column", "importance", "95% CI low", "95% CI high", "verdict"],
                [
                    [
                        r["column"],
                        _fmt(r["mean"]),
                        _fmt(r["ci_low"]),
                        _fmt(r["ci_high"]),
                        r["verdict"],
                    ]
                    for r in imp
                ],
                caption=f"A material effect is ±{_fmt(imp[0]['material'])} (5% of the model's "
                "gain over the dummy): irrelevant = the interval lies inside it, relevant = "
                "above 0 otherwise, undetermined = too few test rows to tell",
            )
        )
    if c.get("shap"):
        sh = c["shap"]
        s.blocks.append(
            Chart(
                charts.bar(
                    sh["features"][:30],
                    sh["mean_abs_shap"][:30],
                    title=f"Mean |SHAP| ({sh['model']}, TreeSHAP)",
                    horizontal=True,
                )
            )
        )
    return s


def _imputation(c: dict[str, Any]) -> Section:
    s = Section("Imputation")
    compared = c.get("imputation_comparison")
    if compared:
        s.blocks.append(Text(compared["message"], tone="info"))
        s.blocks.append(
            Table(
                ["strategy", "missing indicators", f"CV {compared['metric']}", "sd", "seconds"],
                [
                    [
                        r["strategy"],
                        "yes" if r["indicators"] else "no",
                        _fmt(abs(r["mean"])),
                        _fmt(r["std"]),
                        r["seconds"],
                    ]
                    for r in compared["rows"]
                ],
                caption=f"Each strategy cross-validated with {compared['model']}, same folds",
            )
        )
    for r in c.get("imputation") or []:
        s.blocks.append(
            Chart(
                charts.overlaid_histograms(
                    r["edges"],
                    {"observed": r["observed"], f"imputed ({r['strategy']})": r["imputed"]},
                    title=f"{charts.short_label(r['column'])}: {r['missing']} imputed values",
                    x_title=r["column"],
                )
            )
        )
    return s


def _fairness(f: dict[str, Any]) -> Section:
    s = Section("Fairness")
    tone = {"pass": "ok", "violation": "bad"}.get(f.get("verdict"), "warn")
    s.blocks.append(
        Text(
            f"Overall verdict: {f.get('verdict')} ({f.get('metric')} gap vs max "
            f"{f.get('max_gap')}, groups of at least {f.get('min_group_size')})",
            tone=tone,
        )
    )
    gaps = f.get("gaps") or []
    if gaps:
        cols = [
            k
            for k in (
                "grouping",
                "segment",
                "gap",
                "ci_low",
                "ci_high",
                "verdict",
                "rows_needed",
                "worst_group",
                "best_group",
            )
            if k in gaps[0]
        ]
        s.blocks.append(
            Table(
                cols,
                [[_fmt(g.get(k)) for k in cols] for g in gaps],
                caption="Largest gap per grouping and segment, bootstrap CI",
            )
        )
    groups = f.get("by_group") or []
    if groups:
        cols = list(groups[0])
        s.blocks.append(
            Table(cols, [[_fmt(g.get(k)) for k in cols] for g in groups[:200]], caption="Per group")
        )
    if f.get("mitigation"):
        m = f["mitigation"]
        keys = [k for k, v in m["before"].items() if not isinstance(v, dict)]
        s.blocks.append(
            Table(
                ["", *keys],
                [[side, *[_fmt(m[side][k]) for k in keys]] for side in ("before", "after")],
                caption=f"ThresholdOptimizer ({m['constraint']}, opt-in mitigation): "
                "fitted on out-of-fold predictions, applied to the test split",
            )
        )
    return s


def _segments(c: dict[str, Any]) -> Section:
    s = Section("Segments")
    seg = c["segments"]
    structure = seg.get("structure")
    if structure:  # the verdict before the chart it reads
        tone = "warn" if structure["warn"] else "ok"
        message = "Clusters: " + structure["message"]
        s.blocks.append(Text(message + ".", tone))
    by_k = seg.get("silhouette_by_k") or {}
    if len(by_k) > 1:
        s.blocks.append(
            Chart(
                charts.lines(
                    {"silhouette": ([int(k) for k in by_k], list(by_k.values()))},
                    title="Silhouette by number of segments",
                    x_title="k",
                    markers=True,
                )
            )
        )
    rows = c["profiles"]
    if rows:
        cols = list(rows[0])
        s.blocks.append(
            Table(
                cols, [[_fmt(r[k]) for k in cols] for r in rows], caption="Profile of each segment"
            )
        )
    return s
