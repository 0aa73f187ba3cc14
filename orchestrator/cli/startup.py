"""Before ``worker``, ``api`` or ``migrate`` starts: PostgreSQL and RabbitMQ answer, the schema fits the code.

A server still starting (connection refused, "the database system is starting up") is waited for, up to
``CBR_ORCH_STARTUP_WAIT_SECONDS``: containers of one deployment start in any order. Anything else — a URL
that cannot be read, an unknown host, a refused login, a missing database or vhost, a schema behind or
ahead of the code — ends the command at once with one line on stderr and exit status 2. An unknown host is
not waited for: orchestrators (compose, Kubernetes) create a service's name before its container starts,
so a name that does not resolve is a typo, not a slow start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import TypeVar

import asyncpg
import typer
from aiormq.exceptions import AMQPError

from orchestrator.cli.app import errors, package_version, print_cause_when_debugging
from orchestrator.cli.connection_problems import (
    DATABASE_VARIABLE,
    Problem,
    Target,
    UrlProblem,
    broker_problem,
    check_broker_url,
    database_problem,
    hide_passwords,
    is_starting,
)
from orchestrator.config import Settings
from orchestrator.store.migrations import SchemaState

STARTUP_EXIT_CODE = 2
# what the drivers raise for a server that cannot be reached or refuses us (ValueError: an unreadable URL)
CONNECTING_ERRORS = (
    OSError,
    TimeoutError,
    ValueError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    AMQPError,
)
MIGRATE = "run `cbr-orchestrator migrate`"
RETRY_SECONDS = 0.5
T = TypeVar("T")


class NotStarted(Exception):
    """The one line that says why a command cannot start."""


class SchemaNeed(Enum):
    CURRENT = "current"  # worker, api: every shipped migration applied, none unknown
    NOT_AHEAD = "not ahead"  # migrate: whatever is missing it applies; unknown ones it cannot judge


def preflight(
    settings: Settings, *, schema: SchemaNeed, broker: bool, database_may_be_missing: bool = False
) -> None:
    """Wait for the services (bounded), check the schema; on a problem print its line and exit 2."""
    try:
        asyncio.run(_preflight(settings, schema, broker, database_may_be_missing))
    except NotStarted as exc:
        errors.print(str(exc), markup=False, highlight=False)
        print_cause_when_debugging(exc)
        raise typer.Exit(STARTUP_EXIT_CODE) from None


async def _preflight(settings: Settings, schema: SchemaNeed, broker: bool, may_be_missing: bool) -> None:
    from orchestrator.broker.probe import broker_answers
    from orchestrator.store.migrations import read_schema_state

    url, wait = settings.database_url, settings.startup_wait_seconds

    async def schema_state() -> SchemaState | None:
        try:
            return await read_schema_state(url, settings.database_timeout_seconds)
        except asyncpg.InvalidCatalogNameError:
            if may_be_missing:  # migrate --create-database creates it next
                return None
            raise

    state = await _when_up(
        schema_state,
        wait,
        lambda exc, waited: str(database_problem(exc, url, waited)),
        f"PostgreSQL at {Target.of(url, 5432, 'postgres').address}",
    )
    if state is not None:
        _check_schema(state, url, schema)
    if broker:
        amqp = settings.amqp_url.get_secret_value()
        try:
            check_broker_url(amqp)
        except UrlProblem as exc:
            raise NotStarted(str(broker_problem(exc, amqp))) from exc
        await _when_up(
            lambda: _quietly(broker_answers(amqp)),
            wait,
            lambda exc, waited: str(broker_problem(exc, amqp, waited)),
            f"RabbitMQ at {Target.of(amqp, 5672, '/').address}",
        )


async def _when_up(
    attempt: Callable[[], Awaitable[T]],
    wait: float,
    describe: Callable[[BaseException, float], str],
    service: str,
) -> T:
    """``attempt()``'s result; errors of a starting server are tried again until ``wait`` seconds passed."""
    started = time.monotonic()
    told = False
    while True:
        try:
            return await attempt()
        except CONNECTING_ERRORS as exc:  # anything else is unexpected: raised, with its traceback
            starting, waited = is_starting(exc), time.monotonic() - started
            if not starting or waited >= wait:
                raise NotStarted(describe(exc, wait if starting else 0.0)) from exc
            if not told:
                errors.print(f"waiting up to {wait:g} s for {service} to accept connections", highlight=False)
                told = True
            await asyncio.sleep(min(RETRY_SECONDS, wait - waited))


async def _quietly(attempt: Awaitable[None]) -> None:
    """The AMQP client logs each failed connect at ERROR; the line this module prints says it better."""
    client_logs = [logging.getLogger(name) for name in ("aiormq", "aio_pika")]
    levels = [log.level for log in client_logs]
    for log in client_logs:
        log.setLevel(logging.CRITICAL)
    try:
        await attempt
    finally:
        for log, level in zip(client_logs, levels, strict=True):
            log.setLevel(level)


def _check_schema(state: SchemaState, url: str, need: SchemaNeed) -> None:
    problem = schema_problem(state, url, need)
    if problem is not None:
        raise NotStarted(str(problem))


def schema_problem(state: SchemaState, url: str, need: SchemaNeed) -> Problem | None:
    """Why the schema does not fit this code, or None when it does (for ``need``)."""
    target = Target.of(url, 5432, "postgres")
    where = f'the database "{target.path}" at {target.address}'
    check = f"Check {DATABASE_VARIABLE} ({hide_passwords(url)})"
    this = f"this cbr-orchestrator ({package_version()})"
    if state.unknown:
        versions = ", ".join(str(v) for v in state.unknown)
        return Problem(
            f"{where} has migrations {versions} that {this} does not know: a newer release migrated it",
            check,
            "run that release or a newer one against it",
        )
    if need is SchemaNeed.NOT_AHEAD:
        return None
    if not state.migrated:
        return Problem(f"{where} was never migrated (no cbr-orchestrator tables)", check, MIGRATE)
    if state.missing:
        names = ", ".join(f"{m.version:03d}_{m.name}" for m in state.missing)
        return Problem(f"{where} lacks migrations {names} that {this} needs", check, MIGRATE)
    return None
