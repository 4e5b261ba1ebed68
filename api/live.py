"""Online publish on the embedded engine: the serving process owns the published-version pointer.

chDB belongs to one process, so while ``crosstrack serve`` runs no other process can load. The
server therefore takes loads itself (``crosstrack/control.py`` hands them over a same-user local
socket) and, being the only writer, keeps the published version in memory:

1. the load builds and checks ``<database>_v<N>`` beside the published one and inserts its
   ``load_history`` row (durable: a restart would serve it);
2. :meth:`LivePublisher.switch` answers the most asked questions on it (result cache and the URL
   API's rendered bodies, ``CROSSTRACK_WARM_QUESTIONS``) while readers still read the old one;
3. then one assignment under a lock moves every surface to it. Each request reads the version
   once and answers wholly from it, so an answer always matches the version it names.

Readers never query ``load_history`` while this is installed, so a long load statement cannot
hold a request back on the engine.
"""

from __future__ import annotations

import threading
from typing import Any

from crosstrack.api.service import DataVersion


class LivePublisher:
    def __init__(self, service: Any):
        self.service = service
        self.settings = service.settings
        self._lock = threading.Lock()
        self.publishing = threading.Lock()  # one load or rollback at a time
        self._current: Any = None
        self._loaded = False
        self.generation = 0  # moves on every switch (the version clock's exactness check, api/cache.py)

    def current(self) -> Any:
        """The published version (a loaders.publish.PublishedVersion) or None before the first load."""
        with self._lock:
            if not self._loaded:
                from crosstrack.loaders.publish import current_version

                self._current = current_version(self.service.engine, self.settings)
                self._loaded = True
            return self._current

    def switch(self, version: Any) -> int:
        """Warm the cache with ``version``'s answers, then make it the published one; returns how
        many questions were answered ahead."""
        dv = DataVersion(str(version.version_id), version.database, getattr(version, "loaded_at", None))
        cache = getattr(self.service, "cache", None)
        if hasattr(cache, "prepare"):
            cache.prepare(dv.version_id)
        warmed = self.service.warm(dv, self.settings.warm_questions) if self.settings.warm_questions else 0
        with self._lock:
            self._current = version
            self._loaded = True
            self.generation += 1
        # Look the new version up once now, from this thread: the version clock (api/cache.py)
        # then knows it exactly again, so readers keep the event-loop fast path across the switch
        # instead of all taking the thread pool at once to find out.
        self.service.version()
        return warmed


def install_publisher(service: Any) -> LivePublisher:
    """Make ``service`` read the published version from an in-process :class:`LivePublisher`."""
    publisher = getattr(service, "publisher", None)
    if isinstance(publisher, LivePublisher):
        return publisher
    publisher = LivePublisher(service)
    service._version_provider = publisher.current
    service.publisher = publisher
    return publisher
