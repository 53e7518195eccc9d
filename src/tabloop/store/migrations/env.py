"""Alembic environment of the prediction log.

tabloop runs it programmatically (:mod:`tabloop.store._migrate`): the caller opens a
connection, begins a transaction and passes the connection in
``config.attributes["connection"]``, so the revision check and the migration happen in one
transaction. There is no ``alembic.ini``; a maintainer writing a revision by hand can copy
``script.py.mako``.
"""

from __future__ import annotations

from alembic import context

from tabloop.store._tables import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError(
        "tabloop's log migrations run on a live connection: use `tabloop store upgrade` or "
        "tabloop.store.Store(url).upgrade()."
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
