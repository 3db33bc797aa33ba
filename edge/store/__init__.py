"""The only package that touches SQLite: schema, writer, reader pool, outbox, custody log, dead letters.

Domain code passes callbacks to ``Store.write`` / ``Store.read`` and calls the table modules here
(``outbox.enqueue(tx, ...)``, ``custody.append(tx, ...)``) so that a domain row, its custody entry and
its outbox row commit together.
"""

from edge.store.database import Store, StoreClosedError, StoreError, StoreFullError, connect
from edge.store.migrations import SchemaTooNewError
from edge.store.queries import Queries, Tx

__all__ = [
    "Queries",
    "SchemaTooNewError",
    "Store",
    "StoreClosedError",
    "StoreError",
    "StoreFullError",
    "Tx",
    "connect",
]
