"""Read ``tabloop.yaml`` into a :class:`ProjectConfig`, with errors that give the key path."""

from __future__ import annotations

import collections.abc
import difflib
import os
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tabloop.config._models import ProjectConfig
from tabloop.exceptions import ConfigError, ConfigNotFoundError


def find_config(path: str | os.PathLike[str] | None = None) -> Path:
    """The project file: ``path`` if given, else ``$TABLOOP_CONFIG`` or ``tabloop.yaml`` here."""
    from tabloop._settings import get_settings

    candidate = Path(path) if path is not None else get_settings().config_file
    if candidate.is_dir():
        candidate = candidate / "tabloop.yaml"
    if not candidate.exists():
        raise ConfigNotFoundError(
            f"No project file at '{candidate}' (working directory {Path.cwd()}). Create one with "
            "`tabloop init --data FILE --target COLUMN`, or pass --config PATH."
        )
    return candidate


def load_config(path: str | os.PathLike[str] | None = None) -> ProjectConfig:
    """Read and validate the project file.

    Parameters
    ----------
    path : the file (or its folder); default ``tabloop.yaml`` in the working directory.

    The file's folder is appended to ``sys.path`` (after the installed packages), so a
    team's own model module beside ``tabloop.yaml`` imports in every command.

    Raises
    ------
    ConfigNotFoundError : no file there.
    ConfigError : the YAML is malformed, or a key is unknown, missing or of the wrong type;
        the message gives the key path and what is allowed.

    Examples
    --------
    >>> from tabloop.config import config_from_dict
    >>> cfg = config_from_dict({"name": "demo", "data": {"train": "x.csv", "target": "y"}})
    >>> cfg.split_strategy
    'stratified'
    """
    import yaml

    file = find_config(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{file}: not valid YAML{where}: {problem}.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read: {exc}.") from exc
    config = config_from_dict(raw, source=str(file))
    config._root = file.resolve().parent
    config._source = file.resolve()
    _make_importable(config._root)
    return config


def _make_importable(folder: Path) -> None:
    """Put the project folder on ``sys.path``, after the installed packages, so that
    ``train.models: [spendmodels:TrendModel]`` finds ``spendmodels.py`` beside tabloop.yaml
    in every command that reads the project (train, predict, serve, monitor, retrain)."""
    entry = str(folder)
    if entry not in sys.path:
        sys.path.append(entry)


def config_from_dict(raw: Any, *, source: str = "tabloop.yaml") -> ProjectConfig:
    """Validate a mapping as a project config (``source`` names it in messages)."""
    if not isinstance(raw, dict):
        kind = "empty" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(
            f"{source}: expected a mapping of sections (name, data, ...); it is {kind}."
        )
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        path = ".".join(str(p) for p in loc) or "(top level)"
        kind = error["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            if not allowed:
                section = ".".join(str(p) for p in loc[:-1])
                lines.append(
                    f"{path}: unknown key; section '{section}' takes no keys in "
                    f"tabloop {_version()} (leave it empty or remove it)."
                )
                continue
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            lines.append(f"{path}: unknown key. Allowed keys here: {', '.join(allowed)}.{hint}")
        elif kind == "missing":
            lines.append(f"{path}: required key is missing.")
        else:
            message = error["msg"].removeprefix("Value error, ").rstrip(".")
            message = message[0].lower() + message[1:] if message else message
            message = re.sub(r" or instance of [A-Z]\w*", "", message)  # no class names
            got = "" if kind.startswith("value_error") else f"; got {error.get('input')!r}"
            lines.append(f"{path}: {message}{got}.")
    count = f"{len(lines)} problems" if len(lines) > 1 else "1 problem"
    return f"{source}: {count}: " + " | ".join(lines)


def _version() -> str:
    from tabloop import __version__

    return __version__


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys of the section at ``loc``; a mapping's own keys (``features.lags.spend``)
    are the user's names and lead to the model of its values."""
    annotation: Any = ProjectConfig
    for part in loc:
        if isinstance(part, int):
            continue
        values = _mapping_values(annotation)
        if values is not None:
            annotation = values
            continue
        model = _model_in(annotation)
        field = model.model_fields.get(str(part)) if model else None
        if field is None:
            return []
        annotation = field.annotation
    model = _model_in(annotation)
    return list(model.model_fields) if model else []


def _mapping_values(annotation: Any) -> Any | None:
    """The value type of ``dict[str, X]`` (also inside ``| None``), else ``None``."""
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) in (dict, collections.abc.Mapping):
            return typing.get_args(arg)[1]
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None`` or ``Optional[X]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found:
                return found
    return None
