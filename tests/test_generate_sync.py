"""scripts/_unasync.py: the rules that write the sync SDK from the asyncio one."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).parents[1] / "scripts" / "_unasync.py"


@pytest.fixture(scope="module")
def unasync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_unasync", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("line", "sync"),
    [
        ("class AsyncHumanLayer(ClientBase):", "class HumanLayer(ClientBase):"),
        ("    async def aclose(self) -> None:", "    def close(self) -> None:"),
        (
            "        raw = await self._connections.client().request(",
            "        raw = self._connections.client().request(",
        ),
        ("    async with lock:", "    with lock:"),
        ("    async def __aenter__(self) -> Self:", "    def __enter__(self) -> Self:"),
        (
            "        http_client: httpx.AsyncClient | None = None,",
            "        http_client: httpx.Client | None = None,",
        ),
        (
            "        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,",
            "        sleep: Callable[[float], object] = time.sleep,",
        ),
        (
            "            v = await asyncio.to_thread(_terminal.ask, self.run_id, name)",
            "            v = _terminal.ask(self.run_id, name)",
        ),
        (
            "from foureyes._async.connections import AsyncConnections",
            "from foureyes._sync.connections import Connections",
        ),
        ("        if target.is_async:  # sync:", None),
        ("        return await result if x else result  # sync: return result", "        return result"),
        # asyncio names that are not twins stay as they are
        ("    loop = asyncio.get_running_loop()", "    loop = asyncio.get_running_loop()"),
        ("    await_completion(item)", "    await_completion(item)"),
    ],
)
def test_each_rule(unasync: ModuleType, line: str, sync: str | None) -> None:
    assert unasync.unasync_line(line) == sync


def test_the_committed_sync_sdk_is_what_the_script_writes(unasync: ModuleType) -> None:
    for source in sorted(unasync.SOURCE.glob("*.py")):
        if source.name not in unasync.HAND_WRITTEN:
            target = unasync.TARGET / source.name
            assert target.read_text() == unasync.generate(source), (
                f"stale: run scripts/generate_sync ({target})"
            )
