"""Every path of this repository that the documents name exists: a move that leaves a document behind
fails here. (The CHANGELOG is history: it may name what has moved since.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
NAMED_PATH = re.compile(r"`((?:orchestrator|cbr_emulator|tests|sql|docs|deploy)/[\w./-]*)`")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_named_path_exists(document: str) -> None:
    text = (ROOT / document).read_text("utf-8")
    named = {m.group(1).rstrip("/.") for m in NAMED_PATH.finditer(text)}
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert named and missing == []
