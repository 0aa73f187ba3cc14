"""The event lag after the last task: from the emulator's end of the fleet's last backup task to the time of
the fleet's final event (both clocks of this machine), read after the run from the emulator's task list."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from cbr_emulator.config import Tenant
from orchestrator.cbr.auth import AkSkAuth
from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.endpoints import Endpoints
from orchestrator.cbr.errors import CbrApiError
from orchestrator.cbr.query import OperationLogFilter
from orchestrator.cbr.signing import Credentials

ATTEMPTS = 5  # the emulator's rate limit may refuse a page: waited out, then given up (no figure)


async def last_task_end(base_url: str, tenant: Tenant) -> datetime | None:
    """When the project's last backup task ended, on the emulator's clock; None when it cannot be read."""
    auth = AkSkAuth(Credentials(tenant.access_key, tenant.secret_key))
    async with CbrClient(
        region=tenant.region, project_id=tenant.project_id, auth=auth, endpoints=Endpoints.single(base_url)
    ) as client:
        for _ in range(ATTEMPTS):
            try:
                logs = client.iter_operation_logs(OperationLogFilter(operation_type="backup"))
                ends = [_moment(log.ended_at) async for log in logs if log.ended_at]
            except CbrApiError:
                await asyncio.sleep(1.0)
                continue
            return max(ends, default=None)
    return None


def event_lag(final_event: dict[str, Any], last_end: datetime | None) -> float | None:
    """Seconds from ``last_end`` to the event's ``time``; None when either is unknown."""
    if last_end is None or not final_event.get("time"):
        return None
    return round((_moment(str(final_event["time"])) - last_end).total_seconds(), 3)


def _moment(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
