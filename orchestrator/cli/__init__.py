"""The ``cbr-orchestrator`` command: the application (``app``), and one module per group of commands."""

from orchestrator.cli import (
    api,
    cancel,
    coverage,
    dead_letters,
    doctor,
    emulator,
    hooks,
    proofs,
    refusals,
    schedules,
    service,
    workflow,
    workflows,
)
from orchestrator.cli.app import app

__all__ = [
    "api",
    "app",
    "cancel",
    "coverage",
    "dead_letters",
    "doctor",
    "emulator",
    "hooks",
    "main",
    "proofs",
    "refusals",
    "schedules",
    "service",
    "workflow",
    "workflows",
]


def main() -> None:
    from orchestrator.cli.unreachable import services_explained

    with services_explained():
        app()
