"""The database itself: creating and dropping the one a URL names, from the server's maintenance database.

The one place that creates databases: ``cbr-orchestrator migrate --create-database`` (so that a first run
needs no ``createdb`` and no ``psql``), the demo, the soak, the benchmarks and the tests. It connects to the
``postgres`` database of the same server with the same credentials and creates the database when it does
not exist (safe to repeat, and to race with another process).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

MAINTENANCE_DATABASE = "postgres"
CONNECT_TIMEOUT = 60.0  # asyncpg's own default


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


async def create_database(
    dsn: str, connect_timeout: float = CONNECT_TIMEOUT, template: str | None = None
) -> bool:
    """Create the database ``dsn`` names (a copy of the database ``template`` when given) when it does not
    exist; True when this call created it."""
    name = database_name(dsn)
    statement = f"CREATE DATABASE {quoted_identifier(name)}"
    if template is not None:
        statement += f" TEMPLATE {quoted_identifier(template)}"
    conn: asyncpg.Connection = await asyncpg.connect(maintenance_dsn(dsn), timeout=connect_timeout)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        try:
            await conn.execute(statement)
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):  # created by another since
            return False
        return True
    finally:
        await conn.close()


async def drop_database(dsn: str, connect_timeout: float = CONNECT_TIMEOUT) -> None:
    """Drop the database ``dsn`` names if it exists, closing the connections still open to it."""
    conn: asyncpg.Connection = await asyncpg.connect(maintenance_dsn(dsn), timeout=connect_timeout)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {quoted_identifier(database_name(dsn))} WITH (FORCE)")
    finally:
        await conn.close()


async def database_answers(dsn: str, connect_timeout: float) -> None:
    """Raise unless the database ``dsn`` names accepts a connection and answers (readiness probes: on a
    connection of its own, so that it answers even for a process whose pool could not be made)."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn, timeout=connect_timeout)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def temporary_database(
    dsn: str, template: str | None = None, connect_timeout: float = CONNECT_TIMEOUT
) -> AsyncIterator[str]:
    """The database ``dsn`` names, created (from ``template`` when given) for the length of the block and
    dropped at its end; yields ``dsn``."""
    await create_database(dsn, connect_timeout, template)
    try:
        yield dsn
    finally:
        await drop_database(dsn, connect_timeout)
