"""The README's "First real run", pasted into bash as a new user would: its shell blocks run top to
bottom against a private database, private RabbitMQ names and an emulator on a free port (through the
variables the section defines at its top), and must end with the backup and the restore succeeded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from pg_databases import drop_database, dsn_of, unique_name
from quick_settings import AMQP_URL
from readme_text import FIRST_RUN_HEADING, README, blocks, section

from orchestrator.config import Names

RUN_SECONDS = 180  # the run takes about 20 s; this bounds a hung one
# what the test adds around the README's text: stop at the first failing command, and never leave a
# background process behind
PROLOGUE = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"


def first_run_script() -> str:
    text = section(README.read_text("utf-8"), FIRST_RUN_HEADING)
    shell = [block.text for block in blocks(text, "sh")]
    assert len(shell) >= 5, "the First real run section lost its shell blocks"
    return PROLOGUE + "\n".join(shell)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def private_database() -> AsyncIterator[str]:
    """A database name no one uses, left for the section to create, dropped afterwards."""
    name = unique_name("readme")
    yield dsn_of(name)
    await drop_database(name)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A directory that looks like the checkout after `make demo`: `.venv` is this interpreter's venv."""
    venv = Path(sys.prefix)
    assert (venv / "bin" / "cbr-orchestrator").exists(), "run the tests from the project's venv"
    (tmp_path / ".venv").symlink_to(venv)
    return tmp_path


async def run_bash(script: str, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a hung run is stopped whole
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), RUN_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


async def workflows_by_name(dsn: str) -> dict[str, asyncpg.Record]:
    """The section's workflows by their command id without its time stamp (``first-backup`` ...)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT command_id, status, input->>'backup_id' AS restored,"
            " result->'resources'->0->>'backup_id' AS made FROM workflows"
        )
        refused = await conn.fetch("SELECT command_id, reason FROM refusals")
    finally:
        await conn.close()
    named = {row["command_id"].rsplit("-", 2)[0]: row for row in rows}
    named |= {row["command_id"].rsplit("-", 2)[0]: row for row in refused}
    return named


async def test_the_first_real_run_section_runs_as_pasted_and_ends_with_a_backup_and_a_restore(
    private_database: str, private_names: Names, checkout: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBR_ORCH_")}
    env |= {
        "EMULATOR_PORT": str(free_port()),
        "API_PORT": str(free_port()),
        "METRICS_PORT": str(free_port()),
        "API_METRICS_PORT": str(free_port()),
        "CBR_ORCH_DATABASE_URL": private_database,
        "CBR_ORCH_AMQP_URL": AMQP_URL,
        "CBR_ORCH_NAMES__PREFIX": private_names.prefix,
        "TMPDIR": str(checkout),
        "COLUMNS": "120",
        "NO_COLOR": "1",
    }
    started = time.monotonic()
    code, output = await run_bash(first_run_script(), checkout, env)
    took = time.monotonic() - started
    assert code == 0, output[-6000:]
    assert "created database" in output, output[-3000:]
    assert "ecs-0001" in output  # the inventory was listed
    named = await workflows_by_name(private_database)
    assert set(named) == {
        "first-backup",
        "restore-of-first-backup",
        "no-credentials",
        "cancelled-backup",
        "api-backup",
        "hook:alert",  # hook:alert-backup:<hash of the delivery id>
    }
    assert named["api-backup"]["status"] not in ("failed", "expired")  # posted over HTTP
    assert named["hook:alert"]["status"] not in ("failed", "expired")  # started by the signed webhook
    assert '"status":"accepted"' in output.replace(" ", "")
    assert named["first-backup"]["status"] == named["restore-of-first-backup"]["status"] == "succeeded"
    assert named["restore-of-first-backup"]["restored"] == named["first-backup"]["made"] is not None
    assert named["cancelled-backup"]["status"] == "cancelled"
    assert "no credentials" in named["no-credentials"]["reason"]
    assert "submit exited 2" in output  # the refusal ended the wait with its exit code
    print(f"first real run: {took:.1f} s")
