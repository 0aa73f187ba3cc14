"""What the TCP proxy does to the bytes it carries (switch with ``TcpProxy.set``), and what it counts.

A ``set`` takes effect on new connections and, at its next chunk, on each open one; byte limits count
from that moment on an open connection, from its start on a new one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True)
class Pass:
    """Forward both ways."""

    name: ClassVar[str] = "pass"


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds`` before forwarding each chunk, either way; with ``at_connect``, wait before
    connecting upstream instead (new connections only)."""

    seconds: float
    at_connect: bool = False
    name: ClassVar[str] = "delay"


@dataclass(frozen=True)
class Blackhole:
    """Read and throw away, never forward, never answer. A new connection is accepted but never
    connected upstream, and stays a black hole whatever is set later."""

    name: ClassVar[str] = "blackhole"


@dataclass(frozen=True)
class Stall:
    """The network drops every packet for a while, and TCP holds on: nothing passes either way while it
    lasts, nothing is lost — held bytes (and new connections) go through once another mode is set. What a
    real outage does to a live connection (``Blackhole`` throws bytes away, which TCP never does)."""

    name: ClassVar[str] = "stall"


@dataclass(frozen=True)
class Reset:
    """Abort both sides with a TCP RST (``SO_LINGER`` 0) once the connection has carried ``after_bytes``
    bytes, both ways together: 0 resets a new connection at once, an open one at its next chunk."""

    after_bytes: int = 0
    name: ClassVar[str] = "reset"


@dataclass(frozen=True)
class CutAfter:
    """Forward ``after_bytes`` bytes of the upstream's answer, then close both sides cleanly (FIN);
    what the client sends passes."""

    after_bytes: int
    name: ClassVar[str] = "cut_after"


@dataclass(frozen=True)
class HttpErrorAfterForward:
    """A gateway that timed out after the service executed the call (HTTP/1.1).

    At a request boundary — a new connection, or an open keep-alive one whose next chunk starts a
    request — the request (body by ``Content-Length``) is forwarded with ``Connection: close``, the
    upstream's whole answer is read and thrown away (waiting at most ``response_timeout``), and the
    client gets ``status`` with ``{"error_code", "error_msg", "request_id"}`` and ``Connection: close``.
    The defaults are what Huawei's API gateway answers on a backend timeout.
    """

    status: int = 504
    error_code: str = "APIG.0201"
    error_msg: str = "Backend timeout."
    response_timeout: float = 30.0
    name: ClassVar[str] = "http_error_after_forward"


Behaviour = Pass | Delay | Blackhole | Stall | Reset | CutAfter | HttpErrorAfterForward


@dataclass
class ProxyCounters:
    """Since the proxy started. ``by_mode``: how often each behaviour acted — ``pass``: chunks forwarded
    as they came; ``delay``: waits; ``blackhole``: chunks thrown away and connections accepted into the
    hole; ``reset``, ``cut_after``: connections ended; ``http_error_after_forward``: requests answered
    with the error."""

    connections: int = 0
    open_connections: int = 0
    bytes_up: int = 0  # client → upstream, forwarded
    bytes_down: int = 0  # upstream → client, forwarded
    bytes_dropped: int = 0  # read and thrown away (black hole, answers replaced by an error)
    by_mode: Counter[str] = field(default_factory=Counter)
