"""Which data version is published, known in process: no engine round trip per request.

Every request reads the published version once and answers wholly from it (never a mix). The
version is the pointer ``loaders/publish.py`` keeps in ``<database>.load_history``; asking the
engine for it costs four statements (5–7 ms, as long as a small question's own SQL), so the
process keeps it in a :class:`VersionClock` and learns of a change from a cheap signal instead:

* **Embedded engine** (chDB): this process is the only writer, and every write goes through its
  one :class:`~crosstrack.engine.Engine`, whose write counter (``Engine.writes``) moves before and
  after each. While the counter stands still the version read earlier is exact; a load run in
  this process moves it, and the next request reads the pointer once. When the process owns
  publishing (``crosstrack serve`` takes loads itself, ``api/live.py``), the publish path hands
  the new version to the clock (:meth:`VersionClock.switch`) and nothing is ever re-read.
* **ClickHouse server**: anyone may publish, so a background thread reads the pointer every
  ``CROSSTRACK_VERSION_POLL_S`` (1 s); requests take the last value read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Generic, TypeVar

from crosstrack.config import Settings
from crosstrack.engine import Engine
from crosstrack.loaders.publish import current_version

T = TypeVar("T")


@dataclass(frozen=True)
class DataVersion:
    version_id: str
    database: str
    loaded_at: datetime | None

    @property
    def loaded_at_iso(self) -> str | None:
        return self.loaded_at.isoformat() if self.loaded_at else None


def data_version(published: Any) -> DataVersion:
    """A :class:`DataVersion` of a ``loaders.publish.PublishedVersion``."""
    return DataVersion(str(published.version_id), published.database, published.loaded_at)


class EngineRef:
    """The process's engine, opened on first use (the API starts, and answers 503, while the
    engine is down); shared by the service and its version clock."""

    def __init__(self, settings: Settings, engine: Engine | None = None):
        self.settings = settings
        self._engine = engine
        self._lock = threading.Lock()

    def get(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = Engine.from_settings(self.settings)  # raises EngineUnavailable
            return self._engine

    def writes(self) -> int | None:
        """The embedded engine's write count once it is open; None before, and on a server
        (which anyone can write)."""
        engine = self._engine
        return engine.writes if engine is not None and engine.embedded else None


def published_version(engine: Engine, settings: Settings) -> DataVersion | None:
    """Read the published-version pointer from the engine (four statements)."""
    pv = current_version(engine, settings)
    return data_version(pv) if pv is not None else None


class VersionClock(Generic[T]):
    """The current data version, exact for every caller, looked up only when it may have changed.

    ``generation`` is a counter that moves whenever anything could have published (None:
    unknown). When it has not moved since the last look-up *started*, that look-up's answer is
    still exact and :meth:`current` returns it at once. Otherwise a caller needs a look-up that
    started after it arrived (so a version published before the request began is always seen);
    callers that arrive together share one. After :meth:`own` (this process publishes, through
    :meth:`switch`) or :meth:`poll_every` (a background thread reads it) the value read last
    holds until replaced, whatever the counter does.

    ``on_change`` runs with a new version before any caller is handed it (the result cache
    drops the old version's entries first).
    """

    def __init__(self, fetch: Callable[[], T], *, on_change: Callable[[T], None] | None = None,
                 key: Callable[[T], Any] = lambda v: v,
                 generation: Callable[[], int | None] | None = None):
        self._fetch = fetch
        self._generation = generation
        self._value_gen: int | None = None
        self._on_change = on_change
        self._key = key
        self._cond = threading.Condition(threading.Lock())
        self._started = 0  # sequence number of the last look-up started
        self._done = 0  # sequence number of the last look-up finished
        self._running = False
        self._value: T | None = None
        self._failed: tuple[int, BaseException] | None = None
        self._held = False  # own() or poll_every(): the last value holds until replaced
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()
        self.lookups = 0

    def _exact(self) -> bool:
        """Under the lock: the value is known exact without a look-up."""
        if not self._done or self._running:
            return False
        if self._held:
            return True
        return self._value_gen is not None and self._generation is not None and self._generation() == self._value_gen

    def peek(self) -> T | None:
        """The current version when it is known exact without a look-up (what :meth:`current`
        would return at once), else None; never waits and never asks the engine."""
        with self._cond:
            return self._value if self._exact() else None

    def current(self) -> T:
        with self._cond:
            if self._exact():
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
        return self._look_up(mine)

    def _look_up(self, mine: int) -> T:
        try:
            gen = self._generation() if self._generation is not None else None
            value = self._fetch()
            with self._cond:
                changed = self._done == 0 or self._key(value) != self._key(self._value)  # type: ignore[arg-type]
            if changed and self._on_change is not None and value is not None:
                self._on_change(value)
        except BaseException as err:
            with self._cond:
                self._running = False
                self._failed = (mine, err)
                self._cond.notify_all()
            raise
        with self._cond:
            self._value, self._value_gen = value, gen
            self._done = mine
            self._running = False
            self.lookups += 1
            self._cond.notify_all()
        return value

    def refresh(self) -> T:
        """Read the version now (the poller's tick), whatever is known."""
        with self._cond:
            while self._running:
                self._cond.wait()
            self._running = True
            self._started += 1
            mine = self._started
        return self._look_up(mine)

    # --- the publish path and the poller --------------------------------------------------------
    def own(self) -> None:
        """This process publishes every new version through :meth:`switch` (online publish on the
        embedded engine): the value read once holds; a load's own writes do not force look-ups."""
        with self._cond:
            self._held = True

    def switch(self, value: T) -> None:
        """Make ``value`` the published version for every caller from now on."""
        with self._cond:
            while self._running:
                self._cond.wait()
            changed = self._done == 0 or self._key(value) != self._key(self._value)  # type: ignore[arg-type]
        if changed and self._on_change is not None and value is not None:
            self._on_change(value)
        with self._cond:
            self._started += 1
            self._done = self._started
            self._value = value
            self._value_gen = self._generation() if self._generation is not None else None
            self._cond.notify_all()

    def poll_every(self, interval_s: float) -> None:
        """Read the version every ``interval_s`` in a daemon thread (a ClickHouse server, which any
        process may publish to); callers take the value read last and never wait for the engine,
        except the very first, which reads it itself."""
        with self._cond:
            if self._poller is not None:
                return
            self._held = True
            self._poller = threading.Thread(target=self._poll, args=(interval_s,), name="crosstrack-version-poll",
                                            daemon=True)
        self._poller.start()

    def _poll(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - engine down: keep the last version, try again next tick
                continue

    def stop(self) -> None:
        self._stop.set()


def version_clock(settings: Settings, engine: EngineRef, on_change: Callable[[DataVersion], None]) -> VersionClock:
    """The clock a serving process uses: the engine's write counter on the embedded engine, a
    one-second poll (``CROSSTRACK_VERSION_POLL_S``) on a server."""
    clock: VersionClock = VersionClock(lambda: published_version(engine.get(), settings), on_change=on_change,
                                       key=lambda v: v.version_id if v is not None else None,
                                       generation=engine.writes)
    if not settings.is_embedded:
        clock.poll_every(settings.version_poll_s)
    return clock
