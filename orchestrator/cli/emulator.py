"""``emulator``: the CBR emulator as a server of its own; ``emulator-inventory``: what a running one holds.

Both are the commands of ``cbr-emulator`` (``cbr-emulator`` and ``cbr-emulator inventory``), with their
options, under the orchestrator's name.
"""

from __future__ import annotations

from cbr_emulator.cli import emulator as run_emulator
from cbr_emulator.cli import inventory
from orchestrator.cli.app import app

app.command("emulator")(run_emulator)
app.command("emulator-inventory")(inventory)
