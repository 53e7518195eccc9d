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
