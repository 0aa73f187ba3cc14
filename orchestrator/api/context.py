"""What every handler of the API reaches through its request: settings, the store, the keys and the
named triggers (a triggers file that cannot be used raises :class:`TriggerError` here: no server starts)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from orchestrator.api.auth import KeyBook
from orchestrator.api.request_budgets import RequestBudgets
from orchestrator.api.triggers import TriggerBook
from orchestrator.config import Settings
from orchestrator.store import Store


@dataclass
class ApiContext:
    settings: Settings
    store: Store
    keys: KeyBook = field(init=False)
    triggers: TriggerBook = field(init=False)
    hook_budgets: RequestBudgets = field(init=False)  # per trigger name

    def __post_init__(self) -> None:
        api = self.settings.api
        self.keys = KeyBook(self.store, api)
        self.hook_budgets = RequestBudgets(self.store, "api-hook", api.hook_rate, api.hook_burst)
        self.triggers = TriggerBook(self.settings.api.triggers_file)


CONTEXT = web.AppKey("context", ApiContext)


def context_of(request: web.Request) -> ApiContext:
    return request.app[CONTEXT]
