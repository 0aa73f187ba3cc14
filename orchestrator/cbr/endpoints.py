"""Where CBR and IAM live for each region.

By default every region follows the public cloud's pattern (``https://cbr.{region}.myhuaweicloud.com``
and ``https://iam.{region}.myhuaweicloud.com``). Another cloud that serves the same API (Open Telekom
Cloud: ``https://cbr.{region}.otc.t-systems.com``) only needs other patterns; single regions can be
pointed elsewhere with overrides, and :meth:`Endpoints.single` sends every region and IAM to one URL
(the local emulator serves them all).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

CBR_PATTERN = "https://cbr.{region}.myhuaweicloud.com"
IAM_PATTERN = "https://iam.{region}.myhuaweicloud.com"

_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType({region: _checked_url(url) for region, url in mapping.items()})


def _checked_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) base URL: {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"a base URL takes no query or fragment: {url!r}")
    return url.rstrip("/")


def _checked_region(region: str) -> str:
    if not _REGION.match(region):
        raise ValueError(f"not a region id: {region!r}")
    return region


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of CBR and IAM per region (no trailing slash, no path beyond an optional prefix)."""

    cbr_pattern: str = CBR_PATTERN
    iam_pattern: str = IAM_PATTERN
    cbr_overrides: Mapping[str, str] = field(default_factory=dict)
    iam_overrides: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cbr_overrides", _frozen(self.cbr_overrides))
        object.__setattr__(self, "iam_overrides", _frozen(self.iam_overrides))

    @classmethod
    def single(cls, base_url: str) -> Endpoints:
        """Every region's CBR and IAM at one URL, as the emulator serves them."""
        base = _checked_url(base_url)
        return cls(cbr_pattern=base, iam_pattern=base)

    def cbr_url(self, region: str) -> str:
        return self._resolve(region, self.cbr_overrides, self.cbr_pattern)

    def iam_url(self, region: str) -> str:
        return self._resolve(region, self.iam_overrides, self.iam_pattern)

    @staticmethod
    def _resolve(region: str, overrides: Mapping[str, str], pattern: str) -> str:
        _checked_region(region)
        if region in overrides:
            return overrides[region]
        return _checked_url(pattern.replace("{region}", region))


def host_of(base_url: str) -> str:
    """``host[:port]`` exactly as written in the URL: the value of the signed ``Host`` header."""
    return urlsplit(base_url).netloc


def path_prefix_of(base_url: str) -> str:
    """Any path the base URL carries before ``/v3/...`` (normally empty)."""
    return urlsplit(base_url).path.rstrip("/")
