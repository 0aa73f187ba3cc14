"""Starting and stopping the emulator: in the current event loop, in a background thread, or as a service.

* ``await start_emulator(config)`` → :class:`RunningEmulator` (also ``async with``) for async tests.
* ``with EmulatorInThread(config) as running:`` for synchronous callers (the official SDK).
* ``await serve(config, host, port, faults, keeper)`` runs until cancelled, SIGINT or SIGTERM (the CLI);
  with a :class:`StateKeeper` it starts from a saved world and saves it while it runs and when it stops.
* ``config_from_options(...)`` turns the CLI options into an :class:`EmulatorConfig`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from cbr_emulator.app import Components, assemble, build_app
from cbr_emulator.clock import Clock
from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Inventory, Tenant
from cbr_emulator.counters import Counters
from cbr_emulator.faults import FaultPlan, Faults
from cbr_emulator.rate_limit import RateLimit, RateLimiter
from cbr_emulator.service import Emulator
from cbr_emulator.speeds import Speed, progression_for
from cbr_emulator.state_file import WorldSnapshot, restore
from cbr_emulator.state_keeper import StateKeeper
from cbr_emulator.tenants import check_consistent, load_tenants_file, parse_tenant_option

log = logging.getLogger("cbr_emulator")

DEFAULT_PORT = 8790
SHUTDOWN_TIMEOUT = 5.0
T = TypeVar("T")


@dataclass
class RunningEmulator:
    """A started server. ``emulator`` is the domain; ``faults``/``counters``/``rate_limiter`` steer it."""

    base_url: str
    port: int
    emulator: Emulator
    clock: Clock
    faults: Faults
    counters: Counters
    rate_limiter: RateLimiter
    _runner: web.AppRunner
    _closed: bool = False

    async def close(self) -> None:
        """Stop listening, cut held connections short, stop the ticker. Safe to call twice."""
        if not self._closed:
            self._closed = True
            await self._runner.cleanup()

    async def __aenter__(self) -> RunningEmulator:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _as_faults(faults: Faults | FaultPlan | None) -> Faults:
    if isinstance(faults, Faults):
        return faults
    return Faults(faults)


async def start_emulator(
    config: EmulatorConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
    faults: Faults | FaultPlan | None = None,
    saved: WorldSnapshot | None = None,
) -> RunningEmulator:
    """Serve ``config`` on ``host:port`` (0 picks a free port) in the running event loop, starting from the
    ``saved`` world when given."""
    clock = clock or Clock(manual=config.manual_clock)
    emulator = Emulator(config, clock)
    if saved is not None:
        restore(emulator.world, saved)
    parts: Components = assemble(config, emulator, clock, _as_faults(faults))
    runner = web.AppRunner(build_app(parts), shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = int(runner.addresses[0][1])
    return RunningEmulator(
        base_url=_url(host, bound),
        port=bound,
        emulator=emulator,
        clock=clock,
        faults=parts.faults,
        counters=parts.counters,
        rate_limiter=parts.rate_limiter,
        _runner=runner,
    )


class EmulatorInThread:
    """The same server in a background thread with its own event loop, for synchronous callers.

    ``with EmulatorInThread(config) as running: ...`` — ``running`` is the :class:`RunningEmulator`.
    Its objects belong to the server's loop: reach them with :meth:`call`, or use the admin API.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        faults: Faults | FaultPlan | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._config = config or EmulatorConfig()
        self._host, self._port, self._clock, self._faults = host, port, clock, faults
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="cbr-emulator", daemon=True)
        self._running: RunningEmulator | None = None

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    @property
    def running(self) -> RunningEmulator:
        if self._running is None:
            raise RuntimeError("the emulator is not running")
        return self._running

    def start(self) -> RunningEmulator:
        self._thread.start()
        starting = start_emulator(self._config, self._host, self._port, self._clock, self._faults)
        try:
            self._running = asyncio.run_coroutine_threadsafe(starting, self._loop).result(self._timeout)
        except BaseException:
            self._stop_loop()
            raise
        return self._running

    def call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the server's loop (safe access to the emulator's state); its result."""

        async def run() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(self._timeout)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self._timeout)

    def stop(self) -> None:
        if self._running is not None:
            closing = asyncio.run_coroutine_threadsafe(self._running.close(), self._loop)
            closing.result(self._timeout + SHUTDOWN_TIMEOUT)
            self._running = None
        if self._thread.is_alive():
            self._stop_loop()

    def __enter__(self) -> RunningEmulator:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop`` while inside; the previous handlers come back afterwards."""
    loop = asyncio.get_running_loop()
    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals
            continue
        previous[sig] = handler
    try:
        yield
    finally:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            if handler is not None:
                signal.signal(sig, handler)


def _banner(running: RunningEmulator, config: EmulatorConfig) -> str:
    lines = [f"CBR emulator listening on {running.base_url} (admin API: {running.base_url}/_emulator/state)"]
    for tenant in config.tenants:
        lines.append(
            f"  project {tenant.project_id} region {tenant.region} access key {tenant.access_key} "
            f"IAM user {tenant.domain_name}/{tenant.user_name}"
        )
    return "\n".join(lines)


async def serve(
    config: EmulatorConfig,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    faults: Faults | FaultPlan | None = None,
    keeper: StateKeeper | None = None,
) -> None:
    """Run the emulator until cancelled or sent SIGINT/SIGTERM, then close it cleanly (and save its world
    a last time when it has a ``keeper``)."""
    stop = asyncio.Event()
    saved = keeper.saved if keeper else None
    with _stop_on_signals(stop):
        running = await start_emulator(config, host, port, faults=faults, saved=saved)
        try:
            print(_banner(running, config), file=sys.stderr, flush=True)
            if keeper is None:
                await stop.wait()
            else:
                await keeper.keep(running.emulator, stop)
        finally:
            await running.close()
            if keeper is not None:
                keeper.save(running.emulator)
    log.info("CBR emulator stopped")


def config_from_options(
    tenants_file: Path | None = None,
    tenants: Sequence[str] = (),
    speed: Speed = "fast",
    servers: int | None = None,
    disks: int | None = None,
    seed: int | None = None,
    manual_clock: bool = False,
    backup_capacity: int | None = None,
    rate_limit: RateLimit | None = None,
    cross_server_restore: bool = False,
) -> EmulatorConfig:
    """The CLI's options as a config; raises ``ValueError`` (``TenantConfigError``, or pydantic's
    ``ValidationError`` for a capacity below 1) on bad options.

    Tenants from ``tenants_file`` and from each ``AK:SK:PROJECT_ID:REGION`` in ``tenants`` are
    combined; with neither, the default tenant is used.
    """
    chosen: list[Tenant] = load_tenants_file(tenants_file) if tenants_file else []
    chosen += [parse_tenant_option(option) for option in tenants]
    defaults = Inventory()
    inventory = Inventory(
        servers=defaults.servers if servers is None else servers,
        disks=defaults.disks if disks is None else disks,
        data_disks_per_server=defaults.data_disks_per_server,
        seed=defaults.seed if seed is None else seed,
    )
    if chosen:
        check_consistent(chosen)
    return EmulatorConfig(
        tenants=chosen or [DEFAULT_TENANT],
        inventory=inventory,
        progression=progression_for(speed),
        manual_clock=manual_clock,
        backup_capacity=backup_capacity,
        rate_limit=rate_limit or RateLimit(),
        cross_server_restore=cross_server_restore,
    )
