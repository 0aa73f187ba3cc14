"""Errors the emulator answers with, in CBR's own codes, statuses and messages."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def error_table() -> dict[str, dict[str, object]]:
    """CBR's published error codes: ``{"BackupService.6105": {"status": 404, "message": "..."}}``."""
    text = resources.files("cbr_emulator").joinpath("data/cbr-error-codes.json").read_text("utf-8")
    table: dict[str, dict[str, object]] = json.loads(text)
    return table


class CbrError(Exception):
    """An answer that is not a success: HTTP status plus CBR's ``error_code``/``error_msg`` body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @classmethod
    def of(cls, code: str, detail: str | None = None) -> CbrError:
        """The published error ``code`` (``"6105"`` or ``"BackupService.6105"``), with optional detail."""
        full = code if "." in code else f"BackupService.{code}"
        entry = error_table().get(full, {"status": 400, "message": "Request failed."})
        message = str(entry["message"])
        if detail:
            message = f"{message} {detail}"
        status = entry["status"]
        return cls(status if isinstance(status, int) else 400, full, message)

    def body(self) -> dict[str, str]:
        return {"error_code": self.code, "error_msg": self.message}
