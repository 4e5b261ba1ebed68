"""The one place that talks to ClickHouse (through clickhouse-connect).

``chdb://...`` opens the embedded engine in this process; ``http(s)://host:8123`` a server.
chDB belongs to one process and one path: a second process cannot open the same directory,
and one process cannot open two paths. The API therefore runs as a single process with
threads on the embedded engine; on a server, any number of workers may connect.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError
from sqlglot import exp

from crosstrack.config import Settings
from crosstrack.sql import DIALECT


class EngineUnavailable(RuntimeError):
    """The engine could not be reached; the message is safe to show to a user."""


class EngineBusy(EngineUnavailable):
    """Every engine connection is busy and the wait queue is full (or the wait ran out): the
    request is refused at once (503 with Retry-After) rather than queued without bound."""

    def __init__(self, message: str, retry_after_s: int = 1):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class QueryLimitExceeded(RuntimeError):
    """A query hit max_execution_time, max_memory_usage or max_result_rows."""


class EngineError(RuntimeError):
    """Any other engine failure (carries the ClickHouse error code when known)."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


# For a load that runs inside the serving process (online publish, crosstrack/control.py): one
# engine thread per statement, so the load leaves the other cores to the readers. Not a lower OS
# priority (os_thread_priority): a niced thread that holds the GIL when the machine is busy is
# descheduled with it, and the event loop serving every reader waits behind it.
BACKGROUND_SETTINGS: dict[str, Any] = {"max_threads": 1}
# Default read connections per core. A read holds its connection while clickhouse-connect turns
# the statement's bytes into rows (Python, under the GIL) and while its thread waits for the GIL
# to start; with one connection per core that core idles meanwhile. Two per core kept the cores
# 85 % busy under 8 clients asking distinct questions, against 78 % with one (bench_concurrency).
CONNECTIONS_PER_CORE = 2

# ClickHouse error codes that mean "this query was too expensive", not "the engine is broken".
_LIMIT_CODES = {159, 241, 396, 158, 160, 307}


@dataclass(frozen=True)
class Rows:
    columns: tuple[str, ...]
    rows: list[tuple]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r)) for r in self.rows]


def render(sql: str | exp.Expression) -> str:
    return sql.sql(dialect=DIALECT) if isinstance(sql, exp.Expression) else sql


_READ_PREFIXES = ("select", "with", "show", "describe", "desc", "exists", "explain", "(")


def _may_write(sql: str | exp.Expression) -> bool:
    if isinstance(sql, exp.Expression):
        return not isinstance(sql, exp.Query)
    return not sql.lstrip().lower().startswith(_READ_PREFIXES)


class ReadPool:
    """Admission for read statements: at most ``size`` run at once, at most ``queue`` wait, and
    none waits longer than ``timeout_s`` (then :class:`EngineBusy`).

    On the embedded engine each admitted read gets a chDB connection of its own (one connection
    runs one statement at a time; several connections to the one engine of the process run side
    by side), opened on first need. Each read is given ``max_threads`` = cores / reads running
    (at least 1), so a question alone uses every core and concurrent ones split them instead of
    each starting one engine thread per core and fighting over them.
    """

    def __init__(self, size: int, queue: int, timeout_s: float, cores: int, open_client=None):
        self.size = max(1, size)
        self.queue = max(0, queue)
        self.timeout_s = timeout_s
        self.cores = max(1, cores)
        self._open_client = open_client  # None: one thread-safe client (ClickHouse server over HTTP)
        self._idle: list[Any] = []
        self._opened = 0
        self._active = 0
        self._queue: deque[list[bool]] = deque()  # waiting reads, oldest first
        self._cond = threading.Condition(threading.Lock())
        self.refused = 0

    @property
    def active(self) -> int:
        return self._active

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @contextmanager
    def slot(self, *, bounded: bool = True):
        """(client or None, max_threads) for one read; ``bounded=False`` (loads) waits without limit.

        First come, first served: a freed connection is handed to the longest waiter, so a read
        that keeps coming back cannot overtake one that waits (and push it past the timeout)."""
        deadline = time.monotonic() + self.timeout_s
        with self._cond:
            if self._active < self.size and not self._queue:
                self._active += 1
            else:
                if bounded and len(self._queue) >= self.queue:
                    self.refused += 1
                    raise EngineBusy("every engine connection is busy and the queue is full; try again shortly")
                ticket = [False]  # set by the releasing read: the slot is ours (active already counted)
                self._queue.append(ticket)
                while not ticket[0]:
                    left = deadline - time.monotonic()
                    if bounded and left <= 0:
                        self._queue.remove(ticket)
                        self.refused += 1
                        raise EngineBusy("the engine was busy for too long; try again shortly")
                    self._cond.wait(left if bounded else None)
            threads = max(1, self.cores // self._active)
            client = self._idle.pop() if self._idle else None
            must_open = client is None and self._open_client is not None
        try:
            if must_open:
                client = self._open_client()
                with self._cond:
                    self._opened += 1
        except BaseException:
            self._release(None)
            raise
        try:
            yield client, threads
        finally:
            self._release(client)

    def _release(self, client: Any) -> None:
        with self._cond:
            if client is not None:
                self._idle.append(client)
            if self._queue:
                self._queue.popleft()[0] = True  # handed over: _active stays
                self._cond.notify_all()
            else:
                self._active -= 1

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
        for client in idle:
            client.close()


def _error_code(err: BaseException) -> int | None:
    m = re.search(r"Code: (\d+)", str(err))
    return int(m.group(1)) if m else None


class Engine:
    """A thin, thread-safe wrapper over one clickhouse-connect client."""

    _embedded_lock = threading.Lock()
    _embedded: dict[str, "Engine"] = {}
    _local = threading.local()  # per thread: settings added to every statement (background())

    def __init__(self, url: str, *, user: str = "default", password: str = "", database: str = "default",
                 connections: int = 0, queue: int = 64, queue_timeout_s: float = 10.0):
        self.url = url
        self.database = database
        self.embedded = url.startswith("chdb://")
        self._writes = 0
        self._writes_lock = threading.Lock()
        self._lock = threading.RLock()
        try:
            if self.embedded:
                self._client = clickhouse_connect.get_client(dsn=url)
            else:
                parsed = urlparse(url)
                self._client = clickhouse_connect.get_client(
                    host=parsed.hostname,
                    port=parsed.port or (8443 if parsed.scheme == "https" else 8123),
                    secure=parsed.scheme == "https",
                    username=user,
                    password=password,
                    connect_timeout=5,
                    send_receive_timeout=300,
                    autogenerate_session_id=False,
                )
        except Exception as err:  # noqa: BLE001 - any failure to open is "unavailable" to callers
            raise EngineUnavailable(f"ClickHouse at {_safe_url(url)} is unavailable: {type(err).__name__}") from err
        cores = os.cpu_count() or 1
        # Reads get their own connections on the embedded engine; writes keep the first client.
        self.reads = ReadPool(connections or CONNECTIONS_PER_CORE * cores, queue, queue_timeout_s, cores,
                              (lambda: clickhouse_connect.get_client(dsn=url)) if self.embedded else None)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Engine":
        url = settings.engine_url
        if url.startswith("chdb://"):
            # One embedded engine per process: every caller shares it.
            with cls._embedded_lock:
                existing = cls._embedded.get(url)
                if existing is None:
                    if url != "chdb://memory":
                        Path(urlparse(url).path).mkdir(parents=True, exist_ok=True)
                    existing = cls(url, database=settings.database, connections=settings.engine_connections,
                                   queue=settings.engine_queue, queue_timeout_s=settings.engine_queue_timeout_s)
                    cls._embedded[url] = existing
                return existing
        return cls(url, user=settings.clickhouse_user, password=settings.clickhouse_password, database=settings.database,
                   connections=settings.engine_connections, queue=settings.engine_queue,
                   queue_timeout_s=settings.engine_queue_timeout_s)

    @property
    def writes(self) -> int:
        """Moves before and after every statement that may write through this engine.

        On the embedded engine only this process can publish, so while this number stands still
        a version looked up earlier is still the current one (the API's cache relies on it).
        """
        return self._writes

    def _bump_writes(self) -> None:
        with self._writes_lock:
            self._writes += 1

    @contextmanager
    def background(self, settings: dict[str, Any] | None = None):
        """Within this block, every statement this thread runs gets ``settings`` (default
        :data:`BACKGROUND_SETTINGS`) unless the statement sets them itself."""
        previous = getattr(self._local, "settings", None)
        self._local.settings = dict(BACKGROUND_SETTINGS if settings is None else settings)
        try:
            yield self
        finally:
            self._local.settings = previous

    def _settings(self, settings: dict[str, Any] | None) -> dict[str, Any] | None:
        extra = getattr(self._local, "settings", None)
        if not extra:
            return settings or None
        return {**extra, **(settings or {})}

    # --- execution -------------------------------------------------------------------------
    def _run_write(self, fn, *args, **kwargs):
        self._bump_writes()
        try:
            return self._run(fn, *args, **kwargs)
        finally:
            self._bump_writes()

    def _run(self, fn, *args, **kwargs):
        try:
            with self._lock if self.embedded else nullcontext():
                return fn(*args, **kwargs)
        except (OperationalError,) as err:
            raise EngineUnavailable(f"ClickHouse at {_safe_url(self.url)} is unavailable") from err
        except (DatabaseError, ClickHouseError) as err:
            raise _engine_error(err) from err

    def _read(self, method: str, sql: str | exp.Expression, parameters: dict[str, Any] | None,
              settings: dict[str, Any] | None) -> Any:
        """A read statement on a pooled connection (see :class:`ReadPool`)."""
        merged = self._settings(settings)
        with self.reads.slot(bounded=not getattr(self._local, "settings", None)) as (client, threads):
            merged = {"max_threads": threads, **(merged or {})}
            fn = getattr(client if client is not None else self._client, method)
            try:
                return fn(render(sql), parameters=parameters or None, settings=merged)
            except OperationalError as err:
                raise EngineUnavailable(f"ClickHouse at {_safe_url(self.url)} is unavailable") from err
            except (DatabaseError, ClickHouseError) as err:
                raise _engine_error(err) from err

    def query(self, sql: str | exp.Expression, parameters: dict[str, Any] | None = None,
              settings: dict[str, Any] | None = None) -> Rows:
        if _may_write(sql):
            result = self._run_write(self._client.query, render(sql), parameters=parameters or None,
                                     settings=self._settings(settings))
        else:
            result = self._read("query", sql, parameters, settings)
        return Rows(tuple(result.column_names), list(result.result_rows))

    def query_arrow(self, sql: str | exp.Expression, parameters: dict[str, Any] | None = None,
                    settings: dict[str, Any] | None = None) -> pa.Table:
        if _may_write(sql):
            return self._run_write(self._client.query_arrow, render(sql), parameters=parameters or None,
                                   settings=self._settings(settings))
        return self._read("query_arrow", sql, parameters, settings)

    def scalar(self, sql: str | exp.Expression, parameters: dict[str, Any] | None = None) -> Any:
        rows = self.query(sql, parameters).rows
        return rows[0][0] if rows else None

    def command(self, sql: str | exp.Expression, parameters: dict[str, Any] | None = None,
                settings: dict[str, Any] | None = None) -> Any:
        return self._run_write(self._client.command, render(sql), parameters=parameters or None,
                               settings=self._settings(settings))

    def insert_arrow(self, table: str, data: pa.Table, database: str | None = None) -> None:
        extra = self._settings(None)
        if extra:
            self._run_write(self._client.insert_arrow, table, data, database=database, settings=extra)
        else:
            self._run_write(self._client.insert_arrow, table, data, database=database)

    def ping(self) -> bool:
        try:
            return bool(self._run(self._client.ping))
        except Exception:  # noqa: BLE001
            return False

    def close(self) -> None:
        self.reads.close()
        if not self.embedded:
            self._client.close()


def _engine_error(err: BaseException) -> RuntimeError:
    code = _error_code(err)
    if code in _LIMIT_CODES:
        return QueryLimitExceeded(_limit_message(code))
    return EngineError(str(err).split("\n")[0][:500], code)


def _safe_url(url: str) -> str:
    p = urlparse(url)
    if p.scheme == "chdb":
        return "chdb (embedded)"
    return f"{p.scheme}://{p.hostname}:{p.port or 8123}"


def _limit_message(code: int | None) -> str:
    return {
        159: "the query took longer than the configured time limit",
        241: "the query needed more memory than the configured limit",
        158: "the query result had more rows than the configured limit",
        396: "the query result had more rows than the configured limit",
    }.get(code or 0, "the query exceeded a configured engine limit")


def query_limits(settings: Settings) -> dict[str, Any]:
    """Engine-side limits applied to every user-driven query."""
    return {
        "max_execution_time": settings.query_timeout_s,
        "max_memory_usage": settings.query_max_memory,
        "max_result_rows": settings.query_max_result_rows,
        "result_overflow_mode": "throw",
    }
