"""The custody tables' guard triggers, checked by their SQL against the migrations that made them.

A guard dropped, recreated weaker (``WHEN 0``, another message, another event) or joined by a trigger
of someone else's on a custody table is reported by ``audit verify``. The expected definitions are
read from the migration files shipped with the code, not from the database under examination.
"""

from __future__ import annotations

import re
import sqlite3
from functools import cache

from edge.store.migrations import available
from edge.store.queries import Queries

GUARDED_TABLES = ("custody_log", "custody_checkpoint")

_CREATE = re.compile(r"^CREATE\s+TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\b.*?\bON\s+(\w+)", re.I | re.S)
_DROP = re.compile(r"^DROP\s+TRIGGER\s+(?:IF\s+EXISTS\s+)?(\w+)", re.I)
# string literal | quoted identifier | line comment | block comment | whitespace | anything else
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\s+|[^'\"\s-]+|-", re.S)


def normalise(sql: str) -> str:
    """Comments dropped, whitespace runs to one space, case folded outside string literals."""
    out: list[str] = []
    for token in _TOKEN.findall(sql.strip().rstrip(";")):
        if token.startswith(("--", "/*")) or token.isspace():
            if out and out[-1] != " ":
                out.append(" ")
        else:
            out.append(token if token.startswith("'") else token.lower())
    return "".join(out).strip()


def _statements(script: str) -> list[str]:
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


@cache
def expected() -> dict[str, tuple[str, str]]:
    """{trigger name: (table, normalised SQL)} for every guard the migrations leave in place."""
    guards: dict[str, tuple[str, str]] = {}
    for migration in available():
        for statement in _statements(migration.sql):
            # sqlite_master keeps a statement from CREATE on: drop the comment lines before it
            body = "\n".join(line for line in statement.splitlines() if not line.lstrip().startswith("--")).strip()
            if (created := _CREATE.match(body)) and created[2].lower() in GUARDED_TABLES:
                guards[created[1]] = (created[2].lower(), normalise(body))
            elif dropped := _DROP.match(body):
                guards.pop(dropped[1], None)
    return guards


def problems(q: Queries) -> list[str]:
    """What is wrong with the guards in this database, worst first; empty when all are as shipped."""
    present = {r["name"]: (r["tbl_name"].lower(), r["sql"] or "") for r in q.iterate(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")}
    found: list[str] = []
    for name, (table, sql) in expected().items():
        if name not in present:
            found.append(f"guard trigger {name} on {table} was removed")
        elif present[name][0] != table or normalise(present[name][1]) != sql:
            found.append(f"guard trigger {name} on {table} was changed (its SQL is not the shipped definition)")
    for name, (table, _sql) in sorted(present.items()):
        if table in GUARDED_TABLES and name not in expected():
            found.append(f"unexpected trigger {name} on {table}")
    return found
