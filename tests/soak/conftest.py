"""The soak's tests: its plan and audit (fast), and the soak itself run small (private services, minutes).

The soak runs on private PostgreSQL and RabbitMQ instances it starts itself; it is never skipped: a
missing binary is an error. Deselect the long ones locally with ``-m 'not soak'``.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "soak: runs cbr-orchestrator soak on private services (minutes); always runs, never skipped,"
        " deselect locally with -m 'not soak'",
    )
