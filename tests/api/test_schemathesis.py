"""Schemathesis, run as its users run it (``st run`` on the served document), against ``cbr-orchestrator
api`` in a process of its own: whatever it generates, valid or not, gets an answer the document describes
(status, content type, body schema, headers) and never a 5xx.

Left out: ``positive_data_acceptance``, which expects every request the schemas allow to succeed. Some
rules cannot be said in JSON Schema (a vault is named by its id *or* its name; a cursor is one this
server gave), so requests the document allows are refused with 422, as they should be.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from api_helpers import backup_body, bearer
from api_types import MakeKey
from hook_senders import SECRETS_ENV, TRIGGERS
from quick_settings import emulator_tenant

from orchestrator.api.app import endpoints
from orchestrator.api.spec import OPENAPI_PATH
from orchestrator.bench.api_throughput import api_process as serve_api
from orchestrator.config import Settings

MAX_EXAMPLES = 12  # per operation and phase: about 1,000 requests, well under a minute
ALL_SCOPES = ("backup", "restore", "replicate", "read", "admin")


@pytest.fixture
async def api_process(api_settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """``cbr-orchestrator api`` in a process of its own, with the emulator tenant's credentials and the
    test triggers; yields its base URL."""
    triggers = tmp_path / "triggers.toml"
    triggers.write_text(TRIGGERS)
    tenant = emulator_tenant()
    assert tenant.secret_key is not None
    credentials = [
        {
            "project_id": tenant.project_id,
            "region": tenant.region,
            "access_key": tenant.access_key,
            "secret_key": tenant.secret_key.get_secret_value(),
        }
    ]
    env = SECRETS_ENV | {
        "CBR_ORCH_AMQP_URL": api_settings.amqp_url.get_secret_value(),
        "CBR_ORCH_CREDENTIALS": json.dumps(credentials),
        "CBR_ORCH_API__TRIGGERS_FILE": str(triggers),
    }
    async with serve_api(api_settings.database_url, env) as base:
        yield base


async def _a_workflow(base: str, key: str) -> str:
    """A real workflow id, so that the id-taking operations are tested past their 404."""
    url = f"{base}/v1/commands"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=backup_body(), headers=bearer(key)) as answer,
    ):
        assert answer.status == 202, await answer.text()
        workflow_id: str = (await answer.json())["workflow_id"]
        return workflow_id


async def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(
    api_process: str, make_key: MakeKey, tmp_path: Path
) -> None:
    key = await make_key(ALL_SCOPES)
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\nid = "{await _a_workflow(api_process, key)}"\nname = "alert-backup"\n')
    st = Path(sys.executable).with_name("st")
    run = await asyncio.create_subprocess_exec(
        str(st),
        "--config-file",
        str(config),
        "run",
        f"{api_process}{OPENAPI_PATH}",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "coverage,fuzzing,stateful",
        "--request-timeout",
        "2",  # the event stream never ends by itself
        "--workers",  # one thread: hypothesis parsing lambdas in two at once trips CPython 3.11.7's AST
        "1",  # recursion-depth check (SystemError "AST constructor recursion depth mismatch", gh-106905)
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=os.environ | {"NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
        cwd=tmp_path,  # its cache of crashes, not the checkout's
    )
    out, _ = await asyncio.wait_for(run.communicate(), 300)
    report = out.decode()
    print(report[-3000:])
    assert run.returncode == 0, report[-6000:]
    operations = len(endpoints())
    assert f"Selected: {operations}/{operations}" in report and f"Tested: {operations}" in report
