"""The CBR emulator in a process of its own, started with the command line and steered by its admin API.

The bench measures the orchestrator, so the emulator must not share its CPU time with the process that
publishes commands and counts events: it runs as ``python -m orchestrator.cli emulator …``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp

from cbr_emulator.config import DEFAULT_TENANT, Inventory, Tenant
from cbr_emulator.inventory import build_inventory

START_SECONDS = 60.0
STOP_SECONDS = 10.0


@dataclass(frozen=True)
class EmulatorLimits:
    """What the emulator allows each project: backups at once, requests per second, and task timing.

    ``task_seconds`` is the running time of every backup (``base_seconds`` of the emulator's duration
    model, sizes made irrelevant); ``None`` everywhere means instant progression and no limits.
    """

    backup_capacity: int | None = None
    requests_per_second: float | None = None
    burst: int = 10
    task_seconds: float | None = None
    waiting_seconds: float = 0.0

    def progression(self) -> dict[str, Any]:
        if self.task_seconds is None:
            return {"speed": "instant"}
        # sizes reach a few hundred GB: at 1e6 GB/s they add well under a millisecond
        return {
            "base_seconds": self.task_seconds,
            "gb_per_second": 1e6,
            "waiting_seconds": self.waiting_seconds,
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_ids(servers: int, tenant: Tenant = DEFAULT_TENANT) -> list[str]:
    """The ids of a tenant's servers in an emulator started with ``--servers N --disks 0``."""
    inventory = Inventory(servers=servers, disks=0)
    return list(build_inventory(inventory, tenant.region, tenant.project_id).servers)


class EmulatorProcess:
    """``async with EmulatorProcess(servers, limits) as emulator:`` — a started, configured emulator.

    ``tenants`` (default: the default tenant) go to the process in a file, so no key shows on its command
    line.
    """

    def __init__(self, servers: int, limits: EmulatorLimits, tenants: Sequence[Tenant] = ()) -> None:
        self.servers = servers
        self.limits = limits
        self._tenants_file = None
        if tenants:
            self._tenants_file = tempfile.NamedTemporaryFile("w", suffix=".json")  # noqa: SIM115 - closed in stop
            json.dump({"tenants": [t.model_dump() for t in tenants]}, self._tenants_file)
            self._tenants_file.flush()
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - kept open for the process's life, closed in stop
        self._http: aiohttp.ClientSession | None = None

    def _arguments(self) -> list[str]:
        args = ["-m", "orchestrator.cli", "emulator", "--port", str(self.port), "--speed", "instant"]
        args += ["--servers", str(self.servers), "--disks", "0"]
        if self.limits.backup_capacity is not None:
            args += ["--backup-capacity", str(self.limits.backup_capacity)]
        if self._tenants_file is not None:
            args += ["--tenants", self._tenants_file.name]
        return args

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, *self._arguments(), stdout=asyncio.subprocess.DEVNULL, stderr=self._stderr
        )
        self._http = aiohttp.ClientSession(self.base_url)
        await asyncio.wait_for(self._healthy(), START_SECONDS)
        await self.admin("PUT", "/_emulator/progression", self.limits.progression())
        limit = {"requests_per_second": self.limits.requests_per_second, "burst": self.limits.burst}
        await self.admin("PUT", "/_emulator/rate-limit", limit)

    async def _healthy(self) -> None:
        assert self._proc is not None and self._http is not None
        while True:
            if self._proc.returncode is not None:
                self._stderr.seek(0)
                err = self._stderr.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"the emulator exited with {self._proc.returncode}: {err}")
            try:
                async with self._http.get("/_emulator/health") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the admin API; its JSON answer."""
        assert self._http is not None, "the emulator is not started"
        async with self._http.request(method, path, json=body) as answer:
            answer.raise_for_status()
            return await answer.json()

    async def ledger(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.admin("GET", "/_emulator/ledger")
        return result

    async def peak_running(self) -> dict[str, int]:
        """The most backup tasks that ran at once, per ``region/project_id``, since the start."""
        tasks = (await self.admin("GET", "/_emulator/capacity"))["backup_tasks"]
        return {project: int(counts["peak_running"]) for project, counts in tasks.items()}

    async def counters(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.admin("GET", "/_emulator/counters")
        return result

    async def reset_counters(self) -> None:
        await self.admin("POST", "/_emulator/counters")

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_SECONDS)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        self._stderr.close()
        if self._tenants_file is not None:
            self._tenants_file.close()

    async def __aenter__(self) -> EmulatorProcess:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()
