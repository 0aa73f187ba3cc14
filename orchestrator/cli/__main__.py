"""``python -m orchestrator.cli``: the same as ``cbr-orchestrator``."""

from orchestrator.cli import main

main()
