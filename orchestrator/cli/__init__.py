"""The ``cbr-orchestrator`` command: the application (``app``), and one module per group of commands."""

from orchestrator.cli import emulator, proofs, service, workflows
from orchestrator.cli.app import app

__all__ = ["app", "emulator", "main", "proofs", "service", "workflows"]


def main() -> None:
    from orchestrator.cli.unreachable import services_explained

    with services_explained():
        app()
