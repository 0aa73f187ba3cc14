"""Scenario (c): the same fleet backed up by a script on the official SDK, the way its documentation shows.

The script (``huaweicloudsdkcbr``, installed with the ``test`` extra) does what a typical operator's
script does: create vaults of at most 250 servers with ``create_vault``, call ``create_checkpoint`` once
per server from a thread pool, then poll every checkpoint with ``show_checkpoint`` every few seconds
until it is ``available`` or ``error``. A 429 is retried after a growing sleep a few times. A server is
*unexplained* when the script cannot say what became of it: its checkpoint call never got an answer
it could read, or its checkpoint never reached a final status before the script gave up.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from cbr_emulator.config import DEFAULT_TENANT
from orchestrator.bench.emulator_process import EmulatorLimits, EmulatorProcess, server_ids

VAULT_CAPACITY = 250  # create_vault takes at most 255 resources; a script picks a round number
THROTTLE_ATTEMPTS = 8
THROTTLE_SLEEP_SECONDS = 1.0
SDK_MODULES = (
    "huaweicloudsdkcbr.v1",
    "huaweicloudsdkcbr.v1.model",
    "huaweicloudsdkcore.auth.credentials",
    "huaweicloudsdkcore.exceptions.exceptions",
    "huaweicloudsdkcore.http.http_config",
)


class SdkMissing(RuntimeError):
    """The official SDK is not installed (it comes with the ``test`` extra)."""


@dataclass
class ScriptOutcome:
    """What the script itself can tell: per server, protected / failed (with a reason) / unexplained."""

    protected: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    unexplained: set[str] = field(default_factory=set)
    calls: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_call(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1


class BaselineScript:
    """The typical SDK script, against ``base_url`` with the emulator's default tenant."""

    def __init__(self, base_url: str, threads: int, poll_seconds: float, give_up_seconds: float) -> None:
        self.sdk = _import_sdk()
        self.client = _client(self.sdk, base_url)
        self.threads = threads
        self.poll_seconds = poll_seconds
        self.give_up_seconds = give_up_seconds
        self.outcome = ScriptOutcome()

    def _call(self, operation: str, request: Any) -> Any:
        """One SDK call, retried after a sleep while it is throttled (429)."""
        errors = self.sdk.exceptions
        for attempt in range(1, THROTTLE_ATTEMPTS + 1):
            self.outcome.count_call(operation)
            try:
                return getattr(self.client, operation)(request)
            except errors.ClientRequestException as exc:
                if exc.status_code != 429 or attempt == THROTTLE_ATTEMPTS:
                    raise
            time.sleep(THROTTLE_SLEEP_SECONDS * attempt)
        raise AssertionError("unreachable")

    def run(self, server_ids: list[str]) -> ScriptOutcome:
        started = time.monotonic()
        checkpoints: dict[str, str] = {}
        with ThreadPoolExecutor(self.threads) as pool:
            vaults = list(pool.map(self._create_vault, _chunks(server_ids, VAULT_CAPACITY)))
            jobs = [(vault, server) for vault, chunk in vaults for server in chunk if vault is not None]
            self.outcome.unexplained.update(s for vault, chunk in vaults if vault is None for s in chunk)
            for server, checkpoint in pool.map(lambda job: self._create_checkpoint(*job), jobs):
                if checkpoint is not None:
                    checkpoints[server] = checkpoint
            self._poll_until_final(pool, checkpoints, started + self.give_up_seconds)
        return self.outcome

    def _create_vault(self, chunk: list[str]) -> tuple[str | None, list[str]]:
        cbr = self.sdk.model
        billing = cbr.BillingCreate(
            consistent_level="crash_consistent", object_type="server", protect_type="backup",
            size=1_000_000, charging_mode="post_paid", cloud_type="public",
        )  # fmt: skip
        resources = [cbr.ResourceCreate(id=s, type="OS::Nova::Server") for s in chunk]
        body = cbr.VaultCreateReq(
            vault=cbr.VaultCreate(name="baseline", billing=billing, resources=resources)
        )
        try:
            return self._call("create_vault", cbr.CreateVaultRequest(body=body)).vault.id, chunk
        except self.sdk.exceptions.SdkException:
            return None, chunk

    def _create_checkpoint(self, vault_id: str, server: str) -> tuple[str, str | None]:
        cbr = self.sdk.model
        params = cbr.CheckpointParam(resources=[server], incremental=True)
        request = cbr.CreateCheckpointRequest(
            body=cbr.VaultBackupReq(checkpoint=cbr.VaultBackup(vault_id=vault_id, parameters=params))
        )
        try:
            return server, self._call("create_checkpoint", request).checkpoint.id
        except self.sdk.exceptions.ServiceResponseException as exc:
            if exc.status_code == 429:
                self._unexplained(server)
            else:
                self._failed(server, f"{exc.error_code}: {exc.error_msg}")
        except self.sdk.exceptions.SdkException:
            self._unexplained(server)
        return server, None

    def _poll_until_final(self, pool: ThreadPoolExecutor, pending: dict[str, str], give_up_at: float) -> None:
        while pending and time.monotonic() < give_up_at:
            round_started = time.monotonic()
            finished = [s for s, done in pool.map(lambda s: (s, self._poll(s, pending[s])), pending) if done]
            for server in finished:
                del pending[server]
            time.sleep(max(0.0, round_started + self.poll_seconds - time.monotonic()) if pending else 0.0)
        for server in pending:
            self._unexplained(server)

    def _poll(self, server: str, checkpoint_id: str) -> bool:
        """Look at the checkpoint once; True when its status is final (and recorded)."""
        request = self.sdk.model.ShowCheckpointRequest(checkpoint_id=checkpoint_id)
        try:
            status = self._call("show_checkpoint", request).checkpoint.status
        except self.sdk.exceptions.SdkException:
            return False  # the next round looks again
        if status == "available":
            with self.outcome._lock:
                self.outcome.protected += 1
            return True
        if status == "error":
            self._failed(server, "checkpoint status error")
            return True
        return False

    def _failed(self, server: str, reason: str) -> None:
        with self.outcome._lock:
            self.outcome.failed[server] = reason

    def _unexplained(self, server: str) -> None:
        with self.outcome._lock:
            self.outcome.unexplained.add(server)


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True)
class _Sdk:
    model: Any
    exceptions: Any
    client_class: Any
    credentials: Any
    http_config: Any


def _import_sdk() -> _Sdk:
    """The SDK's modules, imported by name: it is a test dependency and ships no type information."""
    try:
        modules = [importlib.import_module(name) for name in SDK_MODULES]
    except ImportError as exc:
        raise SdkMissing("the baseline needs the official SDK: pip install '.[test]'") from exc
    _quiet_sdk_loggers()
    cbr_v1, cbr_model, credentials, exceptions, http_config = modules
    return _Sdk(cbr_model, exceptions, cbr_v1.CbrClient, credentials.BasicCredentials, http_config.HttpConfig)


def _client(sdk: _Sdk, base_url: str) -> Any:
    config = sdk.http_config.get_default_config()
    config.timeout = (5, 60)
    config.retry_times = 0
    t = DEFAULT_TENANT
    return (
        sdk.client_class.new_builder()
        .with_credentials(sdk.credentials(t.access_key, t.secret_key, t.project_id))
        .with_endpoints([base_url])
        .with_http_config(config)
        .build()
    )


def _quiet_sdk_loggers() -> None:
    """The SDK logs every failed request through handler-less loggers, which end up on stderr."""
    for name in ("HuaweiCloud-SDK-CbrClient", "HuaweiCloud-SDK-Client", "urllib3"):
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


@dataclass
class BaselineFigures:
    servers: int
    threads: int
    poll_seconds: float
    protected: int = 0
    failed: int = 0
    unexplained: int = 0
    wall_seconds: float = 0.0
    api_calls: int = 0
    calls_by_operation: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    available: bool = True
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def measure_baseline(
    servers: int, limits: EmulatorLimits, threads: int, poll_seconds: float, give_up_seconds: float
) -> BaselineFigures:
    """Run the SDK script on ``servers`` servers of a fresh emulator with ``limits``."""
    figures = BaselineFigures(servers=servers, threads=threads, poll_seconds=poll_seconds)
    async with EmulatorProcess(servers, limits) as emulator:
        try:
            script = BaselineScript(emulator.base_url, threads, poll_seconds, give_up_seconds)
        except SdkMissing as exc:
            figures.available, figures.reason = False, str(exc)
            return figures
        started = time.monotonic()
        outcome = await asyncio.to_thread(script.run, server_ids(servers))
        figures.wall_seconds = round(time.monotonic() - started, 2)
        counters = await emulator.counters()
    figures.protected = outcome.protected
    figures.failed = len(outcome.failed)
    figures.unexplained = len(outcome.unexplained)
    figures.api_calls = int(counters["requests"]["total"])
    figures.calls_by_operation = dict(counters["requests"]["by_operation"])
    figures.throttled = int(counters["throttled"]["total"])
    return figures
