"""Which SDK operation a request names: a routing table built from ``cbr-operations.json``.

A path template such as ``/v3/{project_id}/vaults/{vault_id}`` becomes a list of segments, literal or
parameter. The received path is split on ``/`` *before* percent-decoding, so an encoded slash inside a
parameter (a tag key such as ``a%2Fb``) stays inside that parameter. When several templates match,
the most specific wins: at the first position where they differ, a literal segment beats a parameter
(``GET /v3/{project_id}/vaults/summary`` is ``show_summary``, not ``show_vault``).

A route is project-scoped when one of its segments is exactly ``{project_id}``; the five domain and
migration calls (``/v3/region-projects``, ``/v3/domain/{domain_name}/projects``,
``/v3/domain/{source_project_id}``, ``/v3/migrates``) are domain-scoped: no segment names the caller's
project, and ``{source_project_id}`` is an operand of the call, not its scope.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from cbr_emulator.errors import CbrError
from cbr_emulator.gateway import GatewayError
from orchestrator.cbr.operations import sdk_operations

PROJECT_PARAM = "project_id"
PROJECT_SEGMENT = "{" + PROJECT_PARAM + "}"


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    template: str
    segments: tuple[str, ...]  # "{name}" for parameters, literal text otherwise
    success_status: int

    def bind(self, pieces: Sequence[str]) -> dict[str, str] | None:
        """Path parameters if ``pieces`` (decoded segments) fit this template, else ``None``."""
        if len(pieces) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for segment, piece in zip(self.segments, pieces, strict=True):
            if _is_param(segment):
                if not piece:
                    return None
                params[segment[1:-1]] = piece
            elif segment != piece:
                return None
        return params

    @property
    def project_scoped(self) -> bool:
        return PROJECT_SEGMENT in self.segments

    def specificity(self) -> tuple[int, ...]:
        """Sort key: literal segments (1) before parameters (0), position by position."""
        return tuple(0 if _is_param(segment) else 1 for segment in self.segments)


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    params: dict[str, str]  # decoded, including project_id when the template has it

    @property
    def operation(self) -> str:
        return self.route.operation

    @property
    def project_id(self) -> str | None:
        return self.params.get(PROJECT_PARAM)

    def path_params(self) -> dict[str, str]:
        """The parameters the domain receives: every one except ``project_id``."""
        return {name: value for name, value in self.params.items() if name != PROJECT_PARAM}


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _route_of(entry: dict[str, object]) -> Route:
    template = str(entry["path"])
    status = entry.get("success_status")
    return Route(
        operation=str(entry["operation"]),
        method=str(entry["method"]).upper(),
        template=template,
        segments=tuple(template.strip("/").split("/")),
        success_status=status if isinstance(status, int) else 200,
    )


def split_path(raw_path: str) -> list[str]:
    """Decoded segments of a raw path (without the query); bad percent-encoding is a 400."""
    pieces = raw_path.strip("/").split("/")
    try:
        return [unquote(piece, errors="strict") for piece in pieces]
    except UnicodeDecodeError as exc:
        raise CbrError.of("9900", "The request path is not valid percent-encoded UTF-8.") from exc


class RouteTable:
    """The SDK operations the emulator serves, looked up by method and raw path."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = sorted(routes, key=Route.specificity, reverse=True)

    @classmethod
    def from_sdk(cls, served: Collection[str] | None = None) -> RouteTable:
        """Routes of ``served`` operations (all when ``None``), project- and domain-scoped."""
        routes = [_route_of(entry) for entry in sdk_operations()]
        if served is not None:
            routes = [route for route in routes if route.operation in served]
        return cls(routes)

    @property
    def routes(self) -> list[Route]:
        return list(self._routes)

    def match(self, method: str, raw_path: str) -> RouteMatch:
        """The most specific route for ``method``; 404 if no template fits, 405 if only others' do."""
        pieces = split_path(raw_path)
        allowed: list[str] = []
        for route in self._routes:
            params = route.bind(pieces)
            if params is None:
                continue
            if route.method == method.upper():
                return RouteMatch(route, params)
            allowed.append(route.method)
        if allowed:
            raise GatewayError.method_not_allowed(method, sorted(set(allowed)))
        raise GatewayError.not_found()
