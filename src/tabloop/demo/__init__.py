"""``tabloop demo``: the whole loop on three embedded scenarios, in a fresh workspace.

The top layer with the CLI (STYLE.md habit 16): it chains every stage. ``_demo`` runs
situation 1 (treatment outcomes: profile, train, A/B test), ``_service`` serves it in a
Uvicorn subprocess, ``_spend`` runs situation 2 (two teams' own models, A/B sticky by
customer), ``_stops`` runs situation 3 (traffic stops, from training to promotion).
"""

from tabloop.demo._demo import run_demo

__all__ = ["run_demo"]
