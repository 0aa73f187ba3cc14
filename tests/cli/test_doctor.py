"""`cbr-orchestrator doctor` against the emulator, a migrated database and the broker: every check ok and
exit 0; a broken credential, missing queues, a dead letter or a database behind the code each fail their
check (exit 1) with a hint, and no secret is printed."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import asyncpg
import pytest
from cli_runner import CliRun, run_cli
from quick_settings import AMQP_URL, emulator_settings

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.broker import declare_topology, delete_topology
from orchestrator.config import Settings
from orchestrator.store.rate_buckets import BucketKey, RateBuckets

PROJECT, REGION = DEFAULT_TENANT.project_id, DEFAULT_TENANT.region


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(EmulatorConfig())
    yield running
    await running.close()


@pytest.fixture
async def settings(dsn: str, emulator: RunningEmulator) -> AsyncIterator[Settings]:
    """The emulator's tenant, and the broker's queues and exchanges declared as a worker declares them."""
    chosen = emulator_settings(dsn, emulator.base_url, prefix=f"test.doctor.{uuid.uuid4().hex[:10]}")
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        await declare_topology(await connection.channel(), chosen.names, chosen.worker.delivery_limit)
    yield chosen
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        await delete_topology(await connection.channel(), chosen.names)


async def doctor(settings: Settings, *args: str, **env: str) -> tuple[CliRun, dict[str, dict[str, Any]]]:
    run = await run_cli(
        settings.database_url, "doctor", "--json", *args, env={**settings.as_environment(), **env}
    )
    assert "Traceback" not in run.stderr, run.stderr
    checks = {check["name"]: check for check in json.loads(run.stdout)["checks"]}
    return run, checks


async def test_every_check_is_ok_against_the_emulator(settings: Settings) -> None:
    run, checks = await doctor(settings)
    assert run.code == 0, run.stdout
    assert set(checks) == {
        "database",
        "broker",
        "dead letters",
        f"credentials {PROJECT} {REGION}",
        f"clock {REGION}",
        f"rate limit {PROJECT} {REGION}",
    }
    assert all(check["ok"] for check in checks.values()), checks
    assert "accepted by CBR" in checks[f"credentials {PROJECT} {REGION}"]["detail"]
    assert "guest:***@" in checks["broker"]["detail"]


async def test_a_broken_credential_fails_its_check_with_cbr_error_code_and_never_shows_the_secret(
    settings: Settings,
) -> None:
    broken = [
        {
            "project_id": PROJECT,
            "region": REGION,
            "access_key": DEFAULT_TENANT.access_key,
            "secret_key": "CANARY-SECRET-61",
        }
    ]
    run, checks = await doctor(settings, CBR_ORCH_CREDENTIALS=json.dumps(broken))
    assert run.code == 1
    failed = checks[f"credentials {PROJECT} {REGION}"]
    assert not failed["ok"]
    assert "HTTP 401 APIGW.0301" in failed["detail"], failed
    assert "CBR_ORCH_CREDENTIALS" in failed["hint"]
    assert all(check["ok"] for name, check in checks.items() if not name.startswith("credentials"))
    assert "CANARY-SECRET-61" not in run.stdout + run.stderr
    table = await run_cli(
        settings.database_url,
        "doctor",
        env={**settings.as_environment(), "CBR_ORCH_CREDENTIALS": json.dumps(broken)},
    )
    assert table.code == 1
    assert "FAIL" in table.stdout and "APIGW.0301" in table.stdout
    assert "CANARY-SECRET-61" not in table.stdout + table.stderr


async def test_queues_not_declared_and_a_dead_letter_fail_the_broker_checks(settings: Settings) -> None:
    run, checks = await doctor(settings, CBR_ORCH_NAMES__PREFIX=f"test.doctor.none.{uuid.uuid4().hex[:6]}")
    assert run.code == 1
    assert not checks["broker"]["ok"] and "queue test.doctor.none." in checks["broker"]["detail"]
    assert "start a worker once" in checks["broker"]["hint"]

    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.default_exchange.publish(aio_pika.Message(b"{}"), settings.names.dead_letter_queue)
    run, checks = await doctor(settings)
    assert run.code == 1
    assert checks["dead letters"] == {
        "name": "dead letters",
        "ok": False,
        "detail": f"1 messages in {settings.names.dead_letter_queue}",
        "hint": "see them with `cbr-orchestrator dead-letters list`; after a fix, `dead-letters replay`",
    }


async def test_a_database_behind_the_code_and_an_unreachable_broker_fail_with_what_to_do(
    settings: Settings,
) -> None:
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)"
        )
    finally:
        await conn.close()
    run, checks = await doctor(settings, CBR_ORCH_AMQP_URL="amqp://guest:CANARY-PW-62@127.0.0.1:1/")
    assert run.code == 1
    assert not checks["database"]["ok"] and "lacks migrations" in checks["database"]["detail"]
    assert "run `cbr-orchestrator migrate`" in checks["database"]["hint"]
    assert not checks["broker"]["ok"] and "connection refused" in checks["broker"]["detail"]
    assert f"rate limit {PROJECT} {REGION}" not in checks  # not read from a database that is not current
    assert "CANARY-PW-62" not in run.stdout + run.stderr


async def test_a_project_cbr_is_throttling_fails_its_rate_limit_check(settings: Settings) -> None:
    """As a worker reports a 429 with Retry-After: 600 (the shared bucket, in the database)."""
    buckets = await RateBuckets.open(settings.database_url, settings.rate_limit)
    try:
        await buckets.throttle(BucketKey(REGION, PROJECT), 600)
    finally:
        await buckets.close()
    run, checks = await doctor(settings)
    assert run.code == 1
    check = checks[f"rate limit {PROJECT} {REGION}"]
    assert not check["ok"] and check["detail"].startswith("blocked by CBR until")
    assert "100.0 calls/s (start 200, max 1000), 1 throttled" in check["detail"]
    assert "CBR answers 429" in check["hint"]
