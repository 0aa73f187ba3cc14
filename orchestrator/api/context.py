"""What every handler of the API reaches through its request: settings, the store, the keys and the
named triggers (a triggers file that cannot be used raises :class:`TriggerError` here: no server starts)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from orchestrator.api.auth import KeyBook
from orchestrator.api.triggers import TriggerBook
from orchestrator.config import Settings
from orchestrator.store import Store


@dataclass
class ApiContext:
    settings: Settings
    store: Store
    keys: KeyBook = field(init=False)
    triggers: TriggerBook = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyBook(self.store, self.settings.api)
        self.triggers = TriggerBook(self.settings.api.triggers_file)


CONTEXT = web.AppKey("context", ApiContext)


def context_of(request: web.Request) -> ApiContext:
    return request.app[CONTEXT]
