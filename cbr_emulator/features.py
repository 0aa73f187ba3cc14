"""CBR features of a region: the five feature keys the SDK names, derived from the emulator's regions."""

from __future__ import annotations

from typing import Any

from cbr_emulator.context import Call
from cbr_emulator.errors import CbrError


def feature_table(call: Call) -> dict[str, Any]:
    """Every feature of the caller's region: replication goes to each other region the emulator serves."""
    region = call.project.region
    destinations = [other for other in call.world.regions() if other != region]
    return {
        "features.backup_double_az": False,
        "replication.destination_dgw_regions": [],
        "replication.destination_regions": destinations,
        "replication.enable": bool(destinations),
        "replication.source_region": region,
    }


def _page(call: Call, table: dict[str, Any]) -> dict[str, Any]:
    limit = call.query.number("limit", 1000, 1, 1000)
    offset = call.query.number("offset", 0, 0)
    keys = sorted(table)[offset : offset + limit]
    return {key: table[key] for key in keys}


def list_features(call: Call) -> dict[str, Any]:
    return _page(call, feature_table(call))


def show_feature(call: Call) -> dict[str, Any]:
    key = call.path("feature_key")
    table = feature_table(call)
    if key not in table:
        raise CbrError.of("9900", f"Unknown feature_key {key!r}; known keys: {', '.join(sorted(table))}.")
    return _page(call, {key: table[key]})
