"""The threads that compute answers off the event loop.

A question that is not served from the cache runs the engine (chDB releases the GIL) and the
disclosure step in a worker thread, handed over with ``asyncio``'s own executor rather than
Starlette's ``run_in_threadpool`` (anyio's capacity limiter, run-vars and cancel scopes, none of
which an answer needs). Alternated runs of the fuzz showed no measurable difference either way
(issue 18): the cold path's cost lies elsewhere. How many answers may wait for the engine is
bounded by the engine's read queue (503 with Retry-After beyond it, crosstrack/engine.py), not here.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

T = TypeVar("T")

# As many as Starlette's default thread limit, so no request waits here before the engine queue.
MAX_WORKERS = 40
_pool = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="crosstrack-answer")


async def in_worker(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker thread, awaited from the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_pool, functools.partial(fn, *args, **kwargs))
