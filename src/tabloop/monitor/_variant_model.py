"""Which model a variant serves, and what to say when ``--variant`` and ``--model`` disagree.

``tabloop monitor --variant B`` reads the log rows B served and, without ``--model``,
monitors the model ``serve.variants.B`` names. With a ``--model`` too, the rows are those B
served with that model: a legitimate question after B's alias moved (the rows B served with
the older version), and an empty window when B never served it. The report says which model
B serves now whenever the two differ, and an empty window says why it is empty instead of
guessing at a newly promoted champion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabloop.exceptions import TabloopError

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig
    from tabloop.registry import ModelPackage


def variant_serves(
    config: ProjectConfig, variant: str, package: ModelPackage, *, asked: str | None
) -> tuple[str, str | None] | None:
    """The URI ``serve.variants`` names for ``variant`` and its version now (None when it
    cannot be resolved); None when the config does not name the variant. ``asked``, the
    model the caller named, is ``package``: the same text needs no registry lookup."""
    from tabloop.registry import load_package

    uri = config.served_variants.get(variant)
    if uri is None:
        return None
    if uri == asked:
        return uri, package.version
    try:
        return uri, load_package(uri, config=config).version
    except TabloopError:  # the alias is gone: name the URI only
        return uri, None


def _serves_text(uri: str, version: str | None) -> str:
    return uri if version is None or uri.endswith(f"/{version}") else f"{uri} (version {version})"


def no_rows_message(
    config: ProjectConfig,
    package: ModelPackage,
    *,
    asked: str | None,
    variant: str | None,
    log_versions: dict[str, int],
) -> str:
    """Why the log holds no rows of ``package`` (``asked``: the model the caller named, None
    for the champion) although it holds other versions' rows (``log_versions``)."""
    name = package.uri.split("/")[1]
    ranked = sorted(log_versions.items(), key=lambda kv: (-kv[1], kv[0]))
    listed = ", ".join(f"version {v}: {n:,} rows" for v, n in ranked)
    other = f"models:/{name}/{ranked[0][0]}"
    if variant is None:
        why = "; a newly promoted champion has none yet" if asked is None else ""
        return (
            f"The log holds no predictions of {package.uri} ({listed}){why}. Monitor another "
            f"with --model {other}."
        )
    serves = variant_serves(config, variant, package, asked=asked)
    if serves is not None and serves[1] != package.version:
        return (
            f"--variant {variant!r} serves {_serves_text(*serves)}, not {package.uri}: the "
            f"log holds no predictions of {package.uri} by {variant} ({listed}). Drop --model "
            f"to monitor what {variant} serves, or drop --variant to monitor {package.uri} on "
            "the rows of every variant."
        )
    return (
        f"Variant {variant!r} served no predictions of {package.uri} ({listed}); the version "
        f"it serves now has none yet. Monitor one it served with --model {other} --variant "
        f"{variant}."
    )


def variant_note(
    config: ProjectConfig, package: ModelPackage, *, asked: str | None, variant: str | None
) -> str | None:
    """A note when ``variant`` serves another model than the one monitored on its rows."""
    if variant is None or asked is None:
        return None
    serves = variant_serves(config, variant, package, asked=asked)
    if serves is None or serves[1] == package.version:
        return None
    return (
        f"--variant {variant!r} serves {_serves_text(*serves)} now; this report monitors "
        f"{package.uri} on the rows {variant} served with it."
    )
