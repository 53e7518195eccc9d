"""Alembic migrations of the prediction log (run through :mod:`tabloop.store._migrate`)."""
