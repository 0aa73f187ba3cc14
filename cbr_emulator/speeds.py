"""Named task speeds for the command line and the admin API."""

from __future__ import annotations

from typing import Literal

from cbr_emulator.config import Progression

Speed = Literal["instant", "fast", "realistic"]


def progression_for(speed: Speed) -> Progression:
    """``instant``: tasks end at the next look; ``fast``: seconds; ``realistic``: minutes."""
    if speed == "instant":
        return Progression.instantly()
    if speed == "realistic":
        return Progression.realistic()
    return Progression()
