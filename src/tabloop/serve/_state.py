"""Everything a running service holds: variants, router, log, keys, metrics.

Built once by :func:`build_state` before the server starts, so a missing model, an outdated
log or a bad key fails at start-up with a typed error rather than on the first request.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tabloop.serve._metrics import PROBABILITY_BUCKETS, ServiceMetrics
from tabloop.serve._security import Guard, load_keys
from tabloop.serve._variants import (
    Router,
    Variant,
    check_compatible,
    load_variant,
    make_router,
)

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig
    from tabloop.store import LogWriter, Store

log = logging.getLogger("tabloop.serve")


@dataclass
class ServeState:
    config: ProjectConfig
    variants: dict[str, Variant]
    router: Router
    store: Store
    writer: LogWriter
    guard: Guard
    metrics: ServiceMetrics
    started: float = field(default_factory=time.time)
    _reload_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def first(self) -> Variant:
        """The control variant: the first configured one (the model's task and classes)."""
        return next(iter(self.variants.values()))

    @property
    def extras(self) -> set[str]:
        """Columns accepted beside the features: context, the id and the sticky column."""
        cfg = self.config
        names = set(cfg.serve.context)
        names.update(n for n in (cfg.data.id, cfg.serve.sticky_by) if n)
        return names

    def readiness_problems(self, *, detailed: bool = False) -> list[str]:
        """Why the service cannot answer now (empty when ready): every health probe's check.

        Only ``detailed`` problems name the database (a probe without a key must not learn
        where it is); the service's own log always does.
        """
        problems = []
        if not self.variants:
            problems.append("no model loaded")
        if not self.store.ping():
            log.warning("not ready: the log database %s is unreachable", self.store.url)
            where = f" ({self.store.url})" if detailed else ""
            problems.append(f"log database unreachable{where}")
        if self.writer.stuck:
            problems.append("the prediction log cannot store rows (database and spool refuse)")
        return problems

    def reload(self) -> dict[str, dict[str, str]]:
        """Resolve every variant's URI again; swap in the ones whose version changed.

        The dict is replaced, never mutated, so a request that already read it finishes on
        the old models.
        """
        with self._reload_lock:
            changed: dict[str, dict[str, str]] = {}
            fresh = dict(self.variants)
            for name, old in self.variants.items():
                new = load_variant(name, old.uri, self.config)
                if new.resolved != old.resolved:
                    fresh[name] = new
                    changed[name] = {"from": old.resolved, "to": new.resolved}
            if changed:
                check_compatible(list(fresh.values()), self.config.serve.context)
                self.variants = fresh
                log.info("reloaded variants: %s", changed)
            return changed


def build_state(config: ProjectConfig, *, seed: int | None = None) -> ServeState:
    """Open the log and load the variants; typed errors say what is wrong."""
    from tabloop._settings import get_settings
    from tabloop.store import LogWriter, Store

    keys = load_keys(config)
    variants = {
        name: load_variant(name, uri, config) for name, uri in config.served_variants.items()
    }
    check_compatible(list(variants.values()), config.serve.context)
    store = Store(Store.project_url(config))
    store.open()  # StoreOutdatedError says to run `tabloop store upgrade`
    spool = Path(config.resolve(get_settings().home)) / "spool"
    writer = LogWriter(store, spool_dir=spool, max_backlog=config.serve.log.max_backlog)
    buckets = next(iter(variants.values())).score_buckets or PROBABILITY_BUCKETS
    state = ServeState(
        config=config,
        variants=variants,
        router=make_router(config, list(variants), seed=seed),
        store=store,
        writer=writer,
        guard=Guard(keys),
        metrics=ServiceMetrics(lambda: writer.backlog, score_buckets=buckets),
    )
    state.metrics.variants = lambda: state.variants  # tabloop_model_info after a reload too
    return state
