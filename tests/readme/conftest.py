"""Fixtures of the README's tests: a migrated database to clone, and RabbitMQ names of their own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import aio_pika
import pytest
from pg_databases import database, migrated_template, unique_name
from quick_settings import AMQP_URL

from orchestrator.broker import delete_topology
from orchestrator.config import Names


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    yield from migrated_template("readme")


@pytest.fixture
async def dsn(template_db: str) -> AsyncIterator[str]:
    async with database(unique_name("readme"), template_db) as url:
        yield url


@pytest.fixture
async def private_names() -> AsyncIterator[Names]:
    """RabbitMQ names no other run uses; their queues and exchanges are deleted afterwards."""
    names = Names(prefix=f"test.readme.{uuid.uuid4().hex[:8]}")
    yield names
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        await delete_topology(await connection.channel(), names)
