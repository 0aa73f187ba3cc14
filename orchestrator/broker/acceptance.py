"""What a well-formed command must also meet to be accepted, whichever way it arrives (the queue or the
API): credentials for every project it calls CBR in, and a callback host on the allow-list."""

from __future__ import annotations

from orchestrator.config import Settings
from orchestrator.messages import AnyCommand, InvalidCommand, callback_host


def check_acceptable(command: AnyCommand, settings: Settings) -> None:
    """Raise :class:`InvalidCommand` with the reason when ``command`` is refused."""
    for project_id, region in projects_of(command):
        if not settings.has_credentials(project_id, region):
            raise InvalidCommand(
                f"refused: no credentials configured for project {project_id} in region {region}",
                command.command_id,
            )
    if command.callback_url is not None:
        _check_callback(command, settings)


def projects_of(command: AnyCommand) -> list[tuple[str, str]]:
    """Every (project, region) the command's workflows call CBR in."""
    projects = [(command.project_id, command.region)]
    if command.kind == "fleet_backup" and command.select.protectables is not None:
        projects += [(p.project_id, p.region) for p in command.select.protectables.projects]
    return projects


def _check_callback(command: AnyCommand, settings: Settings) -> None:
    assert command.callback_url is not None
    if settings.api.callback_secret is None:
        raise InvalidCommand("refused: callbacks are not enabled (no callback secret)", command.command_id)
    host = callback_host(command.callback_url)
    if not settings.api.allows_callback(host):
        raise InvalidCommand(f"refused: callback host {host} is not on the allow-list", command.command_id)
