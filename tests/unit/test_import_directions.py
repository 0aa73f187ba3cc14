"""The direction of imports between the rooms (docs/ARCHITECTURE.md), held by import-linter's contracts in
pyproject.toml: a module that imports against it fails here, naming the import and its line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_import_goes_the_way_the_architecture_says() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(lint), "--config", "pyproject.toml", "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "BROKEN" not in run.stdout and "5 kept, 0 broken" in run.stdout
