"""``cbr-emulator --state-file`` as users run it: a real process, driven with the official SDK, stopped
and started again; a corrupt file refused at start; ``cbr-emulator inventory`` against a running one."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
from huaweicloudsdkcbr.v1 import CbrClient
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig

from cbr_emulator.config import DEFAULT_TENANT

SCRIPT = str(Path(sys.executable).with_name("cbr-emulator"))
TENANT = DEFAULT_TENANT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ready(base_url: str, process: subprocess.Popen[str], seconds: float = 30) -> None:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        assert process.poll() is None, process.communicate()[1]
        try:
            with urllib.request.urlopen(f"{base_url}/_emulator/health", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError("the emulator did not start")


@contextmanager
def emulator(state_file: Path, *options: str) -> Iterator[str]:
    """``cbr-emulator`` on a free port with ``--state-file``, stopped with SIGTERM; yields its URL."""
    port = free_port()
    command = [SCRIPT, "--port", str(port), "--speed", "instant", "--servers", "4", "--disks", "2"]
    process = subprocess.Popen(
        [*command, "--state-file", str(state_file), *options], stderr=subprocess.PIPE, text=True
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _ready(base_url, process)
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err


def sdk(base_url: str) -> CbrClient:
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    credentials = BasicCredentials(TENANT.access_key, TENANT.secret_key, TENANT.project_id)
    return (
        CbrClient.new_builder()
        .with_credentials(credentials)
        .with_endpoints([base_url])
        .with_http_config(config)
        .build()
    )


def _first_server(client: CbrClient) -> Any:
    listed = client.list_protectable(cbr.ListProtectableRequest(protectable_type="server", limit=1))
    return listed.instances[0]


def _vault_with_a_backup(client: CbrClient) -> tuple[str, str]:
    server = _first_server(client)
    billing = {"consistent_level": "crash_consistent", "object_type": "server", "protect_type": "backup"}
    body = {
        "vault": {
            "name": "kept-across-restarts",
            "billing": {**billing, "size": 200},
            "resources": [{"id": server.id, "type": "OS::Nova::Server"}],
        }
    }
    vault = client.create_vault(cbr.CreateVaultRequest(body=body)).vault
    checkpoint = {"checkpoint": {"vault_id": vault.id, "parameters": {"name": "before-restart"}}}
    client.create_checkpoint(cbr.CreateCheckpointRequest(body=checkpoint))
    for _ in range(50):
        backups = client.list_backups(cbr.ListBackupsRequest(vault_id=vault.id)).backups
        if backups and backups[0].status == "available":
            return vault.id, backups[0].id
        time.sleep(0.1)
    raise AssertionError("the backup did not finish")


def test_vaults_and_backups_outlive_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "world.json"
    with emulator(state_file) as base_url:
        vault_id, backup_id = _vault_with_a_backup(sdk(base_url))
    assert json.loads(state_file.read_text())["format"] == "cbr-emulator-state"
    with emulator(state_file) as base_url:
        client = sdk(base_url)
        vaults = client.list_vault(cbr.ListVaultRequest()).vaults
        assert [(v.id, v.name) for v in vaults] == [(vault_id, "kept-across-restarts")]
        backup = client.show_backup(cbr.ShowBackupRequest(backup_id=backup_id)).backup
        assert (backup.status, backup.name, backup.vault_id) == ("available", "before-restart", vault_id)
        another = client.create_vault(
            cbr.CreateVaultRequest(body={"vault": _disk_vault("after-restart")})
        ).vault
        assert another.id not in (vault_id, backup_id)


def _disk_vault(name: str) -> dict[str, Any]:
    billing = {"consistent_level": "crash_consistent", "object_type": "disk", "protect_type": "backup"}
    return {"name": name, "billing": {**billing, "size": 10}, "resources": []}


def test_the_file_is_written_while_the_world_changes_not_only_at_the_end(tmp_path: Path) -> None:
    state_file = tmp_path / "world.json"
    port = free_port()
    command = [SCRIPT, "--port", str(port), "--state-file", str(state_file), "--state-save-seconds", "0.2"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL, text=True)
    try:
        _ready(f"http://127.0.0.1:{port}", process)
        vault = sdk(f"http://127.0.0.1:{port}").create_vault(
            cbr.CreateVaultRequest(body={"vault": _disk_vault("saved-while-running")})
        ).vault
        give_up = time.monotonic() + 10
        while vault.id not in (state_file.read_text() if state_file.exists() else ""):
            assert time.monotonic() < give_up, "the change never reached the state file"
            time.sleep(0.1)
    finally:
        process.kill()  # no clean stop: what is on disk is what the periodic save wrote
        process.wait(30)
    assert json.loads(state_file.read_text())["format"] == "cbr-emulator-state"


def test_a_corrupt_file_is_refused_at_start_with_one_line_and_exit_code_2(tmp_path: Path) -> None:
    state_file = tmp_path / "world.json"
    state_file.write_text('{"format": "cbr-emulator-state", "version": 1, "world": {"projects": [1')
    before = state_file.read_bytes()
    started = subprocess.run(
        [SCRIPT, "--port", str(free_port()), "--state-file", str(state_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 2, started.stderr
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to start" in lines[0] and "is corrupt" in lines[0], started.stderr
    assert state_file.read_bytes() == before


def test_a_file_of_something_else_is_refused_too(tmp_path: Path) -> None:
    state_file = tmp_path / "tenants.json"
    state_file.write_text(json.dumps({"tenants": []}))
    started = subprocess.run(
        [SCRIPT, "--state-file", str(state_file)], capture_output=True, text=True, timeout=60
    )
    assert started.returncode == 2
    assert "is not a CBR emulator state file" in started.stderr


def test_cbr_emulator_inventory_lists_the_servers_as_a_table_and_as_json(tmp_path: Path) -> None:
    with emulator(tmp_path / "world.json") as base_url:
        table = subprocess.run(
            [SCRIPT, "inventory", "--endpoint", base_url],
            capture_output=True,
            text=True,
            timeout=60,
            env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        )
        as_json = subprocess.run(
            [SCRIPT, "inventory", "--endpoint", base_url, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert table.returncode == 0, table.stderr
    assert "ecs-0001" in table.stdout and "4 servers, 2 standalone disks" in table.stdout
    (project,) = json.loads(as_json.stdout)["projects"]
    counts = (project["project_id"], len(project["servers"]), len(project["disks"]))
    assert counts == (TENANT.project_id, 4, 2)


def test_cbr_emulator_inventory_without_an_emulator_is_one_clear_line() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    listed = subprocess.run(
        [SCRIPT, "inventory", "--endpoint", endpoint, "--wait-seconds", "0.3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 1
    assert listed.stderr.strip().splitlines() == [
        f"cbr-emulator: no emulator answers at {endpoint} (ClientConnectorError); start one with "
        "`cbr-emulator --port PORT` and give its URL as --endpoint"
    ]
