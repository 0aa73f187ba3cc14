"""What every handler of the API reaches through its request: settings, the store and the keys."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from orchestrator.api.auth import KeyBook
from orchestrator.config import Settings
from orchestrator.store import Store


@dataclass
class ApiContext:
    settings: Settings
    store: Store
    keys: KeyBook = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyBook(self.store, self.settings.api)


CONTEXT = web.AppKey("context", ApiContext)


def context_of(request: web.Request) -> ApiContext:
    return request.app[CONTEXT]
