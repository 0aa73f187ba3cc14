"""How a long-lived service (``worker``, ``api``) starts and stops: the checks before it, its logs, its
signals, and one line with exit code 2 for whatever keeps it from starting."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import typer
from rich.markup import escape

from orchestrator.cli.app import errors, observe, run_long_lived, settings
from orchestrator.cli.startup import STARTUP_EXIT_CODE, SchemaNeed, preflight
from orchestrator.config import Settings

Service = Callable[[Settings, asyncio.Event], Awaitable[None]]


def serve(name: str, service: Service, refusals: Sequence[tuple[type[Exception], str]] = ()) -> None:
    """Run ``service`` until SIGINT/SIGTERM. ``refusals`` are the operator's mistakes found at start
    (an exception type and the words before its message), each shown as one line, never a traceback."""
    from orchestrator.cli.unreachable import services_explained
    from orchestrator.observability.metrics_server import MetricsServerError
    from orchestrator.worker import stop_on_signals

    chosen = settings()
    preflight(chosen, schema=SchemaNeed.CURRENT, broker=True)
    observe(name)

    async def run() -> None:
        stop = asyncio.Event()
        with stop_on_signals(stop):
            await service(chosen, stop)

    known: list[tuple[type[Exception], str]] = [*refusals, (MetricsServerError, "")]  # the port: theirs
    try:
        with services_explained(STARTUP_EXIT_CODE):
            run_long_lived(run())
    except Exception as exc:
        words = next((words for kind, words in known if isinstance(exc, kind)), None)
        if words is None:
            raise
        errors.print(f"not started: {words}{escape(str(exc))}")
        raise typer.Exit(STARTUP_EXIT_CODE) from None
