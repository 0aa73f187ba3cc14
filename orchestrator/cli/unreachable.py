"""PostgreSQL or RabbitMQ that cannot be reached: one line naming the variable to fix, not a traceback.

Every command goes through :func:`services_explained` (see ``main``). An error is told apart by where
it was raised: a refused connection is an ``OSError`` whether it came from asyncpg or aiormq, so the
frames it went through decide which service — and so which variable — it is about. Anything else is
raised as it is. Passwords in URLs never show: the URL is printed with its password hidden.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

import aiormq
import asyncpg

from orchestrator.cli.app import errors, print_cause_when_debugging
from orchestrator.cli.connection_problems import (
    BROKER_VARIABLE,
    DATABASE_VARIABLE,
    broker_problem,
    database_problem,
)

# PostgreSQL's answers while connecting: the database, the role or the server refuses
_DATABASE_REFUSALS = (
    asyncpg.InvalidCatalogNameError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ClientConfigurationError,
)


def explain(exc: BaseException) -> str | None:
    """What went wrong reaching PostgreSQL or RabbitMQ and which variable to check; None for other errors."""
    if (
        isinstance(exc, _DATABASE_REFUSALS)
        or (isinstance(exc, OSError | TimeoutError) and _raised_in(exc, "asyncpg"))
        or (isinstance(exc, ValueError) and _raised_in(exc, "asyncpg.connect_utils"))  # a URL it cannot read
    ):
        return str(database_problem(exc, current_url(DATABASE_VARIABLE)))
    if (isinstance(exc, OSError | TimeoutError) and _raised_in(exc, "aiormq", "aio_pika")) or isinstance(
        exc, aiormq.exceptions.InvalidFrameError
    ):
        return str(broker_problem(exc, current_url(BROKER_VARIABLE)))
    return None


@contextmanager
def services_explained(exit_code: int = 1) -> Iterator[None]:
    """Turn an unreachable database or broker into one line on stderr and ``exit_code``."""
    try:
        yield
    except Exception as exc:
        line = explain(exc)
        if line is None:
            raise
        errors.print(line, markup=False, highlight=False)
        print_cause_when_debugging(exc)
        raise SystemExit(exit_code) from None


def current_url(variable: str) -> str:
    """The URL ``variable`` holds, or the default the settings take when it is not set."""
    from orchestrator.config import Settings

    value = os.environ.get(variable)
    if value is not None:
        return value
    default = Settings.model_fields[variable.removeprefix("CBR_ORCH_").lower()].default
    return str(default.get_secret_value() if hasattr(default, "get_secret_value") else default)


def _raised_in(exc: BaseException, *modules: str) -> bool:
    """Whether ``exc`` (or an exception it was raised from) went through a frame of one of ``modules``
    (a package stands for its modules)."""
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        names = (_module_of(tb) for tb in _frames(seen.__traceback__))
        if any(name == m or name.startswith(f"{m}.") for name in names for m in modules):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _frames(tb: TracebackType | None) -> Iterator[TracebackType]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _module_of(tb: TracebackType) -> str:
    return str(tb.tb_frame.f_globals.get("__name__", ""))
