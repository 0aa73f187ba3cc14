"""Starting and stopping: async, in a thread, as a service; and the CLI's options."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from emulator_http_harness import ALICE, BOB, make_config

from cbr_emulator.clock import Clock
from cbr_emulator.config import DEFAULT_TENANT, Progression
from cbr_emulator.server import EmulatorInThread, config_from_options, serve, start_emulator
from cbr_emulator.tenants import TenantConfigError, parse_tenant_option
from orchestrator.cbr.signing import Credentials, sign_request

TICKER = "cbr-emulator-ticker"


def _get_json(url: str, headers: dict[str, str] | None = None) -> object:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def _tickers() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == TICKER]


async def test_start_emulator_binds_a_free_port_and_close_stops_everything() -> None:
    running = await start_emulator(make_config())
    assert running.port > 0
    assert running.base_url == f"http://127.0.0.1:{running.port}"
    assert len(_tickers()) == 1
    await running.close()
    await asyncio.sleep(0)
    assert _tickers() == []
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", running.port)


def test_emulator_in_thread_serves_sync_callers_and_stops() -> None:
    emulator = EmulatorInThread(make_config(), clock=Clock(manual=True))
    with emulator as running:
        assert _get_json(f"{running.base_url}/_emulator/health") == {
            "status": "ok",
            "now": emulator.call(lambda: running.clock.now().isoformat()),
        }
        path = f"/v3/{ALICE.project_id}/vaults"
        headers = {"Content-Type": "application/json", "X-Project-Id": ALICE.project_id}
        host = running.base_url.removeprefix("http://")
        signed = sign_request(
            Credentials(ALICE.access_key, ALICE.secret_key), "GET", host, path, [], headers, None
        )
        answer = _get_json(f"{running.base_url}{path}", signed)
        assert isinstance(answer, dict)
        assert answer["vaults"] == []
        url = running.base_url
    with pytest.raises(urllib.error.URLError):
        _get_json(f"{url}/_emulator/health")
    with pytest.raises(RuntimeError):
        _ = emulator.running


def test_emulator_in_thread_reports_a_busy_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(OSError, match="address already in use"),
            EmulatorInThread(make_config(), port=port),
        ):
            pass


async def test_serve_stops_when_cancelled_and_restores_signal_handlers() -> None:
    before = signal.getsignal(signal.SIGTERM)
    task = asyncio.create_task(serve(make_config(), "127.0.0.1", 0))
    await asyncio.sleep(0.3)
    assert len(_tickers()) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _tickers() == []
    assert signal.getsignal(signal.SIGTERM) == before


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_stops_cleanly_on_sigterm() -> None:
    port = _free_port()
    code = (
        "import asyncio\n"
        "from cbr_emulator.server import serve\n"
        "from cbr_emulator.config import EmulatorConfig\n"
        f"asyncio.run(serve(EmulatorConfig(), '127.0.0.1', {port}))\n"
        "print('stopped', flush=True)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert f"listening on http://127.0.0.1:{port}" in banner
        assert DEFAULT_TENANT.secret_key not in banner
        assert _get_json(f"http://127.0.0.1:{port}/_emulator/health") is not None
        os.kill(process.pid, signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert out.strip() == "stopped"


def test_config_from_options_defaults() -> None:
    config = config_from_options()
    assert config.tenants == [DEFAULT_TENANT]
    assert config.progression == Progression()
    assert config_from_options(speed="instant").progression == Progression.instantly()
    assert config_from_options(speed="realistic").progression == Progression.realistic()
    sized = config_from_options(servers=3, disks=4, seed=9)
    assert (sized.inventory.servers, sized.inventory.disks, sized.inventory.seed) == (3, 4, 9)


def test_tenant_option_keeps_colons_in_the_secret() -> None:
    tenant = parse_tenant_option(f"AK1:{ALICE.secret_key}:{ALICE.project_id}:cn-north-4")
    assert tenant.secret_key == ALICE.secret_key
    assert (tenant.access_key, tenant.project_id, tenant.region) == ("AK1", ALICE.project_id, "cn-north-4")


@pytest.mark.parametrize("option", ["AK:SK:REGION", "AK::" + "a" * 32 + ":r", "AK:SK:not-hex:r"])
def test_bad_tenant_options(option: str) -> None:
    with pytest.raises(TenantConfigError) as caught:
        parse_tenant_option(option)
    assert "SK" not in str(caught.value).replace("AK:SK:PROJECT_ID:REGION", "")


def test_tenants_from_json_toml_and_options(tmp_path: Path) -> None:
    json_file = tmp_path / "tenants.json"
    json_file.write_text(json.dumps({"tenants": [ALICE.model_dump()]}))
    toml_file = tmp_path / "tenants.toml"
    toml_file.write_text(
        "[[tenants]]\n"
        f'access_key = "{BOB.access_key}"\nsecret_key = "{BOB.secret_key}"\n'
        f'project_id = "{BOB.project_id}"\nregion = "{BOB.region}"\nuser_name = "bob"\n'
    )
    option = f"AKOPTION:sk:{'c' * 32}:la-south-2"
    config = config_from_options(tenants_file=json_file, tenants=[option])
    assert [t.project_id for t in config.tenants] == [ALICE.project_id, "c" * 32]
    assert config.tenants[0] == ALICE
    toml_config = config_from_options(tenants_file=toml_file)
    assert toml_config.tenants[0].user_name == "bob"


def test_contradicting_tenants_are_refused(tmp_path: Path) -> None:
    same_project = f"AKOTHER:sk:{ALICE.project_id}:cn-north-4"
    with pytest.raises(TenantConfigError, match="more than once"):
        config_from_options(tenants=[f"AK:sk:{ALICE.project_id}:r1", same_project])
    with pytest.raises(TenantConfigError, match="two different values"):
        config_from_options(tenants=[f"AK:sk1:{'a' * 32}:r1", f"AK:sk2:{'b' * 32}:r1"])


def test_unreadable_tenants_file_never_echoes_secrets(tmp_path: Path) -> None:
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps([{"access_key": "AK", "secret_key": "very-secret", "project_id": "nope"}]))
    with pytest.raises(TenantConfigError) as caught:
        config_from_options(tenants_file=path)
    assert "very-secret" not in str(caught.value)
    assert "project_id" in str(caught.value)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(TenantConfigError):
        config_from_options(tenants_file=tmp_path / "broken.json")
