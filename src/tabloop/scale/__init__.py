"""Where batch work runs: in this process, or on a Dask cluster.

One setting chooses it for ``predict`` and ``monitor``: ``--cluster`` on the command line,
else ``scale.cluster`` in ``tabloop.yaml``, else ``TABLOOP_CLUSTER``. ``local:N`` starts a
:class:`distributed.LocalCluster` of N worker processes for the run; an address such as
``tcp://host:8786`` connects to a running scheduler. Without one, work stays in this
process and Dask is never imported. Every runner has the same ``map`` and ``map_reduce``, so
callers write their work once.
"""

from tabloop.scale._address import ClusterAddress, cluster_address, parse_cluster_address
from tabloop.scale._runner import InProcess, Runner, open_runner

__all__ = [
    "ClusterAddress",
    "InProcess",
    "Runner",
    "cluster_address",
    "open_runner",
    "parse_cluster_address",
]
