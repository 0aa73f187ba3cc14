"""``cbr-orchestrator worker`` logs as set up in one place: JSON lines when stderr is not a terminal, the
format and level chosen by CBR_ORCH_LOG_FORMAT and CBR_ORCH_LOG_LEVEL, a bad value refused in one line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid

import aio_pika
from cli_runner import run_cli
from quick_settings import AMQP_URL

from orchestrator.broker import delete_topology
from orchestrator.config import Names


async def test_a_log_format_it_does_not_know_is_refused_naming_the_variable(dsn: str) -> None:
    run = await run_cli(dsn, "worker", env={"CBR_ORCH_LOG_FORMAT": "xml"})
    assert run.code == 2
    assert "CBR_ORCH_LOG_FORMAT='xml': give json or text" in run.stderr
    assert "Traceback" not in run.stderr


async def test_the_worker_writes_json_lines_when_stderr_is_not_a_terminal(dsn: str) -> None:
    prefix = f"test.logs.{uuid.uuid4().hex[:8]}"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CBR_ORCH_", "OTEL_"))}
    environment.update(
        CBR_ORCH_DATABASE_URL=dsn, CBR_ORCH_AMQP_URL=AMQP_URL, CBR_ORCH_NAMES__PREFIX=prefix
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", "worker", env=environment, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    try:
        first = json.loads(await asyncio.wait_for(proc.stderr.readline(), 30))
        proc.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(proc.stderr.read(), 30)).decode().splitlines()
        assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await _delete_topology(prefix)
    lines = [first, *(json.loads(line) for line in rest)]
    assert any(line["logger"] == "orchestrator.worker" and "started" in line["message"] for line in lines)
    assert all(line["level"] in ("INFO", "WARNING") for line in lines)  # INFO by default: no DEBUG line


async def _delete_topology(prefix: str) -> None:
    connection = await aio_pika.connect_robust(AMQP_URL)
    async with connection:
        await delete_topology(await connection.channel(), Names(prefix=prefix))
