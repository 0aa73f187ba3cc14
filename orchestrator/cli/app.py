"""The ``cbr-orchestrator`` application object, its ``--version``, and what every command shares: the
console, the settings (with errors that name the environment variable to fix) and the long-lived loop."""

from __future__ import annotations

from collections.abc import Coroutine
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from orchestrator.config import Settings

app = typer.Typer(
    help="Orchestrate Huawei Cloud CBR backups; run a local CBR emulator.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: no type column of "<bool>" beside flags
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
console = Console()
errors = Console(stderr=True, soft_wrap=True)

# The environment every command that talks to the database, the broker or CBR reads (see the README's
# "Settings" for the rest).
ENV_DATABASE = "Environment: CBR_ORCH_DATABASE_URL (the PostgreSQL database)."
ENV_BROKER = "CBR_ORCH_AMQP_URL (RabbitMQ), CBR_ORCH_NAMES__PREFIX (names of its queues and exchanges)."
ENV_CLOUD = (
    "CBR_ORCH_CREDENTIALS or CBR_ORCH_SECRETS_FILE (credentials per project and region), "
    "CBR_ORCH_CBR_ENDPOINTS (region → endpoint, e.g. the emulator), CBR_ORCH_WORKER__* (worker tuning)."
)


def package_version() -> str:
    try:
        return version("cbr-orchestrator")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def _show_version(asked: bool) -> None:
    if asked:
        console.print(f"cbr-orchestrator {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Orchestrate Huawei Cloud CBR backups; run a local CBR emulator."""


def observe(service: str) -> None:
    """A server process's logging (JSON lines, or readable ones on a terminal: CBR_ORCH_LOG_FORMAT,
    CBR_ORCH_LOG_LEVEL) and, when the OTEL_* variables ask for it, its traces (flushed at exit)."""
    from orchestrator.observability.logs import LogSettingError, setup_logging
    from orchestrator.observability.tracing import setup_tracing

    try:
        setup_logging()
    except LogSettingError as exc:
        errors.print(f"configuration: {escape(str(exc))}")
        raise typer.Exit(2) from None
    setup_tracing(f"cbr-orchestrator-{service}")


def settings() -> Settings:
    """The settings from the environment; a mistake ends the command naming the variable to fix."""
    from pydantic import ValidationError

    from orchestrator.config import Settings, explain_settings_error

    try:
        return Settings()
    except ValidationError as exc:
        for line in explain_settings_error(exc):
            errors.print(f"configuration: {escape(line)}")
        raise typer.Exit(2) from None
    except ValueError as exc:  # the secrets file, read by a validator
        errors.print(f"configuration: {escape(str(exc))}")
        raise typer.Exit(2) from None


def print_cause_when_debugging(exc: BaseException) -> None:
    """With ``CBR_ORCH_LOG_LEVEL=DEBUG``, the traceback behind a one-line explanation, on stderr."""
    import os
    import traceback

    cause = exc.__cause__ or exc
    if os.environ.get("CBR_ORCH_LOG_LEVEL", "").upper() == "DEBUG":
        errors.print("".join(traceback.format_exception(cause)), markup=False, highlight=False)


def run_long_lived(main: Coroutine[Any, Any, None]) -> None:
    """Run a server process (the worker) on uvloop: a faster event loop where most time is I/O."""
    import uvloop

    uvloop.run(main)
