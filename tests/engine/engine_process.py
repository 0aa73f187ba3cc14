"""An engine alone in its own process (no broker), configured from the environment as a worker is.

For tests that need a real process death: with ``CBR_ORCH_CRASH_AT`` set, the engine SIGKILLs itself at
that point. Otherwise it stops once no workflow is unfinished. Usage: ``python engine_process.py OWNER``.
"""

from __future__ import annotations

import asyncio
import sys

from orchestrator.cbr.clients import CbrClients
from orchestrator.config import Settings
from orchestrator.engine import CbrActions, Engine
from orchestrator.polling.poller import Poller
from orchestrator.store import Store


async def main(owner: str) -> None:
    settings = Settings()
    store = await Store.connect(settings.database_url)
    clients = CbrClients(settings)
    stop = asyncio.Event()
    engine = Engine(store, settings, CbrActions(clients, Poller(clients)), owner)
    task = asyncio.create_task(engine.run(stop))
    try:
        await _until_all_finished(store)
    finally:
        stop.set()
        await task
        await clients.close()
        await store.close()


async def _until_all_finished(store: Store) -> None:
    while True:
        if await store.unfinished_count() == 0:
            return
        await asyncio.sleep(0.1)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
