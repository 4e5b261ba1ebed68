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
  every entry of the old one (the version clock, ``api/versions.py``, calls
  :meth:`ResultCache.observe_version` before any request is handed the new version), and late
  writes for an old version are refused.
* **Thread-safe, single flight.** The embedded engine serves from one process with threads; one
  lock guards the LRU, and concurrent misses for one key compute it once
  (:meth:`ResultCache.get_or_compute`, what ``Service.answer`` calls) — also with caching off.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Hashable, TypeVar

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


SIZE_SAMPLE = 64  # items walked of a long list; the rest are taken to be like them


def approx_size(obj: Any) -> int:
    """Approximate memory of a result (rows of dicts of str/number/None), counting shared objects once.

    A list longer than ``SIZE_SAMPLE`` items is sized from an even sample of them, scaled up: an
    answer of 100,000 rows is sized in microseconds, not the second a full walk took (issue 17).
    Answer rows are alike (the same keys, values of the same types), so the estimate is close; it
    leans high, since the objects rows share (labels, codes) are counted in every scaled copy."""
    seen: set[int] = set()
    total = 0
    stack: list[tuple[Any, float]] = [(obj, 1.0)]
    while stack:
        o, weight = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        total += int(sys.getsizeof(o) * weight)
        if isinstance(o, dict):
            stack.extend((k, weight) for k in o.keys())
            stack.extend((v, weight) for v in o.values())
        elif isinstance(o, (list, tuple)) and len(o) > SIZE_SAMPLE:
            step = len(o) / SIZE_SAMPLE
            stack.extend((o[int(i * step)], weight * step) for i in range(SIZE_SAMPLE))
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend((x, weight) for x in o)
        elif hasattr(o, "__dict__") and not isinstance(o, type):
            stack.append((vars(o), weight))
        elif hasattr(o, "__slots__"):
            stack.extend((getattr(o, s), weight) for s in o.__slots__ if hasattr(o, s))
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

    Holds the full protected result of each question (``get_or_compute``, ``Service.answer``) and,
    for the URL API, ``get_rendered``/``put_rendered`` of response bytes.
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
