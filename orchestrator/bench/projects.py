"""The projects a multi-project bench runs over: tenants of one emulator, spread over regions.

The first is the emulator's default tenant; the others get fixed made-up ids and keys (local use only),
the same on every run. Each project has its own backup capacity and request-rate bucket in the emulator.
"""

from __future__ import annotations

import hashlib

from cbr_emulator.config import DEFAULT_TENANT, Tenant

REGIONS = ("eu-west-101", "eu-west-0", "eu-de", "ap-southeast-1", "la-south-2")


def bench_tenants(projects: int, regions: int) -> list[Tenant]:
    """``projects`` tenants, project ``i`` in region ``i mod regions``."""
    if not 1 <= regions <= len(REGIONS) or regions > projects:
        raise ValueError(f"regions must be 1 to {min(projects, len(REGIONS))}")
    return [DEFAULT_TENANT, *(_tenant(i, REGIONS[i % regions]) for i in range(1, projects))]


def _tenant(number: int, region: str) -> Tenant:
    return Tenant(
        access_key=f"BENCHPROJECT{number:08d}",
        secret_key=f"bench-project-{number}-secret-for-local-use-only",
        project_id=hashlib.md5(f"bench-project-{number}".encode(), usedforsecurity=False).hexdigest(),
        region=region,
        project_name=f"{region}_bench{number}",
    )
