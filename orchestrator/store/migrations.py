"""Plain, numbered SQL migrations from ``sql/``, applied once each and recorded in a table.

The repository's ``sql/`` folder is installed as the package ``orchestrator.migrations`` (``setup.py``
maps it), so an installed wheel carries its migrations and finds them without any setting.
An advisory lock serialises concurrent ``migrate`` runs; each migration and its record commit together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg

MIGRATIONS_LOCK = 0x6362_726F  # "cbro": the advisory-lock key held while migrating
_NAME = re.compile(r"^(\d{3,})_([\w-]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def shipped_migrations() -> Traversable:
    return resources.files("orchestrator.migrations")


def load_migrations(sql_dir: Traversable | None = None) -> list[Migration]:
    found = []
    files = (sql_dir or shipped_migrations()).iterdir()
    for path in sorted((f for f in files if f.name.endswith(".sql")), key=lambda f: f.name):
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(f"migration file name {path.name!r} is not NNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text("utf-8")))
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise ValueError("two migrations share a version number")
    return sorted(found, key=lambda m: m.version)


async def run_migrations(dsn: str, sql_dir: Traversable | None = None) -> list[int]:
    """Apply every migration not yet recorded; return the versions applied by this call."""
    migrations = load_migrations(sql_dir)
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATIONS_LOCK)
        try:
            return await _apply_missing(conn, migrations)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATIONS_LOCK)
    finally:
        await conn.close()


async def _apply_missing(conn: asyncpg.Connection, migrations: list[Migration]) -> list[int]:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    done = []
    for migration in migrations:
        if migration.version in applied:
            continue
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
        done.append(migration.version)
    return done


@dataclass(frozen=True)
class SchemaState:
    """How a database's applied migrations compare with the ones this code ships."""

    migrated: bool  # the table of applied migrations exists
    missing: tuple[Migration, ...]  # shipped, not applied: the code is ahead of the database
    unknown: tuple[int, ...]  # applied, not shipped: the database is ahead of the code

    @property
    def current(self) -> bool:
        return self.migrated and not self.missing and not self.unknown


async def schema_state(conn: asyncpg.Connection, sql_dir: Traversable | None = None) -> SchemaState:
    """Compare the migrations recorded in the database ``conn`` is on with the shipped ones (reads only)."""
    shipped = load_migrations(sql_dir)
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return SchemaState(migrated=False, missing=tuple(shipped), unknown=())
    applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    known = {m.version for m in shipped}
    return SchemaState(
        migrated=True,
        missing=tuple(m for m in shipped if m.version not in applied),
        unknown=tuple(sorted(applied - known)),
    )


async def read_schema_state(dsn: str, connect_timeout: float) -> SchemaState:
    """:func:`schema_state` of the database ``dsn`` names, on a connection of its own (connecting errors
    are raised as the driver raises them)."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn, timeout=connect_timeout)
    try:
        return await schema_state(conn)
    finally:
        await conn.close()
