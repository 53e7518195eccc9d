"""The consoles of the command line, and terminal renderers (Rich) for the plain results of
the library.

Every command prints through :data:`console` (stdout) or :data:`err_console` (stderr), both
made by :func:`make_console`, so every verb wraps the same way: text wraps at word
boundaries to the terminal's width (``COLUMNS``, else 80 when not a terminal) and a word
never splits; a word longer than the line (a path, a URL) stays whole on a line of its own,
so it can be copied. Tables are drawn to the same width.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

#: What a continuation line of a wrapped line is indented by: the line's own indent, plus
#: the width of a bullet that opens it ("  • message" continues under "message").
_HANG = re.compile(r" *(?:[•*-] )?")


class WordWrapConsole(Console):
    """A Rich console whose text wraps at spaces only (Rich's own wrapping folds a word
    longer than the line into pieces, and ``soft_wrap`` lets the terminal cut anywhere)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if not objects or not all(isinstance(o, str | Text) for o in objects):
            super().print(*objects, **kwargs)
            return
        markup, emoji = kwargs.pop("markup", None), kwargs.pop("emoji", None)
        highlight = kwargs.pop("highlight", None)
        parts = [
            o if isinstance(o, Text) else self.render_str(o, markup=markup, emoji=emoji)
            for o in objects
        ]
        text = Text(kwargs.pop("sep", " ")).join(parts)
        width = kwargs.pop("width", None) or self.width
        for key in ("overflow", "no_wrap", "crop", "soft_wrap"):
            kwargs.pop(key, None)
        super().print(
            wrap_words(text, width),
            overflow="ignore",
            no_wrap=True,
            crop=False,
            highlight=highlight,
            **kwargs,
        )


def wrap_words(text: Text, width: int) -> Text:
    """``text`` with each line longer than ``width`` broken at its last spaces that fit;
    continuation lines keep the line's indent (and bullet); a longer word stays whole."""
    out: list[Text] = []
    for line in text.split("\n", allow_blank=True):
        plain = line.plain
        if len(plain) <= width or " " not in plain.strip():
            out.append(line)
            continue
        hang = _HANG.match(plain)
        indent = " " * min(len(hang.group(0)) if hang else 0, width // 2)
        wrapper = textwrap.TextWrapper(
            width=width,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
            replace_whitespace=False,
            expand_tabs=False,
        )
        cursor = 0
        for number, piece in enumerate(wrapper.wrap(plain)):
            body = piece[len(indent) :] if number else piece
            start = plain.index(body.lstrip(" "), cursor) if number else plain.index(body)
            end = start + len(body.lstrip(" ")) if number else start + len(body)
            out.append(Text(indent) + line[start:end] if number else line[start:end])
            cursor = end
    return Text("\n").join(out)


def make_console(*, stderr: bool = False) -> Console:
    """A console of the command line (stdout, or stderr for warnings and errors)."""
    return WordWrapConsole(stderr=stderr, highlight=False)


console = make_console()
err_console = make_console(stderr=True)
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
        console.print(f"  [{style}]•[/] {escape(w['message'])}", markup=True)
    if not data["warnings"]:
        console.print("  [green]no warnings[/]")


def print_schema(schema: Any) -> None:
    """The schema as a table whose column names are never cut: a name column as wide as
    the longest name; when that leaves too little room at the console's width, one block
    per column (its name on a line of its own, the details indented below)."""
    from rich import box

    rows = []
    for c in schema:
        if c.categories is not None:
            more = len(c.categories) - 8
            detail = ", ".join(c.categories[:8]) + (f" (+{more} more)" if more > 0 else "")
        elif c.min is not None:  # a datetime at midnight reads as its date
            detail = f"{c.min} to {c.max}".replace("T00:00:00", "")
        else:
            detail = ""
        role = " (target)" if c.name == schema.target else " (id)" if c.name == schema.id else ""
        nullable, missing = "yes" if c.nullable else "no", f"{100 * c.missing_share:.1f}"
        rows.append((c.name + role, c.kind, nullable, missing, str(c.n_unique), detail))
    title = f"Schema ({schema.n_rows:,} rows)"
    longest = max((len(r[0]) for r in rows), default=6)
    # the longest category or bound: the values column is never narrower, so none folds
    token = max((len(word) for r in rows for word in r[5].split()), default=0)
    values = max(token, len("range/categories"))
    # kind, nulls, missing %, distinct (11 + 5 + 9 + 8) and five gaps of 2 take 43 cells
    if longest + 43 + values > console.width:
        console.print(title, markup=False)
        for name, kind, nullable, missing, distinct, detail in rows:
            console.print(name, markup=False)
            line = f"    {kind}, nullable {nullable}, {missing}% missing, {distinct} distinct"
            console.print(line + (f"; {detail}" if detail else ""), markup=False)
        return
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    table.add_column("column", no_wrap=True, min_width=longest)
    table.add_column("kind", no_wrap=True)
    table.add_column("nulls", no_wrap=True)
    table.add_column("missing %", justify="right", no_wrap=True)
    table.add_column("distinct", justify="right", no_wrap=True)
    table.add_column("range/categories", ratio=1, min_width=values)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def print_validation(report: Any) -> None:
    """The problems as a list, one bullet each (severity, kind, rows, message), wrapped at
    spaces: a table of five columns would split long column names and messages mid-word."""
    if not report.problems:
        console.print(f"[green]OK[/]: {report.n_rows:,} rows match the schema.")
        return
    console.print(
        f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) "
        f"in {report.n_rows:,} rows:",
        markup=False,
    )
    for p in report.problems:
        style = "red" if p.severity == "error" else "yellow"
        rows = f", {p.count:,} row(s)" if p.count else ""
        console.print(f"  • [{style}]{p.severity}[/] ({escape(p.kind)}{rows}): {escape(p.message)}")


def print_models(name: str, versions: list[dict[str, Any]], shown: list[str]) -> None:
    """The versions of model ``name``, newest first: aliases in full, the ``shown`` test
    metrics with their 95% intervals, creation time (UTC). One metric: one row per version;
    more: one row per version and metric, so the table stays within 80 columns."""
    from rich import box

    if not versions:
        console.print(f"Model {name} has no registered version.", markup=False)
        return
    shown = shown or ["metric"]  # a version logged without test metrics shows a dash
    one = len(shown) == 1
    table = Table(
        title=f"Model {name}",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        pad_edge=False,
        show_edge=False,
    )
    table.add_column("version", justify="right", no_wrap=True)
    table.add_column("aliases", min_width=max(len("challenger"), len("aliases")))
    if not one:
        table.add_column("metric", no_wrap=True)
    table.add_column(f"test {shown[0]} [95% CI]" if one else "test [95% CI]", no_wrap=True)
    table.add_column("created (UTC)", min_width=10)
    for v in versions:
        created = v["created"][:16].replace("T", " ")
        for number, metric in enumerate(shown):
            first = number == 0
            cells = [str(v["version"]) if first else "", ", ".join(v["aliases"]) if first else ""]
            cells += [] if one else [metric]
            cells += [_interval(v["metrics"].get(metric)), created if first else ""]
            table.add_row(*cells, end_section=number == len(shown) - 1 and not one)
    console.print(table)


def _interval(entry: dict[str, Any] | None) -> str:
    """``0.8118 [0.7659, 0.8499]``; a dash for a metric the version lacks."""
    if entry is None:
        return "-"
    text = f"{entry['value']:.4f}"
    if entry.get("ci_low") is not None and entry.get("ci_high") is not None:
        text += f" [{entry['ci_low']:.4f}, {entry['ci_high']:.4f}]"
    return text
