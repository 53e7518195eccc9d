"""The cluster setting: its grammar, and which of the three places it comes from."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from tabloop.exceptions import ConfigError

_LOCAL = re.compile(r"^local(?::(?P<workers>\d+))?$")
# what distributed.Client accepts: a scheme it knows, or host:port (taken as tcp)
_REMOTE = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx|inproc)://)?[^\s/:]+(?::\d{1,5})?/?$")


@dataclass(frozen=True)
class ClusterAddress:
    """A parsed cluster setting: ``local_workers`` is N for ``local:N`` (None for a
    scheduler address in ``text``)."""

    text: str
    local_workers: int | None = None

    @property
    def is_local(self) -> bool:
        return self.local_workers is not None


def parse_cluster_address(text: str, *, source: str | None = None) -> ClusterAddress:
    """``local``, ``local:N`` or a Dask scheduler address; :class:`ConfigError` naming
    ``source`` (the option or variable it came from, if given) otherwise."""
    said = f"{source} has value {text!r}" if source else f"got {text!r}"
    value = text.strip()
    local = _LOCAL.match(value)
    if local:
        workers = int(local["workers"]) if local["workers"] else (os.cpu_count() or 1)
        if workers < 1:
            raise ConfigError(f"{said}: 0 workers; use local:1 or more.")
        return ClusterAddress(f"local:{workers}", workers)
    if _REMOTE.match(value) and not value.startswith("local:"):
        return ClusterAddress(value)
    raise ConfigError(
        f"{said}; expected 'local:N' (N worker processes on this machine) or a Dask "
        "scheduler address such as 'tcp://host:8786'."
    )


def cluster_address(explicit: str | None, configured: str | None) -> ClusterAddress | None:
    """Where to run: ``explicit`` (``--cluster``), else ``configured`` (``scale.cluster``),
    else ``TABLOOP_CLUSTER``; None (this process) when none is set."""
    from tabloop._settings import get_settings

    for value, source in (
        (explicit, "--cluster"),
        (configured, "scale.cluster"),
        (get_settings().cluster, "TABLOOP_CLUSTER"),
    ):
        if value:
            return parse_cluster_address(value, source=source)
    return None
