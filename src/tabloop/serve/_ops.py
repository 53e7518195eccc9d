"""The files a team needs to watch the service with Prometheus and Grafana, shipped in the
package (``tabloop/serve/ops/``) so they always match the metric names of the installed
tabloop: ``tabloop serve --print grafana`` / ``--print rules`` writes them to stdout."""

from __future__ import annotations

from importlib.resources import files

#: What ``--print`` accepts, and the packaged file each names.
OPS_FILES = {"grafana": "grafana-dashboard.json", "rules": "prometheus-rules.yml"}


def ops_file(kind: str) -> str:
    """The text of the Grafana dashboard (``grafana``, JSON) or the Prometheus alerting
    rules (``rules``, YAML).

    Example
    -------
    >>> import json
    >>> json.loads(ops_file("grafana"))["uid"]
    'tabloop-service'
    """
    if kind not in OPS_FILES:
        raise ValueError(f"must be {' or '.join(OPS_FILES)}; got {kind!r}.")
    return (files("tabloop.serve") / "ops" / OPS_FILES[kind]).read_text(encoding="utf-8")
