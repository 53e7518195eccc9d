"""The variants a service answers with, and which one each row goes to.

Maintainer note: routing
------------------------
Every row is routed on its own, so a batch can be split between variants. Shares are
normalised and laid out as consecutive intervals of [0, 1) in the config's order; a row's
point in [0, 1) picks the interval it falls in.

- Without ``serve.sticky_by`` the point is a fresh pseudo-random number per row.
- With it, the point is a hash (BLAKE2b, 8 bytes) of the service name and the row's
  value in that column, so one entity gets the same variant on every request, on every
  worker and after a restart, as long as the shares stay the same. Changing a share moves
  only the entities whose point lies in the moved part of an interval.

A variant is *resolved* when its URI (``models:/NAME@alias``) is turned into a concrete
version and the model is loaded; :meth:`Variants.reload` resolves every URI again and swaps
in a new immutable :class:`Variant` only where the version changed, so a request that
already holds the old object finishes on it.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tabloop.exceptions import ConfigError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tabloop.config import ProjectConfig
    from tabloop.serve._compiled import CompiledModel
    from tabloop.train import TabloopModel

_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")
log = logging.getLogger("tabloop.serve")


@dataclass(frozen=True)
class Variant:
    """One model answering under a variant name."""

    name: str
    uri: str  # as configured, e.g. models:/spend@challenger
    resolved: str  # the concrete version, e.g. models:/spend/3, or a folder
    model: TabloopModel
    # the request path of the model (tabloop.serve._compiled); None: the DataFrame path
    compiled: CompiledModel | None = field(default=None, compare=False, repr=False)
    #: the request fields logged as inputs and as context (see :func:`logged_fields`)
    logged_inputs: tuple[str, ...] = field(default=(), compare=False, repr=False)
    logged_context: tuple[str, ...] = field(default=(), compare=False, repr=False)
    #: buckets of this model's ``tabloop_score`` histogram (see :mod:`tabloop.serve._metrics`)
    score_buckets: tuple[float, ...] = field(default=(), compare=False, repr=False)

    @property
    def model_name(self) -> str:
        match = _VERSION.match(self.resolved)
        return match["name"] if match else self.resolved.rstrip("/").rsplit("/", 1)[-1]

    @property
    def version(self) -> str:
        match = _VERSION.match(self.resolved)
        return match["version"] if match else "local"


def load_variant(name: str, uri: str, config: ProjectConfig) -> Variant:
    """Resolve ``uri`` to a concrete version, load its model and compile its request path."""
    from tabloop.registry import load_model

    model, resolved = load_model(uri, config=config)
    inputs, context = logged_fields(model, config)
    return Variant(
        name=name,
        uri=uri,
        resolved=resolved,
        model=model,
        compiled=_compiled(model, resolved),
        logged_inputs=inputs,
        logged_context=context,
        score_buckets=_score_buckets(model, resolved, config),
    )


def logged_fields(
    model: TabloopModel, config: ProjectConfig
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The request fields a prediction of ``model`` logs as inputs, and as context.

    Inputs: every column of the record shape the model was trained on, read or not (for
    drift), except ``data.id`` (logged as the entity). Context: ``serve.context``, plus
    ``serve.sticky_by`` when the log would not hold it otherwise (neither ``data.id`` nor
    one of the inputs): the A/B report resamples by its values.
    """
    id_column, sticky = config.data.id, config.serve.sticky_by
    inputs = (*model.inputs, *(c for c in model.ignored if c != id_column))
    context = tuple(config.serve.context)
    if sticky and sticky != id_column and sticky not in context and sticky not in inputs:
        context = (*context, sticky)
    return inputs, context


#: Compiled models by resolved URI: a reload re-resolves every alias but the loader's cache
#: returns the same model object for an unchanged version, so it is not compiled again.
_COMPILED: dict[str, tuple[TabloopModel, CompiledModel | None]] = {}


def _compiled(model: TabloopModel, resolved: str) -> CompiledModel | None:
    from tabloop.serve._compiled import compile_model

    cached = _COMPILED.get(resolved)
    if cached is not None and cached[0] is model:
        return cached[1]
    compiled: CompiledModel | None = None
    try:
        compiled = compile_model(model)
        log.info("compiled %s: pipelines per path %s", resolved, compiled.summary())
    except Exception as exc:  # never block serving: the DataFrame path still answers
        log.warning("cannot compile %s (%s); serving it through the DataFrame path", resolved, exc)
    _COMPILED[resolved] = (model, compiled)
    while len(_COMPILED) > 8:
        _COMPILED.pop(next(iter(_COMPILED)))
    return compiled


def _score_buckets(model: TabloopModel, resolved: str, config: ProjectConfig) -> tuple[float, ...]:
    """Probability buckets for a classifier; a regression's from its training target's
    quantiles (the reference rows registered with it), read once per version."""
    from tabloop.serve._metrics import score_buckets

    if model.task != "regression":
        return score_buckets(model.task)
    if resolved not in _BUCKETS:
        target = None
        try:
            from tabloop.registry import load_package

            reference = load_package(resolved, config=config).reference_sample()
            if reference is not None and model.target in reference.columns:
                target = reference[model.target].to_numpy()
        except Exception as exc:  # never block serving over a histogram's buckets
            log.warning("no training target for %s's score buckets (%s)", resolved, exc)
        _BUCKETS[resolved] = score_buckets(model.task, target)
    return _BUCKETS[resolved]


_BUCKETS: dict[str, tuple[float, ...]] = {}


def check_compatible(variants: Sequence[Variant], context: Sequence[str]) -> None:
    """All variants predict the same target for the same task; no context column is an input."""
    first = variants[0]
    for other in variants[1:]:
        if (other.model.task, other.model.target) != (first.model.task, first.model.target):
            raise ConfigError(
                f"serve.variants: {other.name!r} predicts {other.model.target!r} "
                f"({other.model.task}) but {first.name!r} predicts {first.model.target!r} "
                f"({first.model.task}); an A/B test compares models of one target."
            )
    for variant in variants:
        used = sorted(set(context) & set(variant.model.inputs))
        if used:
            raise ConfigError(
                f"serve.context: column {used[0]!r} is an input of variant {variant.name!r}'s "
                "model; context columns are logged but never fed to a model. Remove it from "
                "serve.context or drop it from the model's features."
            )


class Router:
    """Picks a variant per row from the shares, at random or sticky by an entity value."""

    def __init__(self, shares: dict[str, float], *, salt: str, seed: int | None = None) -> None:
        total = sum(shares.values())
        self.names = [name for name, share in shares.items() if share > 0]
        bounds, running = [], 0.0
        for name in self.names:
            running += shares[name] / total
            bounds.append(running)
        bounds[-1] = 1.0  # no row falls past the end through rounding
        self._bounds = bounds
        self.shares = {name: shares[name] / total for name in shares}
        self._salt = salt.encode()
        self._random = random.Random(seed)

    def pick(self, key: Any = None) -> str:
        """The variant for one row; ``key`` is its sticky value, if any."""
        point = self._random.random() if key is None else self._point(key)
        for name, bound in zip(self.names, self._bounds, strict=True):
            if point < bound:
                return name
        return self.names[-1]

    def _point(self, key: Any) -> float:
        digest = hashlib.blake2b(str(key).encode(), digest_size=8, key=self._salt[:64]).digest()
        return int.from_bytes(digest, "big") / 2.0**64


def make_router(config: ProjectConfig, names: Sequence[str], *, seed: int | None = None) -> Router:
    """The router of ``serve.traffic`` (equal shares where it is empty)."""
    traffic = config.serve.traffic
    shares = {name: float(traffic.get(name, 0.0)) for name in names} if traffic else None
    return Router(shares or dict.fromkeys(names, 1.0), salt=config.name, seed=seed)
