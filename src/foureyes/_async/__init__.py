"""The asyncio SDK, written once: `foureyes._sync` is generated from it by ``scripts/generate_sync``.

Only what truly differs between the two is written twice, by hand: ``connections`` (one HTTP
client and push channel per event loop here; a lock, a finalizer and the background loop
thread there).
"""
