"""The result cache: published answers kept in memory, keyed by question and data version.

High-volume consumers ask the same few questions; each answer is a pure function of the
canonical question and the published data version (disclosure control is deterministic: the
cell-key noise depends only on the cell's people), so it can be kept and served again.

* **One cache per process, shared by every surface.** ``Service.answer`` — the single path the
  URL API, the Cube-compatible endpoint, the SQL surface and the page take — looks results up
  here under ``(data version, canonical question)``; the URL API also keeps the rendered JSON
  bytes and their ETag here under ``(data version, canonical URL, output shape)`` and serves them
  without rendering again. Only already-protected rows are ever stored (P1: nothing raw).
* **Bounded.** Entries are charged their approximate size in bytes (``CROSSTRACK_CACHE_BYTES``);
  least recently used entries go first; an entry larger than a quarter of the budget is not kept.
  ``cache_bytes = 0`` turns caching off.
* **No stale answer after a swap.** The data version is part of every key, so a new published
  version makes old entries unreachable; the first time the process sees a new version it drops
  every entry of the old one, and late writes for an old version are refused. The version itself
  comes from :class:`VersionClock`, which asks the engine for every request but lets requests
  that arrive together share one look-up that started after they arrived — exact, and cheap
  under load.
* **Thread-safe.** The embedded engine serves from one process with threads; one lock guards the
  LRU, and concurrent misses for one key compute it once (single flight).
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Hashable, TypeVar

T = TypeVar("T")

# Fixed charge per entry for the key, the OrderedDict slot and bookkeeping.
ENTRY_OVERHEAD = 256
# One entry may use at most this share of the budget, so one huge answer cannot flush the rest.
MAX_ENTRY_SHARE = 0.25


@dataclass(frozen=True)
class RenderedBody:
    """A rendered response body (JSON bytes) with what is needed to serve it again."""

    body: bytes
    media_type: str
    etag: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    stores: int = 0
    evictions: int = 0
    refused: int = 0
    invalidations: int = 0
    entries: int = 0
    bytes: int = 0
    max_bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def approx_size(obj: Any) -> int:
    """Approximate memory of a result (rows of dicts of str/number/None), counting shared objects once."""
    seen: set[int] = set()
    total = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        elif hasattr(o, "__dict__") and not isinstance(o, type):
            stack.append(vars(o))
        elif hasattr(o, "__slots__"):
            stack.extend(getattr(o, s) for s in o.__slots__ if hasattr(o, s))
    return total


def version_of(key: Hashable) -> str | None:
    """Keys are tuples whose first element is the data version id."""
    if isinstance(key, tuple) and key:
        return str(key[0])
    return None


class _Flight:
    __slots__ = ("event", "value", "error")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class ResultCache:
    """A byte-bounded, thread-safe LRU keyed by tuples ``(data_version_id, ...)``.

    Implements ``api.service.ResultCache`` (``get``/``put`` of the full protected result of a
    question) and, for the URL API, ``get_rendered``/``put_rendered`` of response bytes.
    """

    def __init__(self, max_bytes: int, *, sizeof: Callable[[Any], int] = approx_size):
        self.max_bytes = max(0, int(max_bytes))
        self._sizeof = sizeof
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._current: str | None = None  # the newest data version this process has seen
        self._next: str | None = None  # a version being warmed before readers switch to it (prepare)
        self._flights: dict[Hashable, _Flight] = {}
        self.stats = CacheStats(max_bytes=self.max_bytes)

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    # --- versions -----------------------------------------------------------------------------
    def observe_version(self, version_id: str) -> None:
        """The process saw ``version_id`` published: drop every entry of any other version."""
        version_id = str(version_id)
        with self._lock:
            if self._current == version_id:
                return
            self._current = version_id
            if self._next == version_id:
                self._next = None
            stale = [k for k in self._entries if version_of(k) != version_id]
            for k in stale:
                _, size = self._entries.pop(k)
                self._bytes -= size
            if stale:
                self.stats.invalidations += len(stale)
            self._sync_stats()

    def prepare(self, version_id: str) -> None:
        """Accept entries of ``version_id`` before any reader has seen it (an online publish warms
        the cache with the new version's answers, then switches readers to it)."""
        with self._lock:
            self._next = str(version_id)

    def _usable(self, v: str | None) -> bool:
        return self._current is None or v == self._current or (self._next is not None and v == self._next)

    @property
    def current_version(self) -> str | None:
        return self._current

    # --- the LRU ------------------------------------------------------------------------------
    def get(self, key: Hashable) -> Any | None:
        if not self.enabled:
            return None
        with self._lock:
            item = self._entries.get(key)
            if item is None or not self._usable(version_of(key)):
                self.stats.misses += 1
                return None
            self._entries.move_to_end(key)
            self.stats.hits += 1
            return item[0]

    def put(self, key: Hashable, value: Any, size: int | None = None) -> bool:
        """Store ``value``; False when it was refused (off, too large, or an old version)."""
        if not self.enabled or value is None:
            return False
        size = (self._sizeof(value) if size is None else int(size)) + ENTRY_OVERHEAD
        with self._lock:
            if size > self.max_bytes * MAX_ENTRY_SHARE:
                self.stats.refused += 1
                return False
            v = version_of(key)
            if not self._usable(v):
                # A request that started before a swap finished after it: keep nothing stale.
                self.stats.refused += 1
                return False
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, size)
            self._bytes += size
            self.stats.stores += 1
            while self._bytes > self.max_bytes and self._entries:
                _, (_, s) = self._entries.popitem(last=False)
                self._bytes -= s
                self.stats.evictions += 1
            self._sync_stats()
            return True

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value, or ``compute()`` once for all concurrent callers of one key."""
        hit = self.get(key)
        if hit is not None:
            return hit
        if not self.enabled:
            return compute()
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        assert flight is not None
        if not leader:
            flight.event.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value
        try:
            value = compute()
            flight.value = value
            self.put(key, value)
            return value
        except BaseException as err:
            flight.error = err
            raise
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.event.set()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self._sync_stats()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def _sync_stats(self) -> None:
        self.stats.entries = len(self._entries)
        self.stats.bytes = self._bytes

    # --- rendered bodies for the URL API ------------------------------------------------------
    def get_rendered(self, version_id: str, canonical_url: str, shape: str) -> RenderedBody | None:
        return self.get((str(version_id), "rendered", shape, canonical_url))

    def put_rendered(self, version_id: str, canonical_url: str, shape: str, body: RenderedBody) -> bool:
        return self.put((str(version_id), "rendered", shape, canonical_url), body,
                        size=len(body.body) + sum(len(a) + len(b) for a, b in body.headers) + 200)


def body_etag(body: bytes) -> str:
    """A strong ETag of the exact bytes served."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


class VersionClock(Generic[T]):
    """The current data version, exact for every caller, with concurrent look-ups shared.

    A caller needs a look-up that *started after it arrived* (so a version published before the
    request began is always seen). If one is already running, the caller waits for it to end
    and then joins the next one; all callers waiting together share that next look-up. One
    client in a loop pays one engine query per request; many concurrent clients pay about one
    per look-up time, whatever their number.

    ``max_age_s > 0`` relaxes this for operators who accept answers up to that many seconds old
    after a publish (off by default).
    """

    def __init__(self, fetch: Callable[[], T], *, on_change: Callable[[T], None] | None = None,
                 key: Callable[[T], Any] = lambda v: v, max_age_s: float = 0.0,
                 generation: Callable[[], int | None] | None = None):
        self._fetch = fetch
        # A counter that moves whenever anything could have published (None: unknown). When it
        # has not moved since the last look-up *started*, that look-up's answer is still exact.
        self._generation = generation
        self._value_gen: int | None = None
        self._on_change = on_change
        self._key = key
        self.max_age_s = max_age_s
        self._cond = threading.Condition(threading.Lock())
        self._started = 0  # sequence number of the last look-up started
        self._done = 0  # sequence number of the last look-up finished
        self._running = False
        self._value: T | None = None
        self._value_at = 0.0
        self._failed: tuple[int, BaseException] | None = None
        self.lookups = 0

    def peek(self) -> T | None:
        """The current version when it is known exact without a look-up (what :meth:`current`
        would return at once), else None; never waits and never asks the engine."""
        with self._cond:
            if self._done and not self._running and self._value_gen is not None and self._generation is not None \
                    and self._generation() == self._value_gen:
                return self._value
            if self.max_age_s > 0 and self._done and time.monotonic() - self._value_at <= self.max_age_s:
                return self._value
        return None

    def current(self) -> T:
        with self._cond:
            if self._done and not self._running and self._value_gen is not None and self._generation is not None \
                    and self._generation() == self._value_gen:
                return self._value  # type: ignore[return-value]
            if self.max_age_s > 0 and self._done and time.monotonic() - self._value_at <= self.max_age_s:
                return self._value  # type: ignore[return-value]
            # The first look-up that starts after now (a running one began before we arrived).
            need = self._started + 1
            while True:
                if self._done >= need:
                    return self._value  # type: ignore[return-value]
                if self._failed is not None and self._failed[0] >= need:
                    raise self._failed[1]
                if not self._running:
                    self._running = True
                    self._started += 1
                    mine = self._started
                    break
                self._cond.wait()
        try:
            gen = self._generation() if self._generation is not None else None
            value = self._fetch()
            with self._cond:
                changed = self._done == 0 or self._key(value) != self._key(self._value)  # type: ignore[arg-type]
            if changed and self._on_change is not None and value is not None:
                # Before anyone is handed the new version, so no entry of the old one is served after.
                self._on_change(value)
        except BaseException as err:
            with self._cond:
                self._running = False
                self._failed = (mine, err)
                self._cond.notify_all()
            raise
        with self._cond:
            self._value = value
            self._value_gen = gen
            self._value_at = time.monotonic()
            self._done = mine
            self._running = False
            self.lookups += 1
            self._cond.notify_all()
        return value


def _engine_writes(engine: Any) -> int | None:
    """The embedded engine's write count (see ``Engine.writes``); None on a ClickHouse server,
    which anyone can write, so every request there looks the version up."""
    if engine is None or not getattr(engine, "embedded", False):
        return None
    return getattr(engine, "writes", None)


@dataclass
class CacheHandle:
    """What :func:`install` wires into a service: the cache and its version clock."""

    cache: ResultCache
    clock: VersionClock | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def install(service: Any, max_bytes: int | None = None, *, max_age_s: float = 0.0) -> CacheHandle:
    """Give ``service`` (an ``api.service.Service``) the process's result cache and version clock.

    ``service.answer`` then keeps full protected results under (data version, canonical
    question), the URL API keeps rendered bodies, and ``service.version()`` goes through the
    clock (exact, shared look-ups); a new published version empties the cache of the old one.
    Installing twice is a no-op.
    """
    handle = getattr(service, "cache_handle", None)
    if isinstance(handle, CacheHandle):
        return handle
    settings = service.settings
    cache = ResultCache(settings.cache_bytes if max_bytes is None else max_bytes)

    def generation() -> int | None:
        # An online publisher (api/live.py) owns the pointer to the published version: it moves
        # only when the publisher switches. Otherwise the engine's write count; only an engine
        # already open is looked at (the service opens it lazily).
        publisher = getattr(service, "publisher", None)
        if publisher is not None:
            return publisher.generation
        return _engine_writes(getattr(service, "_engine", None))

    # The class's version() (the instance attribute set below shadows it for callers).
    clock = VersionClock(lambda: type(service).version(service),
                         on_change=lambda v: cache.observe_version(v.version_id),
                         key=lambda v: v.version_id if v is not None else None, max_age_s=max_age_s,
                         generation=generation)
    service.cache = cache
    service.version = clock.current
    handle = CacheHandle(cache, clock)
    service.cache_handle = handle
    return handle


def known_version(service: Any) -> Any | None:
    """The service's current data version if its clock knows it exactly without a look-up, else None
    (so an event-loop caller can serve a cached body without blocking on the engine)."""
    handle = getattr(service, "cache_handle", None)
    if not isinstance(handle, CacheHandle) or handle.clock is None or not handle.cache.enabled:
        return None
    return handle.clock.peek()


def cached_body(service: Any, version_id: str, canonical_url: str, shape: str) -> RenderedBody | None:
    cache = getattr(service, "cache", None)
    return cache.get_rendered(version_id, canonical_url, shape) if isinstance(cache, ResultCache) else None


def keep_body(service: Any, version_id: str, canonical_url: str, shape: str, body: RenderedBody) -> None:
    cache = getattr(service, "cache", None)
    if isinstance(cache, ResultCache):
        cache.put_rendered(version_id, canonical_url, shape, body)
