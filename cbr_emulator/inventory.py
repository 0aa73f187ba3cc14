"""The fake cloud a project owns: servers (each with a system disk and data disks) and standalone disks.

Generated deterministically from the count and the seed of :class:`~cbr_emulator.config.Inventory`
and the region and project, so two emulators started with the same settings show the same resources.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from cbr_emulator.config import Inventory

SERVER_TYPE = "OS::Nova::Server"
VOLUME_TYPE = "OS::Cinder::Volume"
SYSTEM_DISK_SIZES = (40, 40, 50, 100)
DATA_DISK_SIZES = (10, 20, 50, 100, 200, 500)
VOLUME_TYPES = ("SSD", "GPSSD", "SAS")
FLAVORS = ("s6.small.1", "s6.medium.2", "c7.large.2", "m7.xlarge.8")


@dataclass(frozen=True)
class Disk:
    id: str
    name: str
    size_gb: int
    availability_zone: str
    volume_type: str
    server_id: str | None = None  # None for a standalone disk
    device: str | None = None  # /dev/vda for a system disk
    bootable: bool = False

    @property
    def type(self) -> str:
        return VOLUME_TYPE


@dataclass(frozen=True)
class Server:
    id: str
    name: str
    availability_zone: str
    flavor: str
    disks: tuple[Disk, ...]

    @property
    def type(self) -> str:
        return SERVER_TYPE

    @property
    def size_gb(self) -> int:
        return sum(disk.size_gb for disk in self.disks)


Resource = Server | Disk


@dataclass(frozen=True)
class ProjectInventory:
    servers: dict[str, Server]
    disks: dict[str, Disk]  # every disk: those attached to servers and the standalone ones

    def find(self, resource_id: str) -> Resource | None:
        return self.servers.get(resource_id) or self.disks.get(resource_id)

    def size_of(self, resource_id: str) -> int:
        found = self.find(resource_id)
        return found.size_gb if found else 0


def build_inventory(settings: Inventory, region: str, project_id: str) -> ProjectInventory:
    rng = random.Random(f"{settings.seed}:{region}:{project_id}")
    zones = tuple(f"{region}{suffix}" for suffix in "abc")
    servers: dict[str, Server] = {}
    disks: dict[str, Disk] = {}
    for number in range(1, settings.servers + 1):
        server = _server(rng, number, zones, settings.data_disks_per_server)
        servers[server.id] = server
        disks.update((disk.id, disk) for disk in server.disks)
    for number in range(1, settings.disks + 1):
        disk = Disk(
            id=_uuid(rng),
            name=f"volume-{number:04d}",
            size_gb=rng.choice(DATA_DISK_SIZES),
            availability_zone=rng.choice(zones),
            volume_type=rng.choice(VOLUME_TYPES),
        )
        disks[disk.id] = disk
    return ProjectInventory(servers=servers, disks=disks)


def _server(rng: random.Random, number: int, zones: tuple[str, ...], data_disks: int) -> Server:
    server_id = _uuid(rng)
    name = f"ecs-{number:04d}"
    zone = rng.choice(zones)
    kind = rng.choice(VOLUME_TYPES)
    disks = [
        Disk(
            id=_uuid(rng),
            name=f"{name}-volume-{index:04d}",
            size_gb=rng.choice(SYSTEM_DISK_SIZES if index == 0 else DATA_DISK_SIZES),
            availability_zone=zone,
            volume_type=kind,
            server_id=server_id,
            device=f"/dev/vd{chr(ord('a') + index)}",
            bootable=index == 0,
        )
        for index in range(data_disks + 1)
    ]
    return Server(
        id=server_id, name=name, availability_zone=zone, flavor=rng.choice(FLAVORS), disks=tuple(disks)
    )


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
