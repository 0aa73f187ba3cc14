"""``python -m cbr_emulator``: the same as ``cbr-emulator``."""

from cbr_emulator.cli import main

main()
