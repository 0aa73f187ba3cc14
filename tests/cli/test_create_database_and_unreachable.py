"""`migrate --create-database`, and PostgreSQL or RabbitMQ that cannot be reached: one line naming the
variable to fix, never a traceback or a password (each command a separate process, as a user runs it)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import asyncpg
import pytest
from cli_runner import CliRun, run_cli
from pg_databases import ADMIN_DSN, drop_database, dsn_of, unique_name

RESTORE = (
    '{"kind": "restore", "command_id": "unreachable-1", "project_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",'
    ' "region": "eu-west-101", "backup_id": "b-1", "volume_id": "v-1"}'
)


def closed_port() -> int:
    """A port nothing listens on (bound and released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_one_clear_line(run: CliRun, *expected: str, code: int = 1) -> None:
    assert run.code == code, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr + run.stdout
    for text in expected:
        assert text in run.stderr, run.stderr


@pytest.fixture
async def new_database() -> AsyncIterator[str]:
    """The URL of a database that does not exist yet; dropped afterwards."""
    name = unique_name("createdb")
    yield name
    await drop_database(name)


async def database_exists(name: str) -> bool:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def test_create_database_creates_it_then_migrates_and_can_be_repeated(new_database: str) -> None:
    url = dsn_of(new_database)
    first = await run_cli(url, "migrate", "--create-database")
    assert first.code == 0, first.stderr
    assert f"created database {new_database}" in first.stdout
    assert "applied migrations: [1, 2, 3, 4, 5" in first.stdout
    assert await database_exists(new_database)
    again = await run_cli(url, "migrate", "--create-database")
    assert again.code == 0, again.stderr
    assert f"database {new_database} exists" in again.stdout
    assert "database is up to date" in again.stdout
    status = await run_cli(url, "status")
    assert status.code == 0, status.stderr


async def test_without_the_option_a_missing_database_is_named_with_the_option_that_creates_it(
    new_database: str,
) -> None:
    run = await run_cli(dsn_of(new_database), "migrate")
    assert_one_clear_line(
        run,
        f'database "{new_database}"',
        "does not exist",
        "migrate --create-database",
        "CBR_ORCH_DATABASE_URL",
        code=2,  # migrate, like worker and api, ends a configuration problem with 2
    )
    assert not await database_exists(new_database)


async def test_a_server_that_cannot_be_reached_is_named_with_its_variable_and_no_password() -> None:
    url = f"postgresql://postgres:CANARY-PW-41@127.0.0.1:{closed_port()}/anything"
    for args in (("migrate", "--create-database"), ("migrate",), ("status",)):
        run = await run_cli(url, *args, env={"CBR_ORCH_STARTUP_WAIT_SECONDS": "0"})
        code = 2 if args[0] == "migrate" else 1
        assert_one_clear_line(
            run, "cannot connect to PostgreSQL", "CBR_ORCH_DATABASE_URL", "postgres:***@", code=code
        )
        assert "CANARY-PW-41" not in run.stderr + run.stdout


async def test_a_url_the_driver_cannot_read_is_named_with_its_variable() -> None:
    run = await run_cli("postgresql://postgres:CANARY-PW-43@127.0.0.1:no-port/x", "status")
    assert_one_clear_line(run, "cannot read the PostgreSQL URL", "CBR_ORCH_DATABASE_URL")
    assert "CANARY-PW-43" not in run.stderr + run.stdout


async def test_a_url_without_a_database_name_is_refused_naming_the_variable() -> None:
    run = await run_cli(ADMIN_DSN.rsplit("/", 1)[0], "migrate", "--create-database")
    assert run.code == 2
    assert "CBR_ORCH_DATABASE_URL: the database URL names no database" in run.stderr
    assert "Traceback" not in run.stderr


async def test_a_broker_that_cannot_be_reached_is_named_with_its_variable_and_no_password(dsn: str) -> None:
    amqp = f"amqp://guest:CANARY-PW-42@127.0.0.1:{closed_port()}/"
    run = await run_cli(dsn, "submit", "--json", RESTORE, env={"CBR_ORCH_AMQP_URL": amqp})
    assert_one_clear_line(run, "cannot connect to RabbitMQ", "CBR_ORCH_AMQP_URL", "guest:***@")
    assert "CANARY-PW-42" not in run.stderr + run.stdout
