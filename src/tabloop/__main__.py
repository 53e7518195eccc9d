"""``python -m tabloop`` runs the command line."""

from tabloop.cli import main

main()
