"""The README's "Keep its world across restarts", pasted into bash: an emulator with a state file, a vault
made with the official SDK, a restart, and the inventory listing the vault the first run made."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from readme_text import README, blocks, section
from test_first_real_run import PROLOGUE, free_port

HEADING = "### Keep its world across restarts"


def section_script() -> str:
    shell = [block.text for block in blocks(section(README.read_text("utf-8"), HEADING), "sh")]
    assert len(shell) == 3, "the section lost its shell blocks"
    return PROLOGUE + "\n".join(shell)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    return tmp_path


def test_the_section_keeps_a_vault_across_a_restart_as_pasted(checkout: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBR_ORCH_")}
    env |= {"EMULATOR_PORT": str(free_port()), "TMPDIR": str(checkout), "COLUMNS": "160", "NO_COLOR": "1"}
    done = subprocess.run(
        ["bash", "-c", section_script()],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    created, listing = done.stdout.split("created vault", 1)
    assert "kept-vault" not in created
    restarted = next(line for line in listing.splitlines() if "ecs-0001" in line)
    assert "kept-vault" in restarted, listing
    (state,) = checkout.glob("tmp*/world.json")
    assert '"format":"cbr-emulator-state"' in state.read_text()
