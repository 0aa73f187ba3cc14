"""The worker's JSON log lines for a real workflow on the emulator: every line about the workflow carries
its workflow id and command id (and each CBR call's line the request id CBR answered with), and no line
holds a credential or a token, at the most verbose level, whether the worker signs with AK/SK or logs in
to IAM."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection
from broker_helpers import wait_for
from pydantic import SecretStr
from worker_helpers import PROJECT, REGION, backup, publish, running_worker, servers

from cbr_emulator.config import DEFAULT_TENANT
from cbr_emulator.server import RunningEmulator
from orchestrator.config import ProjectCredentials, Settings
from orchestrator.observability.logs import setup_logging
from orchestrator.store import Store, WorkflowStatus

# the emulator's IAM tokens: "MII" and 128 URL-safe characters, like the cloud's
TOKEN = re.compile(r"MII[A-Za-z0-9_-]{100,}")
IAM_USER = ProjectCredentials(
    project_id=PROJECT,
    region=REGION,
    domain_name=DEFAULT_TENANT.domain_name,
    user_name=DEFAULT_TENANT.user_name,
    password=SecretStr(DEFAULT_TENANT.password),
)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Every record of the process, as the worker writes them (JSON, DEBUG and up), into a buffer."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    handler = setup_logging(buffer, {"CBR_ORCH_LOG_FORMAT": "json", "CBR_ORCH_LOG_LEVEL": "DEBUG"})
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines_of(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


async def run_one_backup(settings: Settings, store: Store, connection: AbstractRobustConnection) -> str:
    command_id = f"logged-{uuid.uuid4().hex[:8]}"
    message = aio_pika.Message(json.dumps(backup(command_id, servers(1)[0])).encode())
    async with running_worker(settings, []):
        await publish(connection, settings.names.commands_queue, [message])

        async def succeeded() -> bool:
            wf = await store.workflow_by_command(command_id)
            return wf is not None and wf.status is WorkflowStatus.SUCCEEDED

        await wait_for(succeeded, seconds=30)
    return command_id


@pytest.mark.parametrize("credentials", ["ak/sk", "iam user"])
async def test_no_credential_or_token_is_ever_logged(
    credentials: str,
    worker_settings: Settings,
    store: Store,
    connection: AbstractRobustConnection,
    json_logs: io.StringIO,
) -> None:
    settings = worker_settings
    secrets = [DEFAULT_TENANT.access_key, DEFAULT_TENANT.secret_key]
    if credentials == "iam user":
        settings = worker_settings.model_copy(update={"credentials": [IAM_USER]})
        secrets = [DEFAULT_TENANT.password]
    await run_one_backup(settings, store, connection)

    text = json_logs.getvalue()
    assert len(lines_of(json_logs)) > 10  # the run was logged, verbosely
    if credentials == "iam user":
        assert "obtained an IAM token" in text  # a token was fetched and used
    for secret in secrets:
        assert secret not in text
    assert TOKEN.search(text) is None


async def test_every_line_about_a_workflow_carries_its_workflow_and_command_ids(
    worker_settings: Settings,
    store: Store,
    connection: AbstractRobustConnection,
    json_logs: io.StringIO,
    emulator: RunningEmulator,
) -> None:
    command_id = await run_one_backup(worker_settings, store, connection)
    workflow = await store.workflow_by_command(command_id)
    assert workflow is not None
    lines = lines_of(json_logs)

    def about_it(line: dict[str, Any]) -> bool:  # the orchestrator's lines (a library's may quote a frame)
        said, logger = str(line["message"]), str(line["logger"])
        mentions = str(workflow.id) in said or command_id in said
        return logger.startswith("orchestrator.") and (mentions or logger == "orchestrator.cbr.transport")

    ours = [line for line in lines if about_it(line)]
    assert len(ours) >= 4  # accepted, calls, finished
    assert all(line.get("workflow_id") == str(workflow.id) for line in ours), ours
    assert all(line.get("command_id") == command_id for line in ours), ours
    assert all(line.get("kind") == "backup" and line.get("project") == PROJECT for line in ours), ours
    calls = [line for line in ours if line["logger"] == "orchestrator.cbr.transport"]
    assert calls and all(line.get("cbr_request_id") for line in calls), calls
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
