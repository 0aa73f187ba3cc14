"""Resources with their outcome and the ids a user copies next (backup, checkpoint, vault): a single
backup's, or a page of a fleet's."""

from __future__ import annotations

from collections.abc import Iterable

from rich import box
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from orchestrator.cli.views.text import plain, status_text
from orchestrator.store.fleet_children import ResourceRow
from orchestrator.store.resource_results import ResourceOutcome

TYPE_SHORT = {
    "OS::Nova::Server": "server",
    "OS::Cinder::Volume": "volume",
    "OS::Ironic::BareMetalServer": "bare metal",
    "OS::Sfs::Turbo": "turbo",
    "OS::Workspace::DesktopV2": "desktop",
}
NATURAL_WIDTH = 100_000  # a width no table reaches: measured at it, a table shows its unwrapped width


class ResourceList:
    """A table when it fits the terminal; else one block per resource, each id on a line of its own (a
    table squeezed to fit would fold the ids a user copies)."""

    def __init__(self, rows: list[ResourceOutcome], title: str, positions: list[int] | None = None) -> None:
        self.rows = rows
        self.title = title
        self.positions = positions  # a fleet's resources are numbered in the fleet

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.rows:
            yield Text(f"{self.title}: none")
            return
        table = self._table()
        natural = Measurement.get(console, options.update_width(NATURAL_WIDTH), table).maximum
        if natural <= options.max_width:
            yield table
        else:
            yield Text(f"{self.title} ({len(self.rows)})", style="bold")
            yield self._blocks()

    def _numbers(self) -> Iterable[str]:
        return (str(p) for p in self.positions) if self.positions else ("",) * len(self.rows)

    def _table(self) -> Table:
        table = Table(title=self.title, box=box.SIMPLE)
        columns = ("resource", "type", "outcome", "backup", "checkpoint", "vault", "size", "error")
        for column in ("#", *columns) if self.positions else columns:
            table.add_column(column, no_wrap=column != "error")
        for number, r in zip(self._numbers(), self.rows, strict=True):
            cells: list[RenderableType] = [
                plain(r.resource_id),
                plain(_type(r)),
                status_text(r.status),
                plain(r.backup_id),
                plain(r.checkpoint_id),
                plain(r.vault_name, r.vault_id),
                size_text(r.size_gb),
                plain(r.error_code, r.error_message),
            ]
            table.add_row(*([number, *cells] if self.positions else cells))
        return table

    def _blocks(self) -> Text:
        out = Text(overflow="fold")
        for number, r in zip(self._numbers(), self.rows, strict=True):
            heading = [f"#{number}" if number else "", r.resource_id, _type(r)]
            out.append(" · ".join(p for p in heading if p) + " · ")
            out.append_text(status_text(r.status))
            if r.size_gb is not None:
                out.append(f" · {size_text(r.size_gb)}")
            out.append("\n")
            for label, value in (
                ("backup", r.backup_id),
                ("checkpoint", r.checkpoint_id),
                ("vault", " ".join(v for v in (r.vault_name, r.vault_id) if v)),
                ("error", " ".join(v for v in (r.error_code, r.error_message) if v)),
            ):
                if value:
                    out.append(f"    {label:<11} {value}\n")
        out.rstrip()
        return out


def _type(r: ResourceOutcome) -> str | None:
    return TYPE_SHORT.get(r.resource_type or "", r.resource_type)


def size_text(size_gb: int | None) -> str:
    return f"{size_gb} GB" if size_gb is not None else ""


def fleet_resource(row: ResourceRow) -> ResourceOutcome:
    """A fleet's resource as a single backup's is shown (its vault: the child's vault id, or its name)."""
    return ResourceOutcome(
        resource_id=row.resource_id,
        resource_type=row.resource_type,
        status=row.status,
        backup_id=row.backup_id,
        checkpoint_id=row.checkpoint_id,
        vault_id=row.vault,
        size_gb=row.size_gb,
        error_code=row.error_code,
        error_message=row.error_message,
    )
