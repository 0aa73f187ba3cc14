"""The command's help and its configuration errors, as a user meets them (a separate process each)."""

from __future__ import annotations

import json

import pytest
from cli_runner import run_cli

from orchestrator.cli.app import package_version

COMMANDS = (
    "migrate",
    "worker",
    "submit",
    "status",
    "cancel",
    "doctor",
    "dead-letters",
    "workflow",
    "schema",
    "emulator",
    "demo",
    "tour",
    "soak",
    "bench",
)
PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


async def test_version_is_printed() -> None:
    run = await run_cli("postgresql://unused/db", "--version")
    assert (run.code, run.stdout.strip()) == (0, f"cbr-orchestrator {package_version()}")


@pytest.mark.parametrize("command", COMMANDS)
async def test_help_shows_no_bool_metavar_and_names_defaults_and_choices(command: str) -> None:
    run = await run_cli("postgresql://unused/db", command, "--help")
    assert run.code == 0, run.stderr
    assert "<bool>" not in run.stdout
    if command in ("migrate", "worker", "submit", "status", "cancel"):
        assert "CBR_ORCH_DATABASE_URL" in run.stdout
    if command in ("worker", "submit", "doctor"):
        assert "CBR_ORCH_AMQP_URL" in run.stdout
    if command == "status":
        assert "<pending|running|succeeded|partially_succeeded|failed|expired|cancelled>" in run.stdout
        assert "[default: 50" in run.stdout
    if command == "emulator":
        assert "<instant|fast|realistic>" in run.stdout and "[default: 8790]" in run.stdout


async def test_a_setting_that_cannot_be_read_names_its_environment_variable() -> None:
    run = await run_cli("postgresql://unused/db", "status", env={"CBR_ORCH_WORKER__LEASE_SECONDS": "soon"})
    assert run.code == 2
    assert "CBR_ORCH_WORKER__LEASE_SECONDS: Input should be a valid number" in run.stderr
    assert "--help" not in run.stderr and "Traceback" not in run.stderr


async def test_settings_that_cannot_work_together_are_refused_at_start() -> None:
    run = await run_cli("postgresql://unused/db", "worker", env={"CBR_ORCH_CBR_TIMEOUT_SECONDS": "100"})
    assert run.code == 2
    assert "worker.lease_seconds must exceed cbr_timeout_seconds" in run.stderr


async def test_the_credentials_variable_takes_the_secrets_files_form_too(dsn: str) -> None:
    """The README shows the secrets file's form; the variable takes it as well as a bare list."""
    secret = "CANARY-SECRET-9c1e"
    credentials = [{"project_id": PROJECT, "region": "r1", "access_key": "AK", "secret_key": secret}]
    for form in (credentials, {"credentials": credentials}):
        run = await run_cli(dsn, "status", env={"CBR_ORCH_CREDENTIALS": json.dumps(form)})
        assert run.code == 0, run.stderr
    bad = [{**credentials[0], "project_id": "not-a-project"}]
    run = await run_cli("postgresql://unused/db", "status", env={"CBR_ORCH_CREDENTIALS": json.dumps(bad)})
    assert run.code == 2
    assert "CBR_ORCH_CREDENTIALS (at 0.project_id)" in run.stderr
    assert secret not in run.stderr + run.stdout
