"""Terminal renderers (Rich) for the plain results of the library."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(highlight=False, soft_wrap=True)
_STYLE = {"leakage": "bold red", "pure_segment": "bold red", "target_missing": "bold red"}


def print_profile_summary(data: dict[str, Any]) -> None:
    shape = data["shape"]
    target = data.get("target")
    line = f"[bold]{shape['rows']:,}[/] rows × [bold]{shape['columns']}[/] columns"
    if target:
        line += f", target [bold]{target['name']}[/] ({target['task']})"
    console.print(line)
    for p in data.get("text_power", []):  # free text is scored by its words, not listed else
        metric = "ROC-AUC" if p["metric"] == "roc_auc" else "R²"
        score = "no word in two rows" if p["score"] is None else f"{metric} {p['score']:.3f}"
        console.print(
            f"  text {p['column']!r} alone: {score} (TF-IDF + linear model)", markup=False
        )
    for w in data["warnings"]:
        style = _STYLE.get(w["kind"], "yellow")
        # escaped: a message may quote a config line such as {job: [not_known]}
        console.print(f"  [{style}]•[/] {escape(w['message'])}", markup=True, soft_wrap=True)
    if not data["warnings"]:
        console.print("  [green]no warnings[/]")


def print_schema(schema: Any) -> None:
    table = Table(title=f"Schema ({schema.n_rows:,} rows)")
    for col in ("column", "kind", "nullable", "missing %", "distinct", "range / categories"):
        table.add_column(col)
    for c in schema:
        if c.categories is not None:
            detail = ", ".join(c.categories[:8]) + (" ..." if len(c.categories) > 8 else "")
        elif c.min is not None:
            detail = f"{c.min} … {c.max}"
        else:
            detail = ""
        role = " (target)" if c.name == schema.target else " (id)" if c.name == schema.id else ""
        table.add_row(
            c.name + role,
            c.kind,
            "yes" if c.nullable else "no",
            f"{100 * c.missing_share:.1f}",
            str(c.n_unique),
            detail,
        )
    console.print(table)


def print_validation(report: Any) -> None:
    if not report.problems:
        console.print(f"[green]OK[/]: {report.n_rows:,} rows match the schema.")
        return
    table = Table(
        title=f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) "
        f"in {report.n_rows:,} rows"
    )
    for col in ("severity", "kind", "column", "rows", "message"):
        table.add_column(col, overflow="fold")
    for p in report.problems:
        style = "red" if p.severity == "error" else "yellow"
        table.add_row(f"[{style}]{p.severity}[/]", p.kind, p.column, str(p.count or ""), p.message)
    console.print(table)
