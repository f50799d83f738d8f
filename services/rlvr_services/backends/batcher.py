"""Micro-batching on the event loop: callers await one result each, the backend sees batches.

A batch closes when it is full or ``linger_s`` after its first item; at most ``concurrency``
batches run at once (1 for a model in this process, more for a server). A caller that stops
waiting (its deadline) leaves its item to be computed and dropped, never blocking the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class MicroBatcher(Generic[In, Out]):
    def __init__(
        self,
        run: Callable[[list[In]], Awaitable[Sequence[Out | BaseException]]],
        *,
        max_size: int,
        linger_s: float,
        concurrency: int = 1,
    ) -> None:
        self.run = run
        self.max_size = max_size
        self.linger_s = linger_s
        self.slots = asyncio.Semaphore(concurrency)
        self.pending: list[tuple[In, asyncio.Future[Out]]] = []
        self.wake = asyncio.Event()
        self.collector: asyncio.Task[None] | None = None
        self.running: set[asyncio.Task[None]] = set()
        self.batches = 0

    async def submit(self, item: In) -> Out:
        if self.collector is None:
            self.collector = asyncio.create_task(self._collect(), name="rlvr-batcher")
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self.pending.append((item, future))
        self.wake.set()
        return await future

    async def _collect(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            if not self.pending:
                continue
            await self.slots.acquire()  # while every slot is busy, more items gather into the next batch
            if len(self.pending) < self.max_size and self.linger_s > 0:
                await asyncio.sleep(self.linger_s)
            batch, self.pending = self.pending[: self.max_size], self.pending[self.max_size :]
            live = [(item, fut) for item, fut in batch if not fut.done()]  # drop callers that gave up
            if self.pending:
                self.wake.set()
            if not live:
                self.slots.release()
                continue
            task = asyncio.create_task(self._run(live))
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    async def _run(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        self.batches += 1
        try:
            results: Sequence[Out | BaseException] = await self.run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} got {len(results)} results")
        except Exception as exc:  # noqa: BLE001 - every caller of the batch gets the failure
            results = [exc] * len(batch)
        finally:
            self.slots.release()
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def aclose(self) -> None:
        tasks = [t for t in (self.collector, *self.running) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _, future in self.pending:
            if not future.done():
                future.cancel()
        self.pending = []
