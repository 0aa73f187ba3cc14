"""PostgreSQL or RabbitMQ that cannot be reached: one line naming the variable to fix, not a traceback.

Every command goes through :func:`services_explained` (see ``main``). An error is told apart by where
it was raised: a refused connection is an ``OSError`` whether it came from asyncpg or aiormq, so the
frames it went through decide which service — and so which variable — it is about. Anything else is
raised as it is. Passwords in URLs never show: the URL is printed with its password hidden.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

import asyncpg

from orchestrator.cli.app import errors

DATABASE_VARIABLE = "CBR_ORCH_DATABASE_URL"
BROKER_VARIABLE = "CBR_ORCH_AMQP_URL"
_CREDENTIALS_IN_URL = re.compile(r"(//[^/@:\s]*):[^/@\s]*@")

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
        hint = ""
        if isinstance(exc, asyncpg.InvalidCatalogNameError):
            hint = "; create it with `cbr-orchestrator migrate --create-database`"
        return _line("PostgreSQL", DATABASE_VARIABLE, exc, hint)
    if isinstance(exc, OSError | TimeoutError) and _raised_in(exc, "aiormq", "aio_pika"):
        return _line("RabbitMQ", BROKER_VARIABLE, exc, "")
    return None


@contextmanager
def services_explained() -> Iterator[None]:
    """Turn an unreachable database or broker into one line on stderr and exit status 1."""
    try:
        yield
    except Exception as exc:
        line = explain(exc)
        if line is None:
            raise
        errors.print(line, markup=False, highlight=False)
        raise SystemExit(1) from None


def _line(service: str, variable: str, exc: BaseException, hint: str) -> str:
    reason = hide_passwords(str(exc)) or "no answer"
    return (
        f"cannot connect to {service}: {type(exc).__name__}: {reason}{hint}. "
        f"Check {variable} ({_current(variable)})."
    )


def _current(variable: str) -> str:
    from orchestrator.config import Settings

    value = os.environ.get(variable)
    if value is None:
        field = variable.removeprefix("CBR_ORCH_").lower()
        default = Settings.model_fields[field].default
        shown = default.get_secret_value() if hasattr(default, "get_secret_value") else str(default)
        return f"not set; the default is {hide_passwords(shown)}"
    return hide_passwords(value)


def hide_passwords(text: str) -> str:
    """``scheme://user:secret@host`` → ``scheme://user:***@host``, wherever it occurs in ``text``."""
    return _CREDENTIALS_IN_URL.sub(r"\1:***@", text)


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
