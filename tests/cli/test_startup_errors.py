"""`worker`, `api` and `migrate` refuse to start on a configuration or connection problem with one line on
stderr and exit status 2: the variable, where it points (host, port, database or vhost), the cause and what
to do — never a traceback (unless CBR_ORCH_LOG_LEVEL=DEBUG) and never a password. A service still starting
is waited for, up to CBR_ORCH_STARTUP_WAIT_SECONDS.

The local PostgreSQL trusts every login from 127.0.0.1 (pg_hba.conf: trust), so a wrong password cannot be
refused here; a role that does not exist is, by the same path (an InvalidAuthorizationSpecificationError,
whose subclass InvalidPasswordError a wrong password raises). RabbitMQ checks passwords: a wrong one for
guest is refused.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import asyncpg
import pytest
from cli_runner import CliRun, line_with, run_cli, start_cli
from pg_databases import ADMIN_DSN, database, dsn_of, unique_name
from quick_settings import AMQP_URL
from tcp_relay import free_port, relay

from orchestrator.broker import delete_topology
from orchestrator.config import Names
from orchestrator.store.migrations import load_migrations, run_migrations, shipped_migrations

SERVICE_COMMANDS = ["worker", "api", "migrate"]
NO_WAIT = {"CBR_ORCH_STARTUP_WAIT_SECONDS": "0"}


def assert_refused(run: CliRun, *expected: str) -> None:
    """Exit 2, no traceback, and the last line of stderr says all of ``expected``."""
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr + run.stdout
    last = run.stderr.strip().splitlines()[-1]
    for text in expected:
        assert text in last, run.stderr


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.replace(f":{parts.port}", f":{port}")).geturl()


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    """A database with no tables at all (never migrated)."""
    async with database(unique_name("startup")) as url:
        yield url


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """RabbitMQ names of this test; whatever a worker declared under them is deleted afterwards."""
    names = Names(prefix=f"test.startup.{uuid.uuid4().hex[:10]}")
    yield names.prefix
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        await delete_topology(await connection.channel(), names)


@pytest.mark.parametrize("command", SERVICE_COMMANDS)
async def test_a_database_that_does_not_exist_is_named_with_the_option_that_creates_it(command: str) -> None:
    name = unique_name("missing")
    run = await run_cli(dsn_of(name), command, env=NO_WAIT)
    assert_refused(
        run,
        f'database "{name}"',
        "127.0.0.1:5432",
        "does not exist",
        "CBR_ORCH_DATABASE_URL",
        "migrate --create-database",
    )


@pytest.mark.parametrize("command", ["worker", "api"])
async def test_a_database_never_migrated_is_refused_with_the_command_that_migrates_it(
    command: str, empty_database: str
) -> None:
    run = await run_cli(empty_database, command, env=NO_WAIT)
    assert_refused(run, "was never migrated", "CBR_ORCH_DATABASE_URL", "run `cbr-orchestrator migrate`")


async def test_a_worker_refuses_a_database_whose_migrations_are_behind_and_names_the_missing_ones(
    empty_database: str, tmp_path: Path
) -> None:
    shipped = load_migrations()
    older = tmp_path / "sql"
    older.mkdir()
    for migration in shipped[:-2]:
        source = shipped_migrations() / f"{migration.version:03d}_{migration.name}.sql"
        (older / source.name).write_text(source.read_text("utf-8"))
    await run_migrations(empty_database, older)
    missing = ", ".join(f"{m.version:03d}_{m.name}" for m in shipped[-2:])
    run = await run_cli(empty_database, "worker", env=NO_WAIT)
    assert_refused(run, f"lacks migrations {missing}", "run `cbr-orchestrator migrate`")
    migrated = await run_cli(empty_database, "migrate", env=NO_WAIT)
    assert migrated.code == 0, migrated.stderr
    assert f"applied migrations: {[m.version for m in shipped[-2:]]}" in migrated.stdout


@pytest.mark.parametrize("command", SERVICE_COMMANDS)
async def test_a_database_ahead_of_the_code_is_refused_naming_the_unknown_migration(
    command: str, dsn: str
) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'from_the_future')")
    finally:
        await conn.close()
    run = await run_cli(dsn, command, env=NO_WAIT)
    assert_refused(run, "has migrations 999 that this cbr-orchestrator", "a newer release migrated it")


async def test_a_role_the_server_refuses_is_named_with_the_user_to_correct() -> None:
    url = with_port(ADMIN_DSN, 5432).replace("postgres@", "no_such_role:CANARY-PW-51@", 1)
    run = await run_cli(url, "worker", env=NO_WAIT)
    assert_refused(run, 'role "no_such_role" does not exist', "correct the user and password", ":***@")
    assert "CANARY-PW-51" not in run.stderr


async def test_an_unknown_database_host_is_named_at_once() -> None:
    run = await run_cli("postgresql://postgres@no-such-host.invalid:5432/db", "migrate")
    assert_refused(run, "no-such-host.invalid:5432", "host name is not known", "correct the host")


async def test_a_database_url_that_cannot_be_read_shows_the_form_it_takes() -> None:
    run = await run_cli("mysql://postgres:CANARY-PW-52@127.0.0.1/db", "worker", env=NO_WAIT)
    assert_refused(run, "cannot read the PostgreSQL URL", "postgresql://USER:PASSWORD@HOST:5432/DATABASE")
    assert "CANARY-PW-52" not in run.stderr


async def test_a_refused_database_is_waited_for_then_given_up_naming_host_and_port() -> None:
    port = free_port()
    started = time.monotonic()
    run = await run_cli(
        f"postgresql://postgres@127.0.0.1:{port}/db", "migrate", env={"CBR_ORCH_STARTUP_WAIT_SECONDS": "1.5"}
    )
    assert time.monotonic() - started >= 1.5
    assert_refused(run, f"127.0.0.1:{port}", "connection refused (waited 1.5 s)", "start PostgreSQL")
    assert "waiting up to 1.5 s for PostgreSQL" in run.stderr


async def test_a_wrong_rabbitmq_password_is_refused_naming_the_user(dsn: str) -> None:
    amqp = AMQP_URL.replace(":guest@", ":CANARY-PW-53@", 1)
    run = await run_cli(dsn, "worker", env={**NO_WAIT, "CBR_ORCH_AMQP_URL": amqp})
    assert_refused(run, "login refused for user 'guest'", "CBR_ORCH_AMQP_URL", "guest:***@")
    assert "CANARY-PW-53" not in run.stderr + run.stdout


async def test_an_unknown_vhost_is_named_with_the_commands_that_create_it(dsn: str) -> None:
    vhost = f"no-such-vhost-{uuid.uuid4().hex[:6]}"
    run = await run_cli(dsn, "api", env={**NO_WAIT, "CBR_ORCH_AMQP_URL": AMQP_URL.rstrip("/") + f"/{vhost}"})
    assert_refused(run, f"vhost '{vhost}'", "does not exist", f"rabbitmqctl add_vhost {vhost}")


async def test_a_refused_broker_is_waited_for_then_given_up(dsn: str) -> None:
    port = free_port()
    amqp = f"amqp://guest:guest@127.0.0.1:{port}/"
    run = await run_cli(dsn, "worker", env={"CBR_ORCH_AMQP_URL": amqp, "CBR_ORCH_STARTUP_WAIT_SECONDS": "1"})
    assert_refused(run, f"RabbitMQ at 127.0.0.1:{port}", "connection refused (waited 1 s)", "start RabbitMQ")
    assert "error when creating transport" not in run.stderr  # the client's own log lines stay quiet


async def test_an_amqp_url_of_another_scheme_is_refused(dsn: str) -> None:
    run = await run_cli(dsn, "worker", env={**NO_WAIT, "CBR_ORCH_AMQP_URL": "http://guest:guest@127.0.0.1/"})
    assert_refused(run, "the scheme must be amqp or amqps", "amqp://USER:PASSWORD@HOST:5672/VHOST")


async def test_an_invalid_setting_is_named_and_its_secret_never_echoed() -> None:
    credentials = (
        '[{"project_id": "not-a-project", "region": "r", "access_key": "AK", "secret_key": "CANARY-SK"}]'
    )
    run = await run_cli("postgresql://unused/db", "worker", env={"CBR_ORCH_CREDENTIALS": credentials})
    assert_refused(run, "CBR_ORCH_CREDENTIALS", "project_id", "should match pattern")
    assert "CANARY-SK" not in run.stderr + run.stdout


async def test_with_debug_logging_the_traceback_follows_the_line() -> None:
    run = await run_cli(
        dsn_of(unique_name("missing")), "worker", env={**NO_WAIT, "CBR_ORCH_LOG_LEVEL": "DEBUG"}
    )
    assert run.code == 2
    assert "does not exist" in run.stderr and "Traceback" in run.stderr


async def test_a_worker_waits_for_services_still_starting_then_runs_and_stops_on_sigterm(
    dsn: str, prefix: str
) -> None:
    db_port, amqp_port = free_port(), free_port()
    env = {
        "CBR_ORCH_AMQP_URL": with_port(AMQP_URL, amqp_port),
        "CBR_ORCH_STARTUP_WAIT_SECONDS": "30",
        "CBR_ORCH_NAMES__PREFIX": prefix,
    }
    worker = await start_cli(with_port(dsn, db_port), "worker", env=env)
    try:
        await line_with(worker.stderr, "waiting up to 30 s for PostgreSQL")
        async with relay(db_port, urlsplit(dsn).port or 5432):
            await line_with(worker.stderr, "waiting up to 30 s for RabbitMQ")
            async with relay(amqp_port, urlsplit(AMQP_URL).port or 5672):
                await line_with(worker.stderr, "started")
                worker.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(worker.wait(), 30) == 0
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
