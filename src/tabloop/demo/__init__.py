"""``tabloop demo``: the whole loop on two embedded scenarios, in a fresh workspace.

The top layer with the CLI (STYLE.md habit 16): it chains every stage. ``_demo`` runs
situation 1 (treatment outcomes: profile, train, A/B test), ``_service`` serves it in a
Uvicorn subprocess, ``_stops`` runs situation 3 (traffic stops, from training to promotion).
"""

from tabloop.demo._demo import run_demo

__all__ = ["run_demo"]
