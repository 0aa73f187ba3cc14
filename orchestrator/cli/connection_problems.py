"""What went wrong reaching PostgreSQL or RabbitMQ, as one line: the variable, where it points, the cause
and what to do. The URL is shown with its password hidden; a server's own message is quoted only when it
carries no input of ours (PostgreSQL's "role … does not exist", RabbitMQ's refusals)."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiormq
import asyncpg

DATABASE_VARIABLE = "CBR_ORCH_DATABASE_URL"
BROKER_VARIABLE = "CBR_ORCH_AMQP_URL"
_CREDENTIALS_IN_URL = re.compile(r"(//[^/@:\s]*):[^/@\s]*@")
DATABASE_URL_FORM = "postgresql://USER:PASSWORD@HOST:5432/DATABASE"
BROKER_URL_FORM = "amqp://USER:PASSWORD@HOST:5672/VHOST"


def hide_passwords(text: str) -> str:
    """``scheme://user:secret@host`` → ``scheme://user:***@host``, wherever it occurs in ``text``."""
    return _CREDENTIALS_IN_URL.sub(r"\1:***@", text)


@dataclass(frozen=True)
class Target:
    """Where a URL points, as far as it says (the drivers' defaults otherwise)."""

    host: str
    port: int | None
    path: str  # the database name, or the vhost
    user: str

    @classmethod
    def of(cls, url: str, default_port: int, default_path: str) -> Target:
        try:
            parts = urlsplit(url)
            port = parts.port or default_port
        except ValueError:
            return cls("?", None, "?", "?")
        return cls(
            parts.hostname or "localhost",
            port,
            unquote(parts.path[1:]) if len(parts.path) > 1 else default_path,
            unquote(parts.username or ""),
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}" if self.port is not None else self.host


@dataclass(frozen=True)
class Problem:
    """What went wrong (``headline``), the setting to look at (``check``) and what to do (``todo``)."""

    headline: str
    check: str
    todo: str

    def __str__(self) -> str:
        return f"{self.headline}. {self.check}: {self.todo}."


class UrlProblem(ValueError):
    """A URL that names no server we can try (its scheme, port or shape)."""


def check_broker_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise UrlProblem(f"cannot be read ({exc})") from None
    if parts.scheme not in ("amqp", "amqps"):
        raise UrlProblem(f"the scheme must be amqp or amqps, not {parts.scheme or 'none'!r}")


def database_problem(exc: BaseException, url: str, waited: float = 0.0) -> Problem:
    target = Target.of(url, 5432, "postgres")
    where = f'PostgreSQL at {target.address}, database "{target.path}"'
    if isinstance(exc, UrlProblem | ValueError) and not isinstance(exc, asyncpg.PostgresError):
        return _url_line(DATABASE_VARIABLE, url, "PostgreSQL", str(exc), DATABASE_URL_FORM)
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return _line(
            DATABASE_VARIABLE,
            url,
            where,
            "the database does not exist",
            "create it with `cbr-orchestrator migrate --create-database`, or correct the database name",
        )
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return _line(
            DATABASE_VARIABLE,
            url,
            where,
            f"password authentication failed for user {target.user!r}",
            "correct the user and password",
        )
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return _line(DATABASE_VARIABLE, url, where, f"login refused: {exc}", "correct the user and password")
    if isinstance(exc, asyncpg.PostgresError):
        return _line(DATABASE_VARIABLE, url, where, f"{type(exc).__name__}: {exc}", "see PostgreSQL's log")
    return _network_line(DATABASE_VARIABLE, url, where, "PostgreSQL", exc, waited)


def broker_problem(exc: BaseException, url: str, waited: float = 0.0) -> Problem:
    target = Target.of(url, 5672, "/")
    where = f"RabbitMQ at {target.address}, vhost {target.path!r}"
    if isinstance(exc, UrlProblem):
        return _url_line(BROKER_VARIABLE, url, "RabbitMQ", str(exc), BROKER_URL_FORM)
    if isinstance(exc, aiormq.exceptions.ProbableAuthenticationError):
        return _line(
            BROKER_VARIABLE,
            url,
            where,
            f"login refused for user {target.user!r} (ACCESS_REFUSED)",
            "correct the user and password",
        )
    if _closed_at_open(exc):
        return _line(
            BROKER_VARIABLE,
            url,
            where,
            f"the vhost does not exist or user {target.user!r} may not use it",
            f"create it (`rabbitmqctl add_vhost {target.path}`, then `rabbitmqctl set_permissions -p "
            f"{target.path} {target.user or 'USER'} '.*' '.*' '.*'`) or correct the URL's path",
        )
    return _network_line(BROKER_VARIABLE, url, where, "RabbitMQ", exc, waited)


def _closed_at_open(exc: BaseException) -> bool:
    """The broker answered Connection.Open (the vhost) with Connection.Close: aiormq keeps only the text."""
    if not isinstance(exc, aiormq.exceptions.InvalidFrameError):
        return False
    return "Connection.OpenOk" in str(exc) and "Connection.Close" in str(exc)


def is_starting(exc: BaseException) -> bool:
    """An error a server gives while it is still starting (or not yet listening): worth waiting out."""
    return isinstance(exc, asyncpg.CannotConnectNowError | asyncpg.TooManyConnectionsError) or any(
        isinstance(e, ConnectionRefusedError | ConnectionResetError | TimeoutError) for e in _chain(exc)
    )


def _network_line(
    variable: str, url: str, where: str, service: str, exc: BaseException, waited: float
) -> Problem:
    after = f" (waited {waited:g} s)" if waited else ""
    chain = list(_chain(exc))
    if any(isinstance(e, socket.gaierror) for e in chain):
        return _line(variable, url, where, "the host name is not known (DNS)", "correct the host")
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        todo = f"start {service} or correct the host and port"
        return _line(variable, url, where, f"connection refused{after}", todo)
    if any(isinstance(e, TimeoutError) for e in chain):
        return _line(
            variable,
            url,
            where,
            f"no answer in time{after}",
            f"check that {service} runs there and that no firewall drops the connection",
        )
    reason = hide_passwords(str(exc)) or "no answer"
    return _line(
        variable,
        url,
        where,
        f"{type(exc).__name__}: {reason}{after}",
        f"check that {service} (not another server) listens there",
    )


def _line(variable: str, url: str, where: str, cause: str, todo: str) -> Problem:
    return Problem(f"cannot connect to {where}: {cause}", f"Check {variable} ({hide_passwords(url)})", todo)


def _url_line(variable: str, url: str, service: str, cause: str, form: str) -> Problem:
    check = f"Check {variable} ({hide_passwords(url)})"
    return Problem(f"cannot read the {service} URL: {cause}", check, f"write it as {form}")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not e for e in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
