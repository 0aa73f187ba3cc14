"""The database itself: creating the one a URL names, from the server's maintenance database.

``cbr-orchestrator migrate --create-database`` uses it, so that a first run needs no ``createdb`` and no
``psql``: it connects to the ``postgres`` database of the same server with the same credentials and
creates the database when it does not exist (safe to repeat, and to race with another process).
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

MAINTENANCE_DATABASE = "postgres"


class NoDatabaseNamed(ValueError):
    """A database URL whose path names no database."""


def database_name(dsn: str) -> str:
    """The database a ``postgresql://…/name`` URL names."""
    name = unquote(urlsplit(dsn).path.lstrip("/"))
    if not name:
        raise NoDatabaseNamed("the database URL names no database (…/NAME at its end)")
    return name


def maintenance_dsn(dsn: str) -> str:
    """The same server, credentials and parameters, on the ``postgres`` database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{MAINTENANCE_DATABASE}"))


def quoted_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def create_database(dsn: str, connect_timeout: float) -> bool:
    """Create the database ``dsn`` names when it does not exist; True when this call created it."""
    name = database_name(dsn)
    conn: asyncpg.Connection = await asyncpg.connect(maintenance_dsn(dsn), timeout=connect_timeout)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        try:
            await conn.execute(f"CREATE DATABASE {quoted_identifier(name)}")
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):  # created by another since
            return False
        return True
    finally:
        await conn.close()
