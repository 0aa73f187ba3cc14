"""The triggers file: loaded at startup (a file that cannot be used: the server does not start, in one
line), reloaded on SIGHUP (a bad file then keeps the triggers loaded before), listed by ``hooks``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

import aiohttp
import pytest
from api_helpers import free_port
from cli_runner import run_cli
from hook_senders import SECRETS_ENV, TRIGGERS, body_of, rewrite, standard_headers, trigger

from orchestrator.api.app import run_api
from orchestrator.api.triggers import TriggerBook, TriggerError
from orchestrator.config import Settings

NEW = trigger("new-hook", "standard-webhooks", "HOOK_STANDARD", "body.status == 'firing'")
BAD = TRIGGERS + '\n[[trigger]]\nname = "Bad Name"\n'


@pytest.fixture
def triggers_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for variable, value in SECRETS_ENV.items():
        monkeypatch.setenv(variable, value)
    path = tmp_path / "triggers.toml"
    path.write_text(TRIGGERS)
    return path


def test_reload_picks_up_a_new_trigger_and_keeps_the_old_ones_on_a_bad_file(
    triggers_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    book = TriggerBook(triggers_file)
    assert book.names() == ["alert-backup", "deploy-backup", "gitlab-backup"]
    rewrite(triggers_file, TRIGGERS + NEW)
    assert book.reload()
    assert book.get("new-hook") is not None
    rewrite(triggers_file, BAD)
    with caplog.at_level(logging.ERROR):
        assert not book.reload()
    assert book.get("new-hook") is not None and len(book.names()) == 4
    assert "keeping the 4 loaded before" in caplog.text and "Bad Name" in caplog.text
    assert not any(secret in caplog.text for secret in SECRETS_ENV.values())


async def test_sighup_reloads_the_triggers_of_a_running_server(
    api_settings: Settings, triggers_file: Path
) -> None:
    port = free_port()
    api = api_settings.api.model_copy(update={"triggers_file": triggers_file, "port": port})
    stop = asyncio.Event()
    server = asyncio.create_task(run_api(api_settings.model_copy(update={"api": api}), stop))
    body = body_of({"status": "ignored-by-nobody"})
    url = f"http://127.0.0.1:{port}/v1/hooks/new-hook"
    try:
        async with aiohttp.ClientSession() as session:
            assert await _status(session, url, body) == 404
            rewrite(triggers_file, TRIGGERS + NEW)
            os.kill(os.getpid(), signal.SIGHUP)
            assert await _status(session, url, body, until=202) == 202  # the filter ignores it: 202
            rewrite(triggers_file, BAD)
            os.kill(os.getpid(), signal.SIGHUP)
            await asyncio.sleep(0.2)
            assert await _status(session, url, body) == 202
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)


async def _status(session: aiohttp.ClientSession, url: str, body: bytes, until: int | None = None) -> int:
    """The answer's status; with ``until``, asked again (for up to 5 s) until it is that one."""
    status = 0
    for _ in range(50):
        with contextlib.suppress(aiohttp.ClientConnectionError):
            async with session.post(url, data=body, headers=standard_headers("d-1", body)) as answer:
                status = answer.status
                if until is None or status == until:
                    return status
        await asyncio.sleep(0.1)
    return status


async def test_a_server_with_a_bad_triggers_file_does_not_start(
    api_settings: Settings, triggers_file: Path
) -> None:
    rewrite(triggers_file, BAD)
    api = api_settings.api.model_copy(update={"triggers_file": triggers_file})
    with pytest.raises(TriggerError, match="Bad Name"):
        await run_api(api_settings.model_copy(update={"api": api}), asyncio.Event())
    run = await run_cli(
        api_settings.database_url, "api", env={"CBR_ORCH_API__TRIGGERS_FILE": str(triggers_file)}
    )
    assert run.code == 2
    assert run.stderr.strip().startswith("not started: triggers:") and "Traceback" not in run.stderr


async def test_hooks_lists_the_triggers_without_their_secrets(
    api_settings: Settings, triggers_file: Path
) -> None:
    env = {"CBR_ORCH_API__TRIGGERS_FILE": str(triggers_file), **SECRETS_ENV}
    listed = await run_cli(api_settings.database_url, "hooks", env=env)
    assert listed.code == 0, listed.stderr
    for expected in [
        "alert-backup",
        "standard-webhooks",
        "HOOK_GITHUB",
        "body.status == 'firing'",
        "backup in project",
    ]:
        assert expected in listed.stdout
    assert not any(secret in listed.stdout + listed.stderr for secret in SECRETS_ENV.values())
    rewrite(triggers_file, BAD)
    refused = await run_cli(api_settings.database_url, "hooks", env=env)
    assert refused.code == 2
    assert "Bad Name" in refused.stderr and refused.stdout == ""
