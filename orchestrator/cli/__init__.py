"""The ``cbr-orchestrator`` command: the application (``app``), and one module per group of commands."""

from orchestrator.cli import cancel, emulator, proofs, service, workflows
from orchestrator.cli.app import app

__all__ = ["app", "cancel", "emulator", "main", "proofs", "service", "workflows"]


def main() -> None:
    app()
