"""Settings for tests that run workers against the emulator: short leases, quick polls and backoff —
consistent with the rules a worker checks at start (a lease longer than a call's timeout plus the margin,
a settle window longer than a call's timeout)."""

from __future__ import annotations

import os
import uuid
from typing import Any

from pydantic import SecretStr

from cbr_emulator.config import DEFAULT_TENANT
from orchestrator.config import MetricsSettings, Names, ProjectCredentials, Settings, WorkerSettings

AMQP_URL = os.environ.get("CBR_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
QUICK_WORKER: dict[str, Any] = {
    "lease_seconds": 3,
    "lease_margin_seconds": 0.5,
    "heartbeat_seconds": 0.5,
    "settle_seconds": 2.5,
    "settle_base_seconds": 0.2,
    "drain_seconds": 2.0,
    "idle_poll_seconds": 0.2,
    "status_poll_seconds": 0.1,
    "watched_poll_seconds": 1.0,
    "backoff_base_seconds": 0.1,
    "backoff_max_seconds": 0.5,
    "relay_poll_seconds": 0.5,
}


def quick_worker(**over: Any) -> WorkerSettings:
    return WorkerSettings.model_validate({**QUICK_WORKER, **over})


def emulator_tenant() -> ProjectCredentials:
    """The emulator's default tenant, as the orchestrator's credentials for its project."""
    tenant = DEFAULT_TENANT
    return ProjectCredentials(
        project_id=tenant.project_id,
        region=tenant.region,
        access_key=tenant.access_key,
        secret_key=SecretStr(tenant.secret_key),
    )


def emulator_settings(
    dsn: str,
    base_url: str,
    *,
    amqp_url: str = AMQP_URL,
    prefix: str | None = None,
    worker: WorkerSettings | None = None,
    **over: Any,
) -> Settings:
    """A worker's settings for database ``dsn`` and the emulator at ``base_url`` (2 s call timeout)."""
    values: dict[str, Any] = {
        "database_url": dsn,
        "amqp_url": SecretStr(amqp_url),
        "names": Names(prefix=prefix or f"test.{uuid.uuid4().hex[:10]}"),
        "credentials": [emulator_tenant()],
        "cbr_endpoints": {DEFAULT_TENANT.region: base_url},
        "cbr_timeout_seconds": 2.0,
        "worker": worker or quick_worker(),
        "metrics": MetricsSettings(port=0),  # tests run many workers at once; the metrics tests pick a port
        **over,
    }
    return Settings.model_validate(values)
